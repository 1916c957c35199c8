package parttable

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"unicode/utf16"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/field"
)

// Options are the settings of ReadGPTOptions; the zero Options (what
// ReadGPT uses) is an unlimited budget and no cancellation.
type Options struct {
	// Budget is charged for the entry arrays while they are read and for
	// the partitions the returned GPT holds, until GPT.Release. A refused
	// charge is a *FormatError wrapping the *budget.ExceededError. nil is
	// unlimited.
	Budget *budget.Budget
	// Context stops the reading of the entry arrays. nil means
	// context.Background.
	Context context.Context
}

// partitionCost is what one GPTPartition held in GPT.Partitions is charged,
// its name included (at most 36 UTF-16 code units).
const partitionCost = 256

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

	hold budget.Hold // the partitions' charge
}

// Release gives back the budget charged for the partitions. The GPT stays
// usable; Release may be called more than once.
func (g *GPT) Release() { g.hold.Release() }

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
	return ReadGPTOptions(r, size, Options{})
}

// ReadGPTOptions is ReadGPT charging o.Budget and stopping when o.Context
// is done. The entry array is read in chunks, checking the context between
// them; its size is bounded by the image (the array must fit in it) and by
// 4 MiB, its entries parsed as they are read, and only the used ones kept
// and charged (until GPT.Release).
func ReadGPTOptions(r io.ReaderAt, size int64, o Options) (*GPT, error) {
	rd := &reader{r: r, size: size, b: o.Budget, ctx: o.Context}
	if rd.ctx == nil {
		rd.ctx = context.Background()
	}
	for _, ss := range []int{512, 2048} {
		h, ok, err := rd.readHeader(int64(ss), int64(ss))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		g := &GPT{SectorSize: ss, Primary: *h}
		if err := rd.readEntries(ss, &g.Primary, g); err != nil {
			g.Release()
			return nil, err
		}
		g.Backup, err = rd.readBackup(ss, h)
		if err != nil {
			g.Release()
			return nil, err
		}
		return g, nil
	}
	return nil, nil
}

// reader is one reading of a GPT.
type reader struct {
	r    io.ReaderAt
	size int64
	b    *budget.Budget
	ctx  context.Context
}

// readHeader decodes the header at off if it carries the signature.
func (rd *reader) readHeader(off, ss int64) (*GPTHeader, bool, error) {
	if off+ss > rd.size {
		return nil, false, nil
	}
	b := make([]byte, ss)
	if _, err := rd.r.ReadAt(b, off); err != nil {
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

// entryChunk is how many bytes of an entry array are read at a time.
const entryChunk = 64 << 10

// readEntries reads a header's entry array in chunks, verifies its CRC
// and, when g is not nil, keeps its used entries in g (charged to g's
// hold).
func (rd *reader) readEntries(ss int, h *GPTHeader, g *GPT) error {
	if h.EntrySize < minEntrySize || h.EntrySize > maxEntrySize || h.EntrySize%8 != 0 {
		return formatErrf(h.Offset+84, "GPT header", "partition entry size %d", h.EntrySize)
	}
	n := int64(h.NumEntries) * int64(h.EntrySize)
	if n > maxEntryArray {
		return formatErrf(h.Offset+80, "GPT header", "%d entries of %d bytes", h.NumEntries, h.EntrySize)
	}
	if h.EntriesLBA > uint64(rd.size)/uint64(ss) {
		return formatErrf(h.Offset+72, "GPT entry array", "%w: LBA %d", ErrTruncated, h.EntriesLBA)
	}
	off := int64(h.EntriesLBA) * int64(ss)
	if off+n > rd.size {
		return formatErrf(off, "GPT entry array", "%w: %d bytes", ErrTruncated, n)
	}
	es := int64(h.EntrySize)
	chunk := max(entryChunk/es, 1) * es
	bufLen := min(chunk, n)
	if err := rd.b.Charge(bufLen, "GPT entry array buffer", off); err != nil {
		return &FormatError{Off: off, What: "GPT entry array", Err: err}
	}
	defer rd.b.Release(bufLen)
	buf := make([]byte, bufLen)
	crc := crc32.NewIEEE()
	for done := int64(0); done < n; done += chunk {
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		b := buf[:min(chunk, n-done)]
		if _, err := rd.r.ReadAt(b, off+done); err != nil {
			return &FormatError{Off: off + done, What: "GPT entry array", Err: err}
		}
		crc.Write(b)
		if g == nil {
			continue
		}
		for i := int64(0); i+es <= int64(len(b)); i += es {
			p, used := parseEntry(b[i:i+es], int((done+i)/es)+1)
			if !used {
				continue
			}
			if err := rd.grow(g, off+done+i); err != nil {
				return err
			}
			g.Partitions = append(g.Partitions, p)
		}
	}
	h.EntriesCRCOK = crc.Sum32() == h.EntriesCRC
	return nil
}

// grow charges one more partition to g.
func (rd *reader) grow(g *GPT, off int64) error {
	var err error
	if g.hold.Size() == 0 {
		g.hold, err = rd.b.Hold(partitionCost, "GPT partitions", off)
	} else {
		err = g.hold.Grow(partitionCost, "GPT partitions", off)
	}
	if err != nil {
		return &FormatError{Off: off, What: "GPT partition entry", Err: err}
	}
	return nil
}

// parseEntry decodes the partition entry e, at 1-based position index of
// its array; used is false for an unused (zero type) entry.
func parseEntry(e []byte, index int) (p GPTPartition, used bool) {
	copy(p.TypeGUID[:], e[0:16])
	if p.TypeGUID.IsZero() {
		return p, false
	}
	p.Index = index
	copy(p.UniqueGUID[:], e[16:32])
	p.FirstLBA = binary.LittleEndian.Uint64(e[32:])
	p.LastLBA = binary.LittleEndian.Uint64(e[40:])
	p.Attributes = binary.LittleEndian.Uint64(e[48:])
	var u [36]uint16
	k := 0
	for j := 56; j+2 <= 128; j += 2 {
		c := binary.LittleEndian.Uint16(e[j:])
		if c == 0 {
			break
		}
		u[k] = c
		k++
	}
	p.Name = string(utf16.Decode(u[:k]))
	return p, true
}

// readBackup finds the backup header at the primary's alternate LBA or in
// the last sector, and verifies its entry array.
func (rd *reader) readBackup(ss int, p *GPTHeader) (*GPTHeader, error) {
	last := uint64(rd.size/int64(ss)) - 1
	for _, lba := range []uint64{p.BackupLBA, last} {
		if lba == p.CurrentLBA || lba > last {
			continue
		}
		h, ok, err := rd.readHeader(int64(lba)*int64(ss), int64(ss))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := rd.readEntries(ss, h, nil); err != nil {
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
