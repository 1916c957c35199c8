package squashfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	lzo "github.com/anchore/go-lzo"
	"github.com/isodiff/isodiff/field"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/mikelolasagasti/xz"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// maxDict bounds the dictionary or window a block's stream may ask for. No
// squashfs block is larger than 1 MiB, and mksquashfs never uses a larger
// dictionary than the block size.
const maxDict = 1 << 20

// errOverflow is returned when a block decompresses to more than it may.
var errOverflow = errors.New("decompressed data larger than the block")

// CompressorOptions is the optional compressor options block that follows
// the superblock when FlagCompressorOptions is set. Only the fields of its
// Compression apply; the zero value means the image has no such block
// (mksquashfs writes one only for non-default settings, and always for lz4).
type CompressorOptions struct {
	Compression Compression // compressor the block belongs to; 0 if absent
	Level       uint32      // gzip, zstd and lzo compression level
	WindowSize  uint16      // gzip window size (log2)
	Strategies  uint16      // gzip strategies, a set of GzipStrategy* bits
	DictSize    uint32      // xz dictionary size in bytes
	Filters     uint32      // xz BCJ filters, a set of XZFilter* bits
	Version     uint32      // lz4 format version (1, legacy)
	LZ4Flags    uint32      // lz4 flags, LZ4HighCompression
	Algorithm   uint32      // lzo algorithm, LZO1X_1 .. LZO1X_999
}

// Compressor option bits and values, as mksquashfs stores them.
const (
	GzipStrategyDefault = 1 << iota
	GzipStrategyFiltered
	GzipStrategyHuffmanOnly
	GzipStrategyRLE
	GzipStrategyFixed
)

const (
	XZFilterX86 = 1 << iota
	XZFilterPowerPC
	XZFilterIA64
	XZFilterARM
	XZFilterARMThumb
	XZFilterSPARC
)

const LZ4HighCompression = 1

const (
	LZO1X_1 = iota
	LZO1X_1_11
	LZO1X_1_12
	LZO1X_1_15
	LZO1X_999
)

var (
	gzipStrategyNames = []string{"default", "filtered", "huffman_only", "run_length_encoded", "fixed"}
	xzFilterNames     = []string{"x86", "powerpc", "ia64", "arm", "armthumb", "sparc"}
	lz4FlagNames      = []string{"hc"}
	lzoAlgorithmNames = []string{"lzo1x_1", "lzo1x_1_11", "lzo1x_1_12", "lzo1x_1_15", "lzo1x_999"}
)

// Fields lists the options of the image's compressor by name ("gzip_level",
// "xz_dict_size", "xz_filters", ...); none when the block is absent.
func (o CompressorOptions) Fields() []field.Field {
	u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
	switch o.Compression {
	case Gzip:
		return []field.Field{
			{Name: "gzip_level", Value: u(o.Level)},
			{Name: "gzip_window_size", Value: u(uint32(o.WindowSize))},
			{Name: "gzip_strategies", Value: bitNames(uint32(o.Strategies), gzipStrategyNames)},
		}
	case XZ:
		return []field.Field{
			{Name: "xz_dict_size", Value: u(o.DictSize)},
			{Name: "xz_filters", Value: bitNames(o.Filters, xzFilterNames)},
		}
	case LZ4:
		return []field.Field{
			{Name: "lz4_version", Value: u(o.Version)},
			{Name: "lz4_flags", Value: bitNames(o.LZ4Flags, lz4FlagNames)},
		}
	case Zstd:
		return []field.Field{{Name: "zstd_level", Value: u(o.Level)}}
	case LZO:
		alg := u(o.Algorithm)
		if int(o.Algorithm) < len(lzoAlgorithmNames) {
			alg = lzoAlgorithmNames[o.Algorithm]
		}
		return []field.Field{{Name: "lzo_algorithm", Value: alg}, {Name: "lzo_level", Value: u(o.Level)}}
	}
	return nil
}

func bitNames(v uint32, names []string) string {
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if rest := v &^ (1<<len(names) - 1); rest != 0 {
		out = append(out, fmt.Sprintf("%#x", rest))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// parseOptions decodes the options block b of compressor c.
func parseOptions(c Compression, b []byte, off int64) (CompressorOptions, error) {
	want := map[Compression]int{Gzip: 8, XZ: 8, LZ4: 8, Zstd: 4, LZO: 8}[c]
	if want == 0 || len(b) != want {
		return CompressorOptions{}, corrupt(off, "compressor options", "%d bytes for %s", len(b), c)
	}
	le := binary.LittleEndian
	o := CompressorOptions{Compression: c}
	switch c {
	case Gzip:
		o.Level, o.WindowSize, o.Strategies = le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:])
	case XZ:
		o.DictSize, o.Filters = le.Uint32(b), le.Uint32(b[4:])
	case LZ4:
		o.Version, o.LZ4Flags = le.Uint32(b), le.Uint32(b[4:])
		if o.Version != 1 {
			return o, newErr(off, "compressor options", fmt.Errorf("%w: lz4 version %d", ErrUnsupported, o.Version))
		}
	case Zstd:
		o.Level = le.Uint32(b)
	case LZO:
		o.Algorithm, o.Level = le.Uint32(b), le.Uint32(b[4:])
	}
	return o, nil
}

// A decompressor decodes one block into dst without growing it and returns
// the number of bytes written. Output that does not fit is an error, so no
// block can make the reader allocate or produce more than len(dst). It is
// safe for concurrent use.
type decompressor interface {
	decode(dst, src []byte) (int, error)
}

func newDecompressor(c Compression) (decompressor, error) {
	switch c {
	case Gzip:
		return &zlibDec{}, nil
	case XZ:
		return &xzDec{}, nil
	case LZMA:
		return lzmaDec{}, nil
	case LZO:
		return lzoDec{}, nil
	case LZ4:
		return lz4Dec{}, nil
	case Zstd:
		d, err := zstd.NewReader(nil,
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(maxDict),
			zstd.WithDecoderMaxWindow(maxDict))
		if err != nil {
			return nil, err
		}
		return zstdDec{d}, nil
	}
	return nil, fmt.Errorf("%w: compression %s", ErrUnsupported, c)
}

// readBounded reads r to its end into dst; more data than fits is
// errOverflow. Reading to the end makes the codecs verify their checksums.
func readBounded(r io.Reader, dst []byte) (int, error) {
	n := 0
	for idle := 0; ; idle++ {
		if idle > 100 {
			return n, io.ErrNoProgress
		}
		if n == len(dst) {
			var one [1]byte
			k, err := r.Read(one[:])
			switch {
			case k > 0:
				return n, errOverflow
			case err == io.EOF:
				return n, nil
			case err != nil:
				return n, err
			}
			continue
		}
		k, err := r.Read(dst[n:])
		if n += k; k > 0 {
			idle = 0
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

type zlibDec struct{ pool sync.Pool }

type zlibState struct {
	src bytes.Reader
	zr  io.ReadCloser
}

func (d *zlibDec) decode(dst, src []byte) (int, error) {
	s, _ := d.pool.Get().(*zlibState)
	if s == nil {
		s = new(zlibState)
	}
	s.src.Reset(src)
	var err error
	if s.zr == nil {
		s.zr, err = zlib.NewReader(&s.src)
	} else {
		err = s.zr.(zlib.Resetter).Reset(&s.src, nil)
	}
	if err != nil {
		return 0, err // a failed reader is not pooled
	}
	n, err := readBounded(s.zr, dst)
	if err == nil {
		d.pool.Put(s)
	}
	return n, err
}

type xzDec struct{ pool sync.Pool }

type xzState struct {
	src bytes.Reader
	xr  *xz.Reader
}

func (d *xzDec) decode(dst, src []byte) (int, error) {
	s, _ := d.pool.Get().(*xzState)
	if s == nil {
		s = new(xzState)
	}
	s.src.Reset(src)
	var err error
	if s.xr == nil {
		s.xr, err = xz.NewReader(&s.src, maxDict)
	} else {
		err = s.xr.Reset(&s.src)
	}
	if err != nil {
		return 0, err
	}
	n, err := readBounded(s.xr, dst)
	d.pool.Put(s) // Reset clears any error state
	return n, err
}

type lzmaDec struct{}

// decode reads the legacy "lzma alone" stream mksquashfs writes: a 13-byte
// header (properties, dictionary size, uncompressed size) and the raw data.
func (lzmaDec) decode(dst, src []byte) (int, error) {
	if len(src) < lzma.HeaderLen {
		return 0, errors.New("lzma: short header")
	}
	if size := int64(binary.LittleEndian.Uint64(src[5:])); size > int64(len(dst)) || size < -1 {
		return 0, errOverflow
	}
	lr, err := lzma.ReaderConfig{DictCap: maxDict}.NewReader(bytes.NewReader(src))
	if err != nil {
		return 0, err
	}
	return readBounded(lr, dst)
}

type lzoDec struct{}

func (lzoDec) decode(dst, src []byte) (int, error) { return lzo.Decompress(src, dst) }

type lz4Dec struct{}

// decode reads a raw lz4 block, as squashfs stores them (no frame header).
func (lz4Dec) decode(dst, src []byte) (int, error) { return lz4.UncompressBlock(src, dst) }

type zstdDec struct{ d *zstd.Decoder }

func (z zstdDec) decode(dst, src []byte) (int, error) {
	out, err := z.d.DecodeAll(src, dst[:0:len(dst)])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			err = errOverflow
		}
		return 0, err
	}
	if len(out) > len(dst) {
		return 0, errOverflow
	}
	if len(out) > 0 && &out[0] != &dst[0] {
		copy(dst, out)
	}
	return len(out), nil
}
