package erofs

import (
	"encoding/binary"
	"strconv"

	"github.com/isodiff/isodiff/field"
)

// ComprConfigs are the compression configurations stored after the
// superblock when FeatureComprCfgs is set: one record per algorithm of
// Superblock.ComprAlgs, in algorithm order, each a 2-byte length and that
// many bytes, 4-byte aligned (the kernel's z_erofs_parse_cfgs). Present has
// bit 1<<alg set for each record read; the fields of the others are zero.
type ComprConfigs struct {
	Present uint16

	LZ4MaxDistance     uint16 // z_erofs_lz4_cfgs.max_distance
	LZ4MaxPclusterBlks uint16 // z_erofs_lz4_cfgs.max_pclusterblks

	LZMADictSize uint32 // z_erofs_lzma_cfgs.dict_size: the MicroLZMA dictionary
	LZMAFormat   uint16 // z_erofs_lzma_cfgs.format: 0 is the only one defined

	DeflateWindowBits uint8 // z_erofs_deflate_cfgs.windowbits (8..15)

	ZstdFormat    uint8 // z_erofs_zstd_cfgs.format: 0 is the only one defined
	ZstdWindowLog uint8 // z_erofs_zstd_cfgs.windowlog: the window's log2 minus 10
}

// Limits the kernel puts on the configurations.
const (
	maxLZMADict   = 8 * maxPcluster // Z_EROFS_LZMA_MAX_DICT_SIZE
	maxZstdWindow = maxPcluster     // Z_EROFS_ZSTD_MAX_DICT_SIZE
	maxConfigLen  = 256             // no record is longer; bounds what an image can make us read
)

// allAlgorithms are the algorithm bits this reader knows.
const allAlgorithms = 1<<LZ4 | 1<<LZMA | 1<<Deflate | 1<<Zstd

// Has reports whether the image recorded a configuration for a.
func (c *ComprConfigs) Has(a Algorithm) bool { return a < 16 && c.Present&(1<<a) != 0 }

// LZMADict returns the dictionary size MicroLZMA pclusters are decoded
// with: the configured one, or the kernel's maximum when none is recorded.
func (c *ComprConfigs) LZMADict() int {
	if c.LZMADictSize == 0 {
		return maxLZMADict
	}
	return int(c.LZMADictSize)
}

func (c *ComprConfigs) fields() []field.Field {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	var f []field.Field
	if c.Has(LZ4) {
		f = append(f, field.Field{Name: "lz4_max_distance", Value: u(uint64(c.LZ4MaxDistance))},
			field.Field{Name: "lz4_max_pclusterblks", Value: u(uint64(c.LZ4MaxPclusterBlks))})
	}
	if c.Has(LZMA) {
		f = append(f, field.Field{Name: "lzma_dict_size", Value: u(uint64(c.LZMADictSize))},
			field.Field{Name: "lzma_format", Value: u(uint64(c.LZMAFormat))})
	}
	if c.Has(Deflate) {
		f = append(f, field.Field{Name: "deflate_windowbits", Value: u(uint64(c.DeflateWindowBits))})
	}
	if c.Has(Zstd) {
		f = append(f, field.Field{Name: "zstd_format", Value: u(uint64(c.ZstdFormat))},
			field.Field{Name: "zstd_windowlog", Value: u(uint64(c.ZstdWindowLog) + 10)})
	}
	return f
}

// readConfigs reads the configuration records after the superblock.
func (r *Reader) readConfigs() error {
	s := &r.Super
	if s.FeatureIncompat&FeatureComprCfgs == 0 {
		return nil
	}
	const what = "compression configurations"
	if s.ComprAlgs&^allAlgorithms != 0 {
		return unsupported(SuperblockOffset+84, "superblock", "compression algorithms %#x", s.ComprAlgs&^allAlgorithms)
	}
	off := int64(SuperblockOffset) + superblockSize + 16*int64(s.SbExtSlots)
	le := binary.LittleEndian
	for a := Algorithm(0); a < 16; a++ {
		if s.ComprAlgs&(1<<a) == 0 {
			continue
		}
		off = align(off, 4)
		var l [2]byte
		if err := r.readAt(l[:], off, what); err != nil {
			return err
		}
		n := int64(le.Uint16(l[:]))
		if n == 0 || n > maxConfigLen {
			return corrupt(off, what, "%v record of %d bytes", a, n)
		}
		b := make([]byte, max(n, 16))
		if err := r.readAt(b[:n], off+2, what); err != nil {
			return err
		}
		at := off
		off += 2 + n
		c := &s.Configs
		c.Present |= 1 << a
		switch a {
		case LZ4:
			c.LZ4MaxDistance, c.LZ4MaxPclusterBlks = le.Uint16(b), le.Uint16(b[2:])
		case LZMA:
			if n < 14 {
				return corrupt(at, what, "lzma record of %d bytes", n)
			}
			c.LZMADictSize, c.LZMAFormat = le.Uint32(b), le.Uint16(b[4:])
			switch {
			case c.LZMAFormat != 0:
				return unsupported(at, what, "lzma format %d", c.LZMAFormat)
			case c.LZMADictSize > maxLZMADict:
				return corrupt(at, what, "lzma dictionary of %d bytes", c.LZMADictSize)
			}
		case Deflate:
			if n < 6 {
				return corrupt(at, what, "deflate record of %d bytes", n)
			}
			c.DeflateWindowBits = b[0]
			if c.DeflateWindowBits > 15 {
				return corrupt(at, what, "deflate window of 2^%d bytes", c.DeflateWindowBits)
			}
		case Zstd:
			if n < 6 {
				return corrupt(at, what, "zstd record of %d bytes", n)
			}
			c.ZstdFormat, c.ZstdWindowLog = b[0], b[1]
			switch {
			case c.ZstdFormat != 0:
				return unsupported(at, what, "zstd format %d", c.ZstdFormat)
			case int(c.ZstdWindowLog)+10 > 20: // maxZstdWindow
				return unsupported(at, what, "zstd window of 2^%d bytes", int(c.ZstdWindowLog)+10)
			}
		}
	}
	return nil
}

// algorithmOK checks that pcluster algorithm a is one the superblock
// declares (as the kernel's z_erofs_map_sanity_check does).
func (r *Reader) algorithmOK(a Algorithm) bool {
	if r.Super.FeatureIncompat&FeatureComprCfgs == 0 {
		return a == LZ4
	}
	return a < 16 && r.Super.ComprAlgs&(1<<a) != 0
}
