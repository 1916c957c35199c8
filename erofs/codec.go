package erofs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// errOverflow: a pcluster holds more than the extent says (and the extent
// is not a partial reference).
var errOverflow = errors.New("pcluster decodes to more bytes than its extent")

// decodePcluster decodes the stored pcluster src into dst, whose length is
// the extent's decoded length. With FeatureZeroPadding the encoded bytes
// end the pcluster and zeros pad its first block (skipped here, as the
// kernel's z_erofs_fixup_insize does, within the first block). Unless
// partial, the pcluster must decode to exactly len(dst) bytes and its
// encoded bytes must end where the pcluster ends (lzma) or the stream must
// end there (deflate, zstd); partial (a deduplicated extent referencing the
// start of a longer pcluster) decodes len(dst) bytes and stops. No decoder
// writes or buffers more than len(dst) bytes of output, whatever the stream
// claims, except zstd partial decoding, which needs the frame's window
// (at most maxDecoded bytes).
func (r *Reader) decodePcluster(dst, src []byte, alg Algorithm, partial bool, phys int64) error {
	what := alg.String() + " pcluster"
	if alg == LZ4 && r.Super.FeatureIncompat&FeatureZeroPadding == 0 {
		// Legacy: the encoded bytes start the pcluster, padding follows.
		n, err := decodeLZ4Partial(dst, src)
		if err != nil || n != len(dst) {
			return corrupt(phys, what, "decoded %d bytes of %d: %v", n, len(dst), err)
		}
		return nil
	}
	margin := 0
	for margin < len(src) && margin < int(r.bs) && src[margin] == 0 {
		margin++
	}
	if margin == len(src) || margin == int(r.bs) {
		return corrupt(phys, "pcluster", "first block all zeros")
	}
	in := src[margin:]
	// What a decoder holds besides dst, for this call: lzma's dictionary
	// (no larger than the output), a partial zstd decode's window (1 MiB,
	// or, for a single-segment frame, its content: up to maxDecoded).
	var held int64
	switch {
	case alg == LZMA:
		held = int64(min(max(len(dst), lzma.MinDictCap), r.Super.Configs.LZMADict()))
	case alg == Zstd && partial:
		held = maxDecoded
	}
	if err := r.budget.Charge(held, "erofs "+what+" decoder", phys); err != nil {
		return err
	}
	defer r.budget.Release(held)
	var err error
	switch alg {
	case LZ4:
		err = decodeLZ4(dst, in, partial)
	case LZMA:
		err = decodeMicroLZMA(dst, in, r.Super.Configs.LZMADict(), partial)
	case Deflate:
		err = decodeDeflate(dst, in, partial)
	case Zstd:
		err = decodeZstd(dst, in, partial)
	default:
		return unsupported(phys, "pcluster", "%v compression", alg)
	}
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return err
		}
		return newErr(phys, what, err)
	}
	return nil
}

func decodeLZ4(dst, in []byte, partial bool) error {
	if partial {
		n, err := decodeLZ4Partial(dst, in)
		if err == nil && n != len(dst) {
			err = fmt.Errorf("%w: decoded %d bytes, want %d", ErrCorrupt, n, len(dst))
		}
		return err
	}
	n, err := lz4.UncompressBlock(in, dst)
	if err != nil {
		return err
	}
	if n != len(dst) {
		return fmt.Errorf("%w: decoded %d bytes, want %d", ErrCorrupt, n, len(dst))
	}
	return nil
}

// microLZMA presents a MicroLZMA stream as a classic .lzma stream: a
// 13-byte header (properties, dictionary size, uncompressed size) and the
// range coder's bytes. A MicroLZMA stream is the range coder's output
// without its first byte, which is always zero; in its place stands the
// bitwise NOT of the properties byte. It counts the bytes the decoder
// took, to check that the stream ends where the pcluster does.
type microLZMA struct {
	hdr [lzma.HeaderLen + 1]byte
	h   int
	in  []byte
	i   int
}

func (m *microLZMA) ReadByte() (byte, error) {
	if m.h < len(m.hdr) {
		m.h++
		return m.hdr[m.h-1], nil
	}
	if m.i < len(m.in) {
		m.i++
		return m.in[m.i-1], nil
	}
	return 0, io.EOF
}

func (m *microLZMA) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := m.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = b
		n++
	}
	return n, nil
}

// decodeMicroLZMA decodes the MicroLZMA stream in (the encoded bytes of a
// pcluster, padding removed) into dst, as the kernel's
// decompressor_lzma.c (xz_dec_microlzma_run) does: exactly len(dst) bytes;
// unless partial, the range coder must then be finished (its code zero) and
// every byte of in consumed.
func decodeMicroLZMA(dst, in []byte, dict int, partial bool) error {
	props := ^in[0]
	if props >= 9*5*5 {
		return fmt.Errorf("%w: MicroLZMA properties byte %#x", ErrCorrupt, props)
	}
	if lc, lp := props%9, props/9%5; lc+lp > 4 {
		// The kernel's decoder (xz_dec_lzma2) accepts lc + lp <= 4 only.
		return fmt.Errorf("%w: MicroLZMA lc %d + lp %d > 4", ErrCorrupt, lc, lp)
	}
	m := &microLZMA{in: in, i: 1}
	m.hdr[0] = props
	binary.LittleEndian.PutUint32(m.hdr[1:], uint32(dict))
	// The uncompressed size: the decoder's dictionary is no larger than
	// it, and it stops there.
	binary.LittleEndian.PutUint64(m.hdr[5:], uint64(len(dst)))
	// hdr[13] = 0: the range coder's first byte.
	lr, err := lzma.ReaderConfig{DictCap: max(dict, lzma.MinDictCap)}.NewReader(m)
	if err != nil {
		return err
	}
	n, idle := 0, 0
	for n < len(dst) {
		k, err := lr.Read(dst[n:])
		n += k
		if err == nil {
			continue
		}
		if partial && idle == 0 {
			// The stream goes on past the referenced prefix: the
			// decoder reports a size mismatch (its last match passes
			// len(dst)) but hands out what it decoded on the next read.
			if k == 0 {
				idle++
			}
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: decoded %d bytes of %d: %v", ErrCorrupt, n, len(dst), err)
	}
	if partial {
		return nil
	}
	var one [1]byte
	if k, err := lr.Read(one[:]); k != 0 || err != io.EOF {
		return fmt.Errorf("%w: stream does not end after %d bytes: %v", ErrCorrupt, len(dst), err)
	}
	if m.i != len(m.in) {
		return fmt.Errorf("%w: %d encoded bytes after the stream's end", ErrCorrupt, len(m.in)-m.i)
	}
	return nil
}

var flatePool sync.Pool

// decodeDeflate decodes the raw deflate stream in into dst: exactly
// len(dst) bytes, after which the stream must end unless partial. Bytes
// after the final block are ignored, as libdeflate and the kernel's
// zlib_inflate do.
func decodeDeflate(dst, in []byte, partial bool) error {
	br := bytes.NewReader(in)
	fr, _ := flatePool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(br)
	} else if err := fr.(flate.Resetter).Reset(br, nil); err != nil {
		return err
	}
	defer flatePool.Put(fr)
	if n, err := io.ReadFull(fr, dst); err != nil {
		return fmt.Errorf("%w: decoded %d bytes of %d: %v", ErrCorrupt, n, len(dst), err)
	}
	if partial {
		return nil
	}
	// The stream must end here (a reader may first return nothing while
	// it reads an empty final block).
	var one [1]byte
	for range 100 {
		k, err := fr.Read(one[:])
		switch {
		case k != 0:
			return fmt.Errorf("%w: %v", ErrCorrupt, errOverflow)
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, io.ErrNoProgress)
}

var (
	zstdOnce sync.Once
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdOptions bound a decoder: windows of at most the kernel's 1 MiB,
// output of at most one extent.
func zstdOptions() []zstd.DOption {
	return []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(maxDecoded),
		zstd.WithDecoderMaxWindow(maxZstdWindow),
	}
}

// decodeZstd decodes the zstd frame in into dst: exactly len(dst) bytes,
// DecodeAll limited to dst's capacity, so a frame claiming more fails
// without allocating it. Partial decoding streams the frame and stops
// after len(dst) bytes.
func decodeZstd(dst, in []byte, partial bool) error {
	if partial {
		d, err := zstd.NewReader(bytes.NewReader(in), zstdOptions()...)
		if err != nil {
			return err
		}
		defer d.Close()
		if n, err := io.ReadFull(d, dst); err != nil {
			return fmt.Errorf("%w: decoded %d bytes of %d: %v", ErrCorrupt, n, len(dst), err)
		}
		return nil
	}
	zstdOnce.Do(func() { zstdDec, zstdErr = zstd.NewReader(nil, zstdOptions()...) })
	if zstdErr != nil {
		return zstdErr
	}
	out, err := zstdDec.DecodeAll(in, dst[:0:len(dst)])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			err = errOverflow
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(out) != len(dst) {
		return fmt.Errorf("%w: decoded %d bytes, want %d", ErrCorrupt, len(out), len(dst))
	}
	if len(out) > 0 && &out[0] != &dst[0] {
		copy(dst, out)
	}
	return nil
}
