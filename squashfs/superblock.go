package squashfs

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/isodiff/isodiff/field"
)

// Magic is the squashfs magic number, "hsqs" on disk.
const Magic = 0x73717368

const (
	superblockSize = 96
	noTable        = ^uint64(0) // table start of an absent table
	noFragment     = NoFragment
	noXattr        = ^uint32(0) // xattr index of an inode without xattrs
)

// NoFragment is Entry.Fragment of a file whose tail is not in a fragment.
const NoFragment = ^uint32(0)

// Superblock is the on-disk superblock at offset 0, field for field.
type Superblock struct {
	Magic            uint32
	Inodes           uint32 // inode count
	MkfsTime         uint32 // seconds since the epoch
	BlockSize        uint32
	Fragments        uint32 // fragment table entry count
	Compression      Compression
	BlockLog         uint16
	Flags            Flags
	IDCount          uint16
	VersionMajor     uint16
	VersionMinor     uint16
	RootInode        uint64 // inode reference: block offset << 16 | offset in block
	BytesUsed        uint64
	IDTableStart     uint64
	XattrTableStart  uint64 // xattr id table; ^0 if absent
	InodeTableStart  uint64
	DirTableStart    uint64
	FragTableStart   uint64 // ^0 if absent
	ExportTableStart uint64 // ^0 if absent
}

func parseSuperblock(b []byte) Superblock {
	le := binary.LittleEndian
	return Superblock{
		Magic:            le.Uint32(b[0:]),
		Inodes:           le.Uint32(b[4:]),
		MkfsTime:         le.Uint32(b[8:]),
		BlockSize:        le.Uint32(b[12:]),
		Fragments:        le.Uint32(b[16:]),
		Compression:      Compression(le.Uint16(b[20:])),
		BlockLog:         le.Uint16(b[22:]),
		Flags:            Flags(le.Uint16(b[24:])),
		IDCount:          le.Uint16(b[26:]),
		VersionMajor:     le.Uint16(b[28:]),
		VersionMinor:     le.Uint16(b[30:]),
		RootInode:        le.Uint64(b[32:]),
		BytesUsed:        le.Uint64(b[40:]),
		IDTableStart:     le.Uint64(b[48:]),
		XattrTableStart:  le.Uint64(b[56:]),
		InodeTableStart:  le.Uint64(b[64:]),
		DirTableStart:    le.Uint64(b[72:]),
		FragTableStart:   le.Uint64(b[80:]),
		ExportTableStart: le.Uint64(b[88:]),
	}
}

// validate checks the superblock against itself and the image size.
func (s *Superblock) validate(size int64) error {
	bad := func(format string, args ...any) error {
		return corrupt(0, "superblock", format, args...)
	}
	switch {
	case s.Magic != Magic:
		return newErr(0, "superblock", ErrBadMagic)
	case s.VersionMajor != 4 || s.VersionMinor != 0:
		return newErr(0, "superblock", fmt.Errorf("%w: version %d.%d", ErrUnsupported, s.VersionMajor, s.VersionMinor))
	case s.BlockLog < 12 || s.BlockLog > 20 || s.BlockSize != 1<<s.BlockLog:
		return bad("block size %d with block log %d", s.BlockSize, s.BlockLog)
	case s.Compression < Gzip || s.Compression > Zstd:
		return newErr(0, "superblock", fmt.Errorf("%w: compression id %d", ErrUnsupported, uint16(s.Compression)))
	case s.BytesUsed < superblockSize || s.BytesUsed > uint64(size):
		return bad("bytes_used %d beyond image size %d", s.BytesUsed, size)
	case s.IDCount == 0:
		return bad("id count 0")
	case s.Inodes == 0:
		return bad("inode count 0")
	}
	end := s.BytesUsed
	starts := []struct {
		name     string
		v        uint64
		optional bool
	}{
		{"inode_table_start", s.InodeTableStart, false},
		{"dir_table_start", s.DirTableStart, false},
		{"id_table_start", s.IDTableStart, false},
		{"frag_table_start", s.FragTableStart, true},
		{"export_table_start", s.ExportTableStart, true},
		{"xattr_table_start", s.XattrTableStart, true},
	}
	for _, t := range starts {
		if t.optional && t.v == noTable {
			continue
		}
		if t.v < superblockSize || t.v >= end {
			return bad("%s %d outside the image (bytes_used %d)", t.name, t.v, end)
		}
	}
	if s.InodeTableStart >= s.DirTableStart {
		return bad("inode table start %d not before directory table start %d", s.InodeTableStart, s.DirTableStart)
	}
	if s.RootInode>>16 >= s.DirTableStart-s.InodeTableStart {
		return bad("root inode reference %#x outside the inode table", s.RootInode)
	}
	if s.Fragments > 0 && s.FragTableStart == noTable {
		return bad("%d fragments but no fragment table", s.Fragments)
	}
	return nil
}

// Fields lists every superblock field by snake_case name, rendered for diffs.
func (s *Superblock) Fields() []field.Field {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	table := func(v uint64) string {
		if v == noTable {
			return "none"
		}
		return u(v)
	}
	return []field.Field{
		{Name: "magic", Value: fmt.Sprintf("%#08x", s.Magic)},
		{Name: "inode_count", Value: u(uint64(s.Inodes))},
		{Name: "mkfs_time", Value: fmt.Sprintf("%s (%d)", time.Unix(int64(s.MkfsTime), 0).UTC().Format(time.RFC3339), s.MkfsTime)},
		{Name: "block_size", Value: u(uint64(s.BlockSize))},
		{Name: "fragment_count", Value: u(uint64(s.Fragments))},
		{Name: "compression", Value: s.Compression.String()},
		{Name: "block_log", Value: u(uint64(s.BlockLog))},
		{Name: "flags", Value: s.Flags.String()},
		{Name: "id_count", Value: u(uint64(s.IDCount))},
		{Name: "version_major", Value: u(uint64(s.VersionMajor))},
		{Name: "version_minor", Value: u(uint64(s.VersionMinor))},
		{Name: "root_inode", Value: fmt.Sprintf("%d:%d", s.RootInode>>16, s.RootInode&0xffff)},
		{Name: "bytes_used", Value: u(s.BytesUsed)},
		{Name: "id_table_start", Value: u(s.IDTableStart)},
		{Name: "xattr_table_start", Value: table(s.XattrTableStart)},
		{Name: "inode_table_start", Value: u(s.InodeTableStart)},
		{Name: "dir_table_start", Value: u(s.DirTableStart)},
		{Name: "frag_table_start", Value: table(s.FragTableStart)},
		{Name: "export_table_start", Value: table(s.ExportTableStart)},
	}
}

// Compression is the compressor id of the superblock.
type Compression uint16

// Compressor ids.
const (
	Gzip Compression = 1 + iota
	LZMA
	LZO
	XZ
	LZ4
	Zstd
)

var compressionNames = [...]string{Gzip: "gzip", LZMA: "lzma", LZO: "lzo", XZ: "xz", LZ4: "lz4", Zstd: "zstd"}

func (c Compression) String() string {
	if int(c) < len(compressionNames) && compressionNames[c] != "" {
		return compressionNames[c]
	}
	return fmt.Sprintf("compression(%d)", uint16(c))
}

// Flags is the superblock flags word.
type Flags uint16

// Superblock flags.
const (
	FlagUncompressedInodes    Flags = 1 << iota // inode and directory tables stored uncompressed
	FlagUncompressedData                        // data blocks stored uncompressed
	FlagCheck                                   // unused since 4.0
	FlagUncompressedFragments                   // fragment blocks stored uncompressed
	FlagNoFragments                             // tails are never packed into fragments
	FlagAlwaysFragments                         // tails of files larger than a block are packed too
	FlagDuplicates                              // duplicate files were stored once
	FlagExportable                              // an export (NFS) table is present
	FlagUncompressedXattrs                      // xattr tables stored uncompressed
	FlagNoXattrs                                // no xattrs stored
	FlagCompressorOptions                       // a compressor options block follows the superblock
	FlagUncompressedIDs                         // id table stored uncompressed
)

var flagNames = []string{
	"UNCOMPRESSED_INODES", "UNCOMPRESSED_DATA", "CHECK", "UNCOMPRESSED_FRAGMENTS",
	"NO_FRAGMENTS", "ALWAYS_FRAGMENTS", "DUPLICATES", "EXPORTABLE",
	"UNCOMPRESSED_XATTRS", "NO_XATTRS", "COMPRESSOR_OPTIONS", "UNCOMPRESSED_IDS",
}

// String renders the set flags by name, "|"-separated ("NO_FRAGMENTS|
// DUPLICATES|EXPORTABLE"), unknown bits in hex, and "0" for none.
func (f Flags) String() string {
	var names []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint16(rest)))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}
