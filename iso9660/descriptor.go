package iso9660

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/isodiff/isodiff/field"
)

// Volume descriptor types (ECMA-119 8.1.1).
const (
	TypeBootRecord    = 0
	TypePrimary       = 1
	TypeSupplementary = 2 // version 1: supplementary; version 2: enhanced (ISO 9660:1999)
	TypePartition     = 3
	TypeTerminator    = 255
)

// SectorSize is the logical sector size this package reads; the logical
// block size of a volume must equal it.
const SectorSize = 2048

// DescriptorInfo is the header of one descriptor of the volume recognition
// sequence, in the order recorded from sector 16 on.
type DescriptorInfo struct {
	Type       byte
	Identifier string // "CD001", or "BEA01", "NSR02", "TEA01" ... of a UDF bridge
	Version    byte
	Offset     int64 // byte offset in the image
}

// Fields lists the descriptor header, with names prefixed by prefix.
func (d DescriptorInfo) Fields(prefix string) []field.Field {
	return []field.Field{
		{Name: prefix + "type", Value: strconv.Itoa(int(d.Type))},
		{Name: prefix + "identifier", Value: d.Identifier},
		{Name: prefix + "version", Value: strconv.Itoa(int(d.Version))},
		{Name: prefix + "offset", Value: strconv.FormatInt(d.Offset, 10)},
	}
}

// VolumeDescriptor is a primary, supplementary or enhanced volume descriptor
// (ECMA-119 8.4 and 8.5). String fields have trailing padding removed; in a
// Joliet descriptor they are decoded from UCS-2.
type VolumeDescriptor struct {
	Type    byte
	Version byte
	Offset  int64
	Joliet  bool // escape sequences name UCS-2 level 1, 2 or 3

	VolumeFlags          byte // supplementary only
	SystemID             string
	VolumeID             string
	VolumeSpaceSize      uint32 // in logical blocks
	EscapeSequences      [32]byte
	VolumeSetSize        uint16
	VolumeSequenceNumber uint16
	LogicalBlockSize     uint16
	PathTableSize        uint32
	LPathTable           uint32
	OptLPathTable        uint32
	MPathTable           uint32
	OptMPathTable        uint32
	Root                 DirRecord
	VolumeSetID          string
	PublisherID          string
	DataPreparerID       string
	ApplicationID        string
	CopyrightFileID      string
	AbstractFileID       string
	BibliographicFileID  string
	Created              DateTime
	Modified             DateTime
	Expires              DateTime
	Effective            DateTime
	FileStructureVersion byte
	ApplicationUse       [512]byte
}

// JolietLevel returns 1, 2 or 3 for a Joliet descriptor, 0 otherwise.
func (v *VolumeDescriptor) JolietLevel() int {
	return jolietLevel(v.EscapeSequences[:])
}

func jolietLevel(esc []byte) int {
	for i := 0; i+3 <= len(esc); i++ {
		if esc[i] == '%' && esc[i+1] == '/' {
			switch esc[i+2] {
			case '@':
				return 1
			case 'C':
				return 2
			case 'E':
				return 3
			}
		}
	}
	return 0
}

// parseVolumeDescriptor decodes the descriptor in b, the sector at off. A
// root directory record whose length byte is not 34 or whose identifier is
// not the single byte 0 is read as the 34-byte record ECMA-119 places
// there, and the repair returned: the Linux kernel and libisofs use only
// its extent (and read the rest from the root's own "." record), libarchive
// accepts lengths up to 68, written by the CSRG archive discs.
func parseVolumeDescriptor(b []byte, off int64) (*VolumeDescriptor, []Repair, error) {
	v := &VolumeDescriptor{Type: b[0], Version: b[6], Offset: off}
	le16 := func(o int) uint16 { return binary.LittleEndian.Uint16(b[o:]) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
	if v.Type == TypeSupplementary {
		v.VolumeFlags = b[7]
		copy(v.EscapeSequences[:], b[88:120])
		v.Joliet = v.Version == 1 && jolietLevel(v.EscapeSequences[:]) != 0
	}
	str := func(o, n int) string { return decodeString(b[o:o+n], v.Joliet) }
	v.SystemID = str(8, 32)
	v.VolumeID = str(40, 32)
	v.VolumeSpaceSize = le32(80)
	v.VolumeSetSize = le16(120)
	v.VolumeSequenceNumber = le16(124)
	v.LogicalBlockSize = le16(128)
	v.PathTableSize = le32(132)
	v.LPathTable = le32(140)
	v.OptLPathTable = le32(144)
	v.MPathTable = binary.BigEndian.Uint32(b[148:])
	v.OptMPathTable = binary.BigEndian.Uint32(b[152:])
	var repairs []Repair
	rootBytes := b[156:190]
	if rootBytes[0] != 34 || rootBytes[32] != 1 || rootBytes[33] != 0 {
		fixed := bytes.Clone(rootBytes)
		var how []string
		if fixed[0] != 34 {
			how = append(how, fmt.Sprintf("length byte %d read as 34", fixed[0]))
			fixed[0] = 34
		}
		if fixed[32] != 1 || fixed[33] != 0 {
			how = append(how, fmt.Sprintf("identifier of length %d starting %#02x read as the root's (one byte 0)", fixed[32], fixed[33]))
			fixed[32], fixed[33] = 1, 0
		}
		repairs = append(repairs, Repair{Off: off + 156, What: "root directory record of the volume descriptor",
			How: strings.Join(how, "; ") + ", as Linux and xorriso read it (they use only its extent)"})
		rootBytes = fixed
	}
	root, err := parseDirRecord(rootBytes)
	if err != nil {
		return nil, nil, formatErr(off+156, "root directory record", err)
	}
	root.Identifier = bytes.Clone(root.Identifier)
	root.SystemUse = nil
	v.Root = root
	v.VolumeSetID = str(190, 128)
	v.PublisherID = str(318, 128)
	v.DataPreparerID = str(446, 128)
	v.ApplicationID = str(574, 128)
	v.CopyrightFileID = str(702, 37)
	v.AbstractFileID = str(739, 37)
	v.BibliographicFileID = str(776, 37)
	v.Created = decodeDateTime(b[813:830])
	v.Modified = decodeDateTime(b[830:847])
	v.Expires = decodeDateTime(b[847:864])
	v.Effective = decodeDateTime(b[864:881])
	v.FileStructureVersion = b[881]
	copy(v.ApplicationUse[:], b[883:1395])
	if v.LogicalBlockSize != SectorSize {
		return nil, nil, formatErrf(off+128, "logical block size", "%d, want %d", v.LogicalBlockSize, SectorSize)
	}
	return v, repairs, nil
}

// decodeString turns a padded identifier into text: UCS-2 big-endian for
// Joliet, bytes otherwise; trailing spaces and NULs are removed.
func decodeString(b []byte, ucs2 bool) string {
	if ucs2 {
		return strings.TrimRight(decodeUCS2(b), " \x00")
	}
	return strings.TrimRight(printable(b), " \x00")
}

// decodeUCS2 decodes big-endian UTF-16 (Joliet names may hold surrogate
// pairs written by newer tools); an odd trailing byte is dropped.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// printable returns b as a string, with bytes that are not valid UTF-8 kept
// as is (Go strings hold any bytes; reports quote them).
func printable(b []byte) string { return string(b) }

// Fields lists every field of the descriptor under snake_case names, in
// on-disk order.
func (v *VolumeDescriptor) Fields() []field.Field {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := []field.Field{
		{Name: "descriptor_type", Value: u(uint64(v.Type))},
		{Name: "descriptor_version", Value: u(uint64(v.Version))},
	}
	if v.Type == TypeSupplementary {
		f = append(f,
			field.Field{Name: "volume_flags", Value: fmt.Sprintf("0x%02x", v.VolumeFlags)},
			field.Field{Name: "escape_sequences", Value: string(bytes.TrimRight(v.EscapeSequences[:], "\x00"))},
		)
	}
	f = append(f,
		field.Field{Name: "system_id", Value: v.SystemID},
		field.Field{Name: "volume_id", Value: v.VolumeID},
		field.Field{Name: "volume_space_size", Value: u(uint64(v.VolumeSpaceSize))},
		field.Field{Name: "volume_set_size", Value: u(uint64(v.VolumeSetSize))},
		field.Field{Name: "volume_sequence_number", Value: u(uint64(v.VolumeSequenceNumber))},
		field.Field{Name: "logical_block_size", Value: u(uint64(v.LogicalBlockSize))},
		field.Field{Name: "path_table_size", Value: u(uint64(v.PathTableSize))},
		field.Field{Name: "l_path_table", Value: u(uint64(v.LPathTable))},
		field.Field{Name: "opt_l_path_table", Value: u(uint64(v.OptLPathTable))},
		field.Field{Name: "m_path_table", Value: u(uint64(v.MPathTable))},
		field.Field{Name: "opt_m_path_table", Value: u(uint64(v.OptMPathTable))},
		field.Field{Name: "root_directory_extent", Value: u(uint64(v.Root.Extent))},
		field.Field{Name: "root_directory_size", Value: u(uint64(v.Root.DataLength))},
		field.Field{Name: "root_directory_time", Value: formatRecordTime(v.Root)},
		field.Field{Name: "volume_set_id", Value: v.VolumeSetID},
		field.Field{Name: "publisher_id", Value: v.PublisherID},
		field.Field{Name: "data_preparer_id", Value: v.DataPreparerID},
		field.Field{Name: "application_id", Value: v.ApplicationID},
		field.Field{Name: "copyright_file_id", Value: v.CopyrightFileID},
		field.Field{Name: "abstract_file_id", Value: v.AbstractFileID},
		field.Field{Name: "bibliographic_file_id", Value: v.BibliographicFileID},
		field.Field{Name: "volume_creation_date", Value: v.Created.String()},
		field.Field{Name: "volume_modification_date", Value: v.Modified.String()},
		field.Field{Name: "volume_expiration_date", Value: v.Expires.String()},
		field.Field{Name: "volume_effective_date", Value: v.Effective.String()},
		field.Field{Name: "file_structure_version", Value: u(uint64(v.FileStructureVersion))},
		field.Field{Name: "application_use", Value: renderBytes(v.ApplicationUse[:])},
	)
	return f
}

func formatRecordTime(r DirRecord) string {
	if r.Time.IsZero() {
		return "unset"
	}
	return r.Time.Format("2006-01-02T15:04:05Z")
}

// renderBytes renders an opaque byte field: "empty" when all zero or spaces,
// the quoted text when it is printable ASCII, else hex, with trailing zero
// bytes and spaces trimmed in each case.
func renderBytes(b []byte) string {
	t := bytes.TrimRight(b, " \x00")
	if len(t) == 0 {
		return "empty"
	}
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return "hex:" + hex.EncodeToString(t)
		}
	}
	return strconv.Quote(string(t))
}

// BootRecord is a boot record volume descriptor (ECMA-119 8.2). For El
// Torito, BootSystemID is "EL TORITO SPECIFICATION" and CatalogLBA is the
// boot catalog's first sector.
type BootRecord struct {
	Offset       int64
	BootSystemID string
	BootID       string
	CatalogLBA   uint32 // first four bytes of the boot system use field
	ElTorito     bool
}

// Fields lists the boot record's fields.
func (b *BootRecord) Fields() []field.Field {
	return []field.Field{
		{Name: "boot_system_id", Value: b.BootSystemID},
		{Name: "boot_id", Value: b.BootID},
		{Name: "boot_catalog_lba", Value: strconv.FormatUint(uint64(b.CatalogLBA), 10)},
	}
}

func parseBootRecord(b []byte, off int64) *BootRecord {
	br := &BootRecord{
		Offset:       off,
		BootSystemID: strings.TrimRight(string(b[7:39]), " \x00"),
		BootID:       strings.TrimRight(string(b[39:71]), " \x00"),
		CatalogLBA:   binary.LittleEndian.Uint32(b[71:]),
	}
	br.ElTorito = br.BootSystemID == "EL TORITO SPECIFICATION"
	return br
}
