package parttable

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"unicode/utf16"

	"github.com/isodiff/isodiff/internal/field"
)

// Limits on what ReadGPT reads from an untrusted image.
const (
	maxEntryArray = 4 << 20 // bytes of partition entries
	minEntrySize  = 128
	maxEntrySize  = 4096
)

var gptSignature = []byte("EFI PART")

// GPT is a GUID partition table: the primary header, the backup header when
// one is found, and the used entries of the primary's array.
type GPT struct {
	SectorSize int // 512, or 2048 when LBA 1 holds the header only at that size
	Primary    GPTHeader
	Backup     *GPTHeader // nil when no backup header was found
	Partitions []GPTPartition
}

// GPTHeader is a GPT header and what was verified about it.
type GPTHeader struct {
	Offset         int64 // byte offset in the image
	Revision       uint32
	HeaderSize     uint32
	HeaderCRC      uint32
	HeaderCRCOK    bool
	CurrentLBA     uint64
	BackupLBA      uint64 // "alternate LBA": the other header
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	DiskGUID       GUID
	EntriesLBA     uint64
	NumEntries     uint32
	EntrySize      uint32
	EntriesCRC     uint32
	EntriesCRCOK   bool
}

// GPTPartition is one used partition entry.
type GPTPartition struct {
	Index      int // 1-based position in the entry array
	TypeGUID   GUID
	UniqueGUID GUID
	FirstLBA   uint64
	LastLBA    uint64 // inclusive
	Attributes uint64
	Name       string // decoded from UTF-16LE, up to the first NUL
}

// ReadGPT reads the GPT of the image in r (size bytes). It looks for the
// header at LBA 1 with 512-byte sectors, then with 2048-byte sectors, and
// returns (nil, nil) when there is none. It then reads the backup header at
// the primary's alternate LBA, or failing that in the image's last sector.
// CRC mismatches are reported in the headers, not as errors; a header or
// entry array that does not fit the image is a *FormatError.
func ReadGPT(r io.ReaderAt, size int64) (*GPT, error) {
	for _, ss := range []int{512, 2048} {
		h, ok, err := readHeader(r, size, int64(ss), int64(ss))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		entries, err := readEntries(r, size, ss, h)
		if err != nil {
			return nil, err
		}
		g := &GPT{SectorSize: ss, Primary: *h}
		g.Partitions = parseEntries(entries, int(h.EntrySize))
		g.Backup, err = readBackup(r, size, ss, h)
		if err != nil {
			return nil, err
		}
		return g, nil
	}
	return nil, nil
}

// readHeader decodes the header at off if it carries the signature.
func readHeader(r io.ReaderAt, size, off, ss int64) (*GPTHeader, bool, error) {
	if off+ss > size {
		return nil, false, nil
	}
	b := make([]byte, ss)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, false, &FormatError{Off: off, What: "GPT header", Err: err}
	}
	if !bytes.Equal(b[:8], gptSignature) {
		return nil, false, nil
	}
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(b[o:]) }
	h := &GPTHeader{
		Offset:         off,
		Revision:       le32(8),
		HeaderSize:     le32(12),
		HeaderCRC:      le32(16),
		CurrentLBA:     le64(24),
		BackupLBA:      le64(32),
		FirstUsableLBA: le64(40),
		LastUsableLBA:  le64(48),
		EntriesLBA:     le64(72),
		NumEntries:     le32(80),
		EntrySize:      le32(84),
		EntriesCRC:     le32(88),
	}
	copy(h.DiskGUID[:], b[56:72])
	if h.HeaderSize >= 92 && int64(h.HeaderSize) <= ss {
		c := bytes.Clone(b[:h.HeaderSize])
		clear(c[16:20])
		h.HeaderCRCOK = crc32.ChecksumIEEE(c) == h.HeaderCRC
	}
	return h, true, nil
}

// readEntries reads a header's entry array and verifies its CRC.
func readEntries(r io.ReaderAt, size int64, ss int, h *GPTHeader) ([]byte, error) {
	if h.EntrySize < minEntrySize || h.EntrySize > maxEntrySize || h.EntrySize%8 != 0 {
		return nil, formatErrf(h.Offset+84, "GPT header", "partition entry size %d", h.EntrySize)
	}
	n := int64(h.NumEntries) * int64(h.EntrySize)
	if n > maxEntryArray {
		return nil, formatErrf(h.Offset+80, "GPT header", "%d entries of %d bytes", h.NumEntries, h.EntrySize)
	}
	if h.EntriesLBA > uint64(size)/uint64(ss) {
		return nil, formatErrf(h.Offset+72, "GPT entry array", "%w: LBA %d", ErrTruncated, h.EntriesLBA)
	}
	off := int64(h.EntriesLBA) * int64(ss)
	if off+n > size {
		return nil, formatErrf(off, "GPT entry array", "%w: %d bytes", ErrTruncated, n)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, &FormatError{Off: off, What: "GPT entry array", Err: err}
	}
	h.EntriesCRCOK = crc32.ChecksumIEEE(b) == h.EntriesCRC
	return b, nil
}

func parseEntries(b []byte, entrySize int) []GPTPartition {
	var ps []GPTPartition
	for i := 0; (i+1)*entrySize <= len(b); i++ {
		e := b[i*entrySize:]
		var p GPTPartition
		copy(p.TypeGUID[:], e[0:16])
		if p.TypeGUID.IsZero() {
			continue
		}
		p.Index = i + 1
		copy(p.UniqueGUID[:], e[16:32])
		p.FirstLBA = binary.LittleEndian.Uint64(e[32:])
		p.LastLBA = binary.LittleEndian.Uint64(e[40:])
		p.Attributes = binary.LittleEndian.Uint64(e[48:])
		u := make([]uint16, 0, 36)
		for j := 56; j+2 <= 128; j += 2 {
			c := binary.LittleEndian.Uint16(e[j:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		p.Name = string(utf16.Decode(u))
		ps = append(ps, p)
	}
	return ps
}

// readBackup finds the backup header at the primary's alternate LBA or in
// the last sector, and verifies its entry array.
func readBackup(r io.ReaderAt, size int64, ss int, p *GPTHeader) (*GPTHeader, error) {
	last := uint64(size/int64(ss)) - 1
	for _, lba := range []uint64{p.BackupLBA, last} {
		if lba == p.CurrentLBA || lba > last {
			continue
		}
		h, ok, err := readHeader(r, size, int64(lba)*int64(ss), int64(ss))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, err := readEntries(r, size, ss, h); err != nil {
			return nil, err
		}
		return h, nil
	}
	return nil, nil
}

// RevisionString renders a header revision as "major.minor" ("1.0").
func RevisionString(rev uint32) string {
	return fmt.Sprintf("%d.%d", rev>>16, rev&0xFFFF)
}

// Fields lists the header's fields.
func (h *GPTHeader) Fields() []field.Field {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	return []field.Field{
		{Name: "revision", Value: RevisionString(h.Revision)},
		{Name: "header_size", Value: u(uint64(h.HeaderSize))},
		{Name: "header_crc32", Value: fmt.Sprintf("0x%08x", h.HeaderCRC)},
		{Name: "header_crc_ok", Value: strconv.FormatBool(h.HeaderCRCOK)},
		{Name: "current_lba", Value: u(h.CurrentLBA)},
		{Name: "backup_lba", Value: u(h.BackupLBA)},
		{Name: "first_usable_lba", Value: u(h.FirstUsableLBA)},
		{Name: "last_usable_lba", Value: u(h.LastUsableLBA)},
		{Name: "disk_guid", Value: h.DiskGUID.String()},
		{Name: "entries_lba", Value: u(h.EntriesLBA)},
		{Name: "entries_count", Value: u(uint64(h.NumEntries))},
		{Name: "entry_size", Value: u(uint64(h.EntrySize))},
		{Name: "entries_crc32", Value: fmt.Sprintf("0x%08x", h.EntriesCRC)},
		{Name: "entries_crc_ok", Value: strconv.FormatBool(h.EntriesCRCOK)},
	}
}

// Fields lists the table-level fields, the primary header's, and the
// backup header's prefixed "backup_" (or backup_present false).
func (g *GPT) Fields() []field.Field {
	f := []field.Field{{Name: "sector_size", Value: strconv.Itoa(g.SectorSize)}}
	f = append(f, g.Primary.Fields()...)
	f = append(f, field.Field{Name: "backup_present", Value: strconv.FormatBool(g.Backup != nil)})
	if g.Backup != nil {
		for _, x := range g.Backup.Fields() {
			f = append(f, field.Field{Name: "backup_" + x.Name, Value: x.Value})
		}
	}
	f = append(f, field.Field{Name: "partitions", Value: strconv.Itoa(len(g.Partitions))})
	return f
}

// Fields lists the partition entry's fields.
func (p *GPTPartition) Fields() []field.Field {
	return []field.Field{
		{Name: "type_guid", Value: p.TypeGUID.String()},
		{Name: "type_name", Value: GPTTypeName(p.TypeGUID)},
		{Name: "unique_guid", Value: p.UniqueGUID.String()},
		{Name: "first_lba", Value: strconv.FormatUint(p.FirstLBA, 10)},
		{Name: "last_lba", Value: strconv.FormatUint(p.LastLBA, 10)},
		{Name: "attributes", Value: fmt.Sprintf("0x%016x", p.Attributes)},
		{Name: "name", Value: strconv.Quote(p.Name)},
	}
}
