package parttable

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/isodiff/isodiff/field"
)

// MBRSize is the size of the master boot record sector.
const MBRSize = 512

// MBR is a decoded master boot record.
type MBR struct {
	// BootstrapSHA256 is the SHA-256 of the 440 bytes of boot code (an
	// isohybrid MBR also keeps there the LBA of the boot image it loads).
	BootstrapSHA256 [32]byte
	DiskSignature   uint32 // at 0x1B8
	Reserved        uint16 // at 0x1BC, "copy protected" 0x5A5A on some
	Partitions      [4]MBRPartition
	BootSignature   uint16 // 0xAA55 as a little-endian word
}

// CHS is a cylinder/head/sector address as recorded: the cylinder's two high
// bits live in the sector byte.
type CHS struct {
	Cylinder uint16 // 0..1023
	Head     uint8
	Sector   uint8 // 1..63; 0 is invalid
}

func decodeCHS(b []byte) CHS {
	return CHS{Head: b[0], Sector: b[1] & 0x3F, Cylinder: uint16(b[1]&0xC0)<<2 | uint16(b[2])}
}

func (c CHS) String() string { return fmt.Sprintf("%d/%d/%d", c.Cylinder, c.Head, c.Sector) }

// MBRPartition is one of the four primary partition entries.
type MBRPartition struct {
	Index    int  // 1..4
	Status   byte // 0x80 active, 0x00 inactive; anything else is kept as is
	Start    CHS
	Type     byte
	End      CHS
	FirstLBA uint32
	Sectors  uint32
}

// Empty reports an unused entry (type 0 and no sectors).
func (p *MBRPartition) Empty() bool { return p.Type == 0 && p.Sectors == 0 && p.FirstLBA == 0 }

// ParseMBR decodes the MBR in the first 512 bytes of sector0. It returns
// an error wrapping ErrNoMBR when the boot signature is missing.
func ParseMBR(sector0 []byte) (*MBR, error) {
	if len(sector0) < MBRSize {
		return nil, formatErrf(0, "MBR", "%w: %d bytes", ErrTruncated, len(sector0))
	}
	b := sector0[:MBRSize]
	m := &MBR{
		BootstrapSHA256: sha256.Sum256(b[:440]),
		DiskSignature:   binary.LittleEndian.Uint32(b[0x1B8:]),
		Reserved:        binary.LittleEndian.Uint16(b[0x1BC:]),
		BootSignature:   binary.LittleEndian.Uint16(b[0x1FE:]),
	}
	if m.BootSignature != 0xAA55 {
		return nil, formatErrf(0x1FE, "MBR", "%w (%#04x)", ErrNoMBR, m.BootSignature)
	}
	for i := range m.Partitions {
		e := b[0x1BE+16*i:]
		m.Partitions[i] = MBRPartition{
			Index:    i + 1,
			Status:   e[0],
			Start:    decodeCHS(e[1:4]),
			Type:     e[4],
			End:      decodeCHS(e[5:8]),
			FirstLBA: binary.LittleEndian.Uint32(e[8:]),
			Sectors:  binary.LittleEndian.Uint32(e[12:]),
		}
	}
	return m, nil
}

// Fields lists the MBR's own fields; partitions list theirs.
func (m *MBR) Fields() []field.Field {
	return []field.Field{
		{Name: "bootstrap_sha256", Value: hex.EncodeToString(m.BootstrapSHA256[:])},
		{Name: "disk_signature", Value: fmt.Sprintf("0x%08x", m.DiskSignature)},
		{Name: "reserved", Value: fmt.Sprintf("0x%04x", m.Reserved)},
		{Name: "boot_signature", Value: fmt.Sprintf("0x%04x", m.BootSignature)},
	}
}

// Fields lists the partition entry.
func (p *MBRPartition) Fields() []field.Field {
	return []field.Field{
		{Name: "status", Value: fmt.Sprintf("0x%02x", p.Status)},
		{Name: "start_chs", Value: p.Start.String()},
		{Name: "type", Value: fmt.Sprintf("0x%02x", p.Type)},
		{Name: "type_name", Value: MBRTypeName(p.Type)},
		{Name: "end_chs", Value: p.End.String()},
		{Name: "first_lba", Value: strconv.FormatUint(uint64(p.FirstLBA), 10)},
		{Name: "sectors", Value: strconv.FormatUint(uint64(p.Sectors), 10)},
	}
}

var mbrTypes = map[byte]string{
	0x00: "Empty",
	0x01: "FAT12",
	0x04: "FAT16 <32M",
	0x05: "Extended",
	0x06: "FAT16",
	0x07: "HPFS/NTFS/exFAT",
	0x0b: "W95 FAT32",
	0x0c: "W95 FAT32 (LBA)",
	0x0e: "W95 FAT16 (LBA)",
	0x0f: "W95 Ext'd (LBA)",
	0x17: "Hidden HPFS/NTFS",
	0x1c: "Hidden W95 FAT32 (LBA)",
	0x82: "Linux swap",
	0x83: "Linux",
	0x85: "Linux extended",
	0x8e: "Linux LVM",
	0x96: "CHRP ISO-9660",
	0xa5: "FreeBSD",
	0xa6: "OpenBSD",
	0xaf: "HFS / HFS+",
	0xcd: "ISO9660", // used by some isohybrid writers
	0xda: "Non-FS data",
	0xee: "GPT",
	0xef: "EFI (FAT-12/16/32)",
	0xfd: "Linux raid autodetect",
}

// MBRTypeName names an MBR partition type as fdisk does, or "unknown".
func MBRTypeName(t byte) string {
	if n, ok := mbrTypes[t]; ok {
		return n
	}
	return "unknown"
}
