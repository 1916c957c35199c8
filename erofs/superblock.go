package erofs

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"github.com/isodiff/isodiff/field"
)

// Magic is the EROFS superblock magic number.
const Magic = 0xE0F5E1E2

// SuperblockOffset is where the superblock starts in the image.
const SuperblockOffset = 1024

const superblockSize = 128

// Compatible feature bits (FeatureCompat).
const (
	FeatureCompatSBChecksum  = 0x1
	FeatureCompatMtime       = 0x2
	FeatureCompatXattrFilter = 0x4
)

// Incompatible feature bits (FeatureIncompat).
const (
	FeatureZeroPadding   = 0x1  // lz4 data right-aligned in its pcluster
	FeatureBigPcluster   = 0x2  // also: compression configurations follow the superblock
	FeatureChunkedFile   = 0x4  // chunk-based files
	FeatureDeviceTable   = 0x8  // also: a second compression algorithm (HEAD2)
	FeatureZtailpacking  = 0x10 // compressed tails inline in the metadata
	FeatureFragments     = 0x20 // also: dedupe
	FeatureXattrPrefixes = 0x40
	Feature48Bit         = 0x80
	FeatureMetabox       = 0x100
)

// supportedIncompat are the incompatible features this reader implements.
const supportedIncompat = FeatureZeroPadding | FeatureBigPcluster | FeatureChunkedFile | FeatureDeviceTable | FeatureZtailpacking | FeatureFragments

// FeatureComprCfgs is FeatureBigPcluster's other meaning: compression
// configurations follow the superblock and ComprAlgs lists the algorithms.
const FeatureComprCfgs = FeatureBigPcluster

// Superblock is the on-disk superblock at offset 1024, field for field
// (the layout of erofs-utils 1.5 to 1.9 without the 48-bit and metabox
// extensions, which this reader refuses).
type Superblock struct {
	Magic            uint32
	Checksum         uint32 // crc32c of the superblock's block from offset 1024, when FeatureCompatSBChecksum
	FeatureCompat    uint32
	BlkSzBits        uint8
	SbExtSlots       uint8
	RootNid          uint16
	Inos             uint64
	BuildTime        uint64 // seconds; also the mtime base of compact inodes
	BuildTimeNsec    uint32
	Blocks           uint32
	MetaBlkAddr      uint32
	XattrBlkAddr     uint32
	UUID             [16]byte
	VolumeName       [16]byte
	FeatureIncompat  uint32
	ComprAlgs        uint16 // available_compr_algs (with FeatureBigPcluster) or lz4_max_distance
	ExtraDevices     uint16
	DevtSlotOff      uint16
	DirBlkBits       uint8
	XattrPrefixCount uint8
	XattrPrefixStart uint32
	PackedNid        uint64

	// Configs are the per-algorithm compression configurations that
	// follow the superblock with FeatureComprCfgs.
	Configs ComprConfigs

	// ChecksumOK reports whether Checksum matched the bytes (always true
	// without FeatureCompatSBChecksum).
	ChecksumOK bool
}

// BlockSize returns the block size in bytes.
func (s *Superblock) BlockSize() int64 { return 1 << s.BlkSzBits }

// MkfsTime returns the build time.
func (s *Superblock) MkfsTime() time.Time {
	return time.Unix(int64(s.BuildTime), int64(s.BuildTimeNsec)).UTC()
}

func parseSuperblock(b []byte) Superblock {
	le := binary.LittleEndian
	s := Superblock{
		Magic:            le.Uint32(b[0:]),
		Checksum:         le.Uint32(b[4:]),
		FeatureCompat:    le.Uint32(b[8:]),
		BlkSzBits:        b[12],
		SbExtSlots:       b[13],
		RootNid:          le.Uint16(b[14:]),
		Inos:             le.Uint64(b[16:]),
		BuildTime:        le.Uint64(b[24:]),
		BuildTimeNsec:    le.Uint32(b[32:]),
		Blocks:           le.Uint32(b[36:]),
		MetaBlkAddr:      le.Uint32(b[40:]),
		XattrBlkAddr:     le.Uint32(b[44:]),
		FeatureIncompat:  le.Uint32(b[80:]),
		ComprAlgs:        le.Uint16(b[84:]),
		ExtraDevices:     le.Uint16(b[86:]),
		DevtSlotOff:      le.Uint16(b[88:]),
		DirBlkBits:       b[90],
		XattrPrefixCount: b[91],
		XattrPrefixStart: le.Uint32(b[92:]),
		PackedNid:        le.Uint64(b[96:]),
	}
	copy(s.UUID[:], b[48:64])
	copy(s.VolumeName[:], b[64:80])
	return s
}

// validate checks the superblock against itself and the image size. blk
// is the superblock's whole block from offset 1024 (for the checksum).
func (s *Superblock) validate(size int64, blk []byte) error {
	const off = SuperblockOffset
	switch {
	case s.Magic != Magic:
		return newErr(off, "superblock", ErrBadMagic)
	case s.BlkSzBits < 9 || s.BlkSzBits > 16:
		return unsupported(off+12, "superblock", "block size 2^%d", s.BlkSzBits)
	case s.FeatureIncompat&^supportedIncompat != 0:
		return unsupported(off+80, "superblock", "incompatible features %#x", s.FeatureIncompat&^supportedIncompat)
	case s.ExtraDevices != 0:
		return unsupported(off+86, "superblock", "%d extra devices", s.ExtraDevices)
	case s.DirBlkBits != 0:
		return unsupported(off+90, "superblock", "directory block bits %d", s.DirBlkBits)
	case int64(superblockSize)+16*int64(s.SbExtSlots) > s.BlockSize()-off && s.BlockSize() > off:
		return corrupt(off+13, "superblock", "%d extension slots do not fit the block", s.SbExtSlots)
	case int64(s.Blocks)<<s.BlkSzBits > size:
		return newErr(off+36, "superblock", errorf(ErrTruncated, "%d blocks of %d bytes, image has %d bytes", s.Blocks, s.BlockSize(), size))
	case s.MetaBlkAddr >= s.Blocks:
		return corrupt(off+40, "superblock", "meta_blkaddr %d beyond %d blocks", s.MetaBlkAddr, s.Blocks)
	}
	s.ChecksumOK = true
	if s.FeatureCompat&FeatureCompatSBChecksum != 0 && len(blk) >= superblockSize {
		c := make([]byte, len(blk))
		copy(c, blk)
		clear(c[4:8])
		s.ChecksumOK = ^crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), c) == s.Checksum
	}
	return nil
}

// Fields lists the superblock for field-by-field comparison.
func (s *Superblock) Fields() []field.Field {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	x := func(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
	f := []field.Field{
		{Name: "magic", Value: x(uint64(s.Magic))},
		{Name: "checksum", Value: x(uint64(s.Checksum))},
		{Name: "feature_compat", Value: x(uint64(s.FeatureCompat))},
		{Name: "block_size", Value: u(uint64(s.BlockSize()))},
		{Name: "sb_extslots", Value: u(uint64(s.SbExtSlots))},
		{Name: "root_nid", Value: u(uint64(s.RootNid))},
		{Name: "inodes", Value: u(s.Inos)},
		{Name: "build_time", Value: s.MkfsTime().Format(time.RFC3339Nano)},
		{Name: "blocks", Value: u(uint64(s.Blocks))},
		{Name: "meta_blkaddr", Value: u(uint64(s.MetaBlkAddr))},
		{Name: "xattr_blkaddr", Value: u(uint64(s.XattrBlkAddr))},
		{Name: "uuid", Value: uuidString(s.UUID)},
		{Name: "volume_name", Value: strings.TrimRight(string(s.VolumeName[:]), "\x00")},
		{Name: "feature_incompat", Value: x(uint64(s.FeatureIncompat))},
		{Name: "compr_algs_or_lz4_max_distance", Value: x(uint64(s.ComprAlgs))},
		{Name: "extra_devices", Value: u(uint64(s.ExtraDevices))},
		{Name: "devt_slotoff", Value: u(uint64(s.DevtSlotOff))},
		{Name: "dirblkbits", Value: u(uint64(s.DirBlkBits))},
		{Name: "xattr_prefix_count", Value: u(uint64(s.XattrPrefixCount))},
		{Name: "xattr_prefix_start", Value: u(uint64(s.XattrPrefixStart))},
		{Name: "packed_nid", Value: u(s.PackedNid)},
	}
	return append(f, s.Configs.fields()...)
}

func uuidString(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
