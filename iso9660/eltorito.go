package iso9660

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/isodiff/isodiff/field"
)

// El Torito platform ids.
const (
	PlatformX86 = 0x00
	PlatformPPC = 0x01
	PlatformMac = 0x02
	PlatformEFI = 0xEF
)

// El Torito boot media types (low four bits of the media byte).
const (
	MediaNoEmulation = 0
	MediaFloppy12    = 1
	MediaFloppy144   = 2
	MediaFloppy288   = 3
	MediaHardDisk    = 4
)

const (
	catalogEntrySize  = 32
	maxCatalogSectors = 32 // 2048 entries, far beyond any real catalog
)

// BootCatalog is a decoded El Torito boot catalog.
type BootCatalog struct {
	LBA        uint32 // first block, from the boot record
	Validation ValidationEntry
	// Entries are the initial/default entry (Entries[0]) followed by every
	// section entry in catalog order.
	Entries  []BootEntry
	Sections []SectionHeader
}

// ValidationEntry is the first entry of the catalog.
type ValidationEntry struct {
	HeaderID   byte // 1
	PlatformID byte
	IDString   string // manufacturer/developer id, NULs trimmed
	Checksum   uint16
	ChecksumOK bool // the sixteen words of the entry sum to zero
	Key        [2]byte
}

// SectionHeader starts a section of entries for one platform.
type SectionHeader struct {
	Indicator  byte // 0x90: more headers follow; 0x91: final header
	PlatformID byte
	NumEntries uint16
	IDString   string // NULs trimmed
}

// BootEntry is the initial/default entry or a section entry.
type BootEntry struct {
	Index         int  // 0 for the default entry, then 1, 2, ... in catalog order
	Section       int  // index in BootCatalog.Sections; -1 for the default entry
	PlatformID    byte // of the validation entry or the section header
	BootIndicator byte // 0x88 bootable, 0x00 not
	Media         byte // whole media byte; MediaType() is its low four bits
	LoadSegment   uint16
	SystemType    byte // partition type of a hard disk image
	SectorCount   uint16
	LoadRBA       uint32 // first block of the image
	// Selection criteria of a section entry: the type byte and the vendor
	// bytes of the entry and of its extensions, trailing NULs trimmed.
	SelectionCriteriaType byte
	SelectionCriteria     []byte
}

// Bootable reports a 0x88 boot indicator.
func (e BootEntry) Bootable() bool { return e.BootIndicator == 0x88 }

// MediaType returns the emulation type (MediaNoEmulation ... MediaHardDisk).
func (e BootEntry) MediaType() byte { return e.Media & 0x0F }

// BootCatalog reads the El Torito boot catalog named by the boot record. It
// returns an error wrapping ErrNoBootCatalog when there is no boot record.
// The catalog is decoded once per Image and charged to its budget until
// Close; every call returns the same *BootCatalog, which callers must not
// modify.
func (im *Image) BootCatalog() (*BootCatalog, error) {
	im.catalogOnce.Do(func() { im.catalog, im.catalogErr = im.readBootCatalog() })
	return im.catalog, im.catalogErr
}

// readBootCatalog decodes the catalog. Its length is bounded by the bytes
// that exist: a section header's entry count is checked against the
// entries left in maxCatalogSectors before any is read, and each entry and
// header is charged to the budget.
func (im *Image) readBootCatalog() (*BootCatalog, error) {
	if im.Boot == nil {
		return nil, ErrNoBootCatalog
	}
	lba := im.Boot.CatalogLBA
	if err := im.checkExtent(lba, SectorSize, im.Boot.Offset+71, "El Torito boot catalog"); err != nil {
		return nil, err
	}
	base := int64(lba) * SectorSize
	var sector []byte
	read := func(i int) ([]byte, error) { // entry i of the catalog
		off := base + int64(i)*catalogEntrySize
		if i%(SectorSize/catalogEntrySize) == 0 {
			if i >= maxCatalogSectors*(SectorSize/catalogEntrySize) {
				return nil, formatErrf(off, "El Torito boot catalog", "longer than %d sectors", maxCatalogSectors)
			}
			if off+SectorSize > im.size {
				return nil, formatErr(off, "El Torito boot catalog", ErrTruncated)
			}
			sector = make([]byte, SectorSize)
			if _, err := im.r.ReadAt(sector, off); err != nil {
				return nil, formatErr(off, "El Torito boot catalog", err)
			}
		}
		j := i % (SectorSize / catalogEntrySize) * catalogEntrySize
		return sector[j : j+catalogEntrySize], nil
	}
	b, err := read(0)
	if err != nil {
		return nil, err
	}
	c := &BootCatalog{LBA: lba}
	charge := func(n int64, i int) error {
		return im.held.grow(im.budget, n, "El Torito boot catalog entries", base+int64(i)*catalogEntrySize)
	}
	v := &c.Validation
	v.HeaderID, v.PlatformID = b[0], b[1]
	v.IDString = strings.TrimRight(string(b[4:28]), "\x00 ")
	v.Checksum = binary.LittleEndian.Uint16(b[28:])
	copy(v.Key[:], b[30:32])
	var sum uint16
	for i := 0; i < catalogEntrySize; i += 2 {
		sum += binary.LittleEndian.Uint16(b[i:])
	}
	v.ChecksumOK = sum == 0
	if v.HeaderID != 1 || v.Key != [2]byte{0x55, 0xAA} {
		return nil, formatErrf(base, "El Torito validation entry", "header id %#02x, key %x", v.HeaderID, v.Key)
	}
	if b, err = read(1); err != nil {
		return nil, err
	}
	if err := charge(bootEntryCost, 1); err != nil {
		return nil, err
	}
	c.Entries = append(c.Entries, parseBootEntry(b, 0, -1, v.PlatformID))
	const maxEntries = maxCatalogSectors * (SectorSize / catalogEntrySize)
	i := 2
	for final := false; !final; {
		if err := im.ctx.Err(); err != nil {
			return nil, err
		}
		b, err := read(i)
		if err != nil {
			return nil, err
		}
		if b[0] != 0x90 && b[0] != 0x91 {
			break // end of catalog
		}
		i++
		h := SectionHeader{Indicator: b[0], PlatformID: b[1], NumEntries: binary.LittleEndian.Uint16(b[2:]),
			IDString: strings.TrimRight(string(b[4:32]), "\x00 ")}
		final = b[0] == 0x91
		if int(h.NumEntries) > maxEntries-i {
			return nil, formatErrf(base+int64(i-1)*catalogEntrySize, "El Torito section header", "%d entries, the catalog has room for %d more", h.NumEntries, maxEntries-i)
		}
		if err := charge(bootEntryCost*(1+int64(h.NumEntries)), i-1); err != nil {
			return nil, err
		}
		c.Sections = append(c.Sections, h)
		for n := 0; n < int(h.NumEntries); n++ {
			b, err := read(i)
			if err != nil {
				return nil, err
			}
			i++
			e := parseBootEntry(b, len(c.Entries), len(c.Sections)-1, h.PlatformID)
			e.SelectionCriteriaType = b[12]
			crit := append([]byte(nil), b[13:32]...)
			for more := b[1]&0x20 != 0; more; { // section entry extensions
				x, err := read(i)
				if err != nil {
					return nil, err
				}
				if x[0] != 0x44 {
					return nil, formatErrf(base+int64(i)*catalogEntrySize, "El Torito section entry extension", "indicator %#02x", x[0])
				}
				i++
				if err := charge(30, i-1); err != nil {
					return nil, err
				}
				crit = append(crit, x[2:32]...)
				more = x[1]&0x20 != 0
			}
			e.SelectionCriteria = bytes.TrimRight(crit, "\x00")
			c.Entries = append(c.Entries, e)
		}
	}
	return c, nil
}

func parseBootEntry(b []byte, index, section int, platform byte) BootEntry {
	return BootEntry{
		Index:         index,
		Section:       section,
		PlatformID:    platform,
		BootIndicator: b[0],
		Media:         b[1],
		LoadSegment:   binary.LittleEndian.Uint16(b[2:]),
		SystemType:    b[4],
		SectorCount:   binary.LittleEndian.Uint16(b[6:]),
		LoadRBA:       binary.LittleEndian.Uint32(b[8:]),
	}
}

// PlatformName names a platform id as xorriso does ("BIOS", "PPC", "Mac",
// "UEFI") or in hex.
func PlatformName(id byte) string {
	switch id {
	case PlatformX86:
		return "BIOS"
	case PlatformPPC:
		return "PPC"
	case PlatformMac:
		return "Mac"
	case PlatformEFI:
		return "UEFI"
	}
	return fmt.Sprintf("0x%02x", id)
}

// MediaName names a media type as xorriso does ("none", "fd1.2", "fd1.4",
// "fd2.8", "hd").
func MediaName(t byte) string {
	switch t {
	case MediaNoEmulation:
		return "none"
	case MediaFloppy12:
		return "fd1.2"
	case MediaFloppy144:
		return "fd1.4"
	case MediaFloppy288:
		return "fd2.8"
	case MediaHardDisk:
		return "hd"
	}
	return fmt.Sprintf("0x%x", t)
}

// Fields lists the validation entry.
func (v *ValidationEntry) Fields() []field.Field {
	return []field.Field{
		{Name: "header_id", Value: fmt.Sprintf("0x%02x", v.HeaderID)},
		{Name: "platform_id", Value: PlatformName(v.PlatformID)},
		{Name: "id_string", Value: strconv.Quote(v.IDString)},
		{Name: "checksum", Value: fmt.Sprintf("0x%04x", v.Checksum)},
		{Name: "checksum_ok", Value: strconv.FormatBool(v.ChecksumOK)},
		{Name: "key", Value: hex.EncodeToString(v.Key[:])},
	}
}

// Fields lists the section header.
func (h *SectionHeader) Fields() []field.Field {
	return []field.Field{
		{Name: "header_indicator", Value: fmt.Sprintf("0x%02x", h.Indicator)},
		{Name: "platform_id", Value: PlatformName(h.PlatformID)},
		{Name: "entries", Value: strconv.Itoa(int(h.NumEntries))},
		{Name: "id_string", Value: strconv.Quote(h.IDString)},
	}
}

// Fields lists the entry.
func (e *BootEntry) Fields() []field.Field {
	f := []field.Field{
		{Name: "platform_id", Value: PlatformName(e.PlatformID)},
		{Name: "bootable", Value: strconv.FormatBool(e.Bootable())},
		{Name: "boot_indicator", Value: fmt.Sprintf("0x%02x", e.BootIndicator)},
		{Name: "media_type", Value: MediaName(e.MediaType())},
		{Name: "media_flags", Value: fmt.Sprintf("0x%02x", e.Media&0xF0)},
		{Name: "load_segment", Value: fmt.Sprintf("0x%04x", e.LoadSegment)},
		{Name: "system_type", Value: fmt.Sprintf("0x%02x", e.SystemType)},
		{Name: "sector_count", Value: strconv.Itoa(int(e.SectorCount))},
		{Name: "load_rba", Value: strconv.FormatUint(uint64(e.LoadRBA), 10)},
	}
	if e.Section >= 0 {
		f = append(f,
			field.Field{Name: "selection_criteria_type", Value: fmt.Sprintf("0x%02x", e.SelectionCriteriaType)},
			field.Field{Name: "selection_criteria", Value: hex.EncodeToString(e.SelectionCriteria)},
		)
	}
	return f
}

// Fields lists the catalog's own fields and those of its validation entry
// and section headers (prefixed "section<N>_"); entries list themselves.
func (c *BootCatalog) Fields() []field.Field {
	f := []field.Field{{Name: "catalog_lba", Value: strconv.FormatUint(uint64(c.LBA), 10)}}
	for _, x := range c.Validation.Fields() {
		f = append(f, field.Field{Name: "validation_" + x.Name, Value: x.Value})
	}
	f = append(f, field.Field{Name: "entries", Value: strconv.Itoa(len(c.Entries))})
	for i := range c.Sections {
		for _, x := range c.Sections[i].Fields() {
			f = append(f, field.Field{Name: fmt.Sprintf("section%d_%s", i+1, x.Name), Value: x.Value})
		}
	}
	return f
}

// Floppy image sizes by media type.
var floppySize = map[byte]int64{MediaFloppy12: 1228800, MediaFloppy144: 1474560, MediaFloppy288: 2949120}

// BootImage returns the bytes of entry e's boot image, for hashing. Its
// start is LoadRBA; its size is, by emulation type:
//
//   - no emulation: the size of the regular file of the tree whose data
//     starts at LoadRBA, when there is one (SectorCount is only how much the
//     BIOS loads: isolinux records 4 sectors of a 40 KiB file); otherwise
//     SectorCount 512-byte sectors (at least one);
//   - floppy: the floppy size (1.2, 1.44 or 2.88 MB);
//   - hard disk: up to the end of the last partition of the MBR in the
//     image's first sector, as xorriso's "hdsiz/512" (SectorCount sectors
//     when there is no valid MBR).
//
// The size is cut at the end of the image. Finding the file walks the tree
// once per Image; a walk error is returned for the images whose file the
// walk had not reached (a file found before the damage still sizes its
// image).
func (im *Image) BootImage(e BootEntry) (*io.SectionReader, error) {
	off := int64(e.LoadRBA) * SectorSize
	if off >= im.size {
		return nil, formatErrf(off, "El Torito boot image", "%w: load RBA %d, image is %d bytes", ErrTruncated, e.LoadRBA, im.size)
	}
	size := max(int64(e.SectorCount), 1) * 512
	switch t := e.MediaType(); {
	case t == MediaNoEmulation:
		// A file found before a damaged part of the tree still sizes its
		// image; only an image the walk did not reach is an error.
		sizes, err := im.fileSizesAt()
		if n, ok := sizes[e.LoadRBA]; ok {
			size = n
		} else if err != nil {
			return nil, err
		}
	case floppySize[t] != 0:
		size = floppySize[t]
	case t == MediaHardDisk:
		mbr := make([]byte, 512)
		if _, err := im.r.ReadAt(mbr, off); err != nil && err != io.EOF {
			return nil, formatErr(off, "El Torito hard disk image", err)
		}
		if end := mbrEnd(mbr); end > 0 {
			size = end * 512
		}
	}
	size = min(size, im.size-off)
	return io.NewSectionReader(im.r, off, size), nil
}

// mbrEnd returns the highest end (first LBA + sectors) of the four primary
// partitions of a valid MBR, or 0.
func mbrEnd(b []byte) int64 {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return 0
	}
	var end int64
	for i := 0; i < 4; i++ {
		p := b[446+16*i:]
		if p[4] == 0 {
			continue
		}
		start := int64(binary.LittleEndian.Uint32(p[8:]))
		n := int64(binary.LittleEndian.Uint32(p[12:]))
		end = max(end, start+n)
	}
	return end
}

// fileSizesAt maps the load RBA of each catalog entry to the size of the
// regular file whose data starts there (the largest, if several do),
// walking the tree once. After a walk error, the sizes found before it are
// returned with the error.
func (im *Image) fileSizesAt() (map[uint32]int64, error) {
	im.bootOnce.Do(func() {
		c, err := im.BootCatalog()
		if err != nil {
			im.bootErr = err
			return
		}
		// The maps hold at most one key per catalog entry (charged with
		// the catalog) and one size per entry.
		want := map[uint32]bool{}
		for _, e := range c.Entries {
			want[e.LoadRBA] = true
		}
		if err := im.held.grow(im.budget, bootSizeCost*int64(len(want)), "El Torito boot image sizes", im.Boot.Offset); err != nil {
			im.bootErr = err
			return
		}
		sizes := map[uint32]int64{}
		w := im.Walk()
		defer w.Close()
		for {
			e, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				im.bootSizes, im.bootErr = sizes, err
				return
			}
			if !e.Mode.IsRegular() || len(e.Extents) == 0 {
				continue
			}
			lba := uint32(e.Extents[0].Offset / SectorSize)
			if want[lba] && e.Size > sizes[lba] {
				sizes[lba] = e.Size
			}
		}
		im.bootSizes = sizes
	})
	return im.bootSizes, im.bootErr
}
