package iso9660

import (
	"encoding/binary"
	"errors"
	"time"
)

// Directory record flags (ECMA-119 9.1.6).
const (
	FlagHidden      = 0x01 // "existence": hide from the user
	FlagDir         = 0x02
	FlagAssociated  = 0x04
	FlagRecord      = 0x08 // record format in the extended attribute record
	FlagProtection  = 0x10 // owner/group permissions in the extended attribute record
	FlagMultiExtent = 0x80 // not the final record of the file
)

// DirRecord is one directory record as recorded (ECMA-119 9.1).
type DirRecord struct {
	Len                  byte
	ExtAttrLen           byte
	Extent               uint32 // first logical block
	DataLength           uint32
	Time                 time.Time // recording date and time, UTC; zero if unset
	RawTime              [7]byte
	Flags                byte
	FileUnitSize         byte
	InterleaveGap        byte
	VolumeSequenceNumber uint16
	Identifier           []byte // raw file identifier; {0} is ".", {1} is ".."
	SystemUse            []byte
}

// IsDir reports whether the directory flag is set.
func (r *DirRecord) IsDir() bool { return r.Flags&FlagDir != 0 }

// IsDot and IsDotDot report the special "." and ".." records.
func (r *DirRecord) IsDot() bool    { return len(r.Identifier) == 1 && r.Identifier[0] == 0 }
func (r *DirRecord) IsDotDot() bool { return len(r.Identifier) == 1 && r.Identifier[0] == 1 }

var errShortRecord = errors.New("directory record too short")

// parseDirRecord decodes the record at the start of b, whose first byte is
// its length. The returned record aliases b.
func parseDirRecord(b []byte) (DirRecord, error) {
	var r DirRecord
	if len(b) < 34 || int(b[0]) < 34 || int(b[0]) > len(b) {
		return r, errShortRecord
	}
	r.Len = b[0]
	b = b[:r.Len]
	r.ExtAttrLen = b[1]
	r.Extent = binary.LittleEndian.Uint32(b[2:])
	r.DataLength = binary.LittleEndian.Uint32(b[10:])
	copy(r.RawTime[:], b[18:25])
	r.Time = decodeRecordTime(b[18:25])
	r.Flags = b[25]
	r.FileUnitSize = b[26]
	r.InterleaveGap = b[27]
	r.VolumeSequenceNumber = binary.LittleEndian.Uint16(b[28:])
	n := int(b[32])
	if 33+n > len(b) {
		return r, errors.New("file identifier overruns directory record")
	}
	r.Identifier = b[33 : 33+n]
	su := 33 + n
	if n%2 == 0 { // padding byte after an even-length identifier
		su++
	}
	if su < len(b) {
		r.SystemUse = b[su:]
	}
	return r, nil
}
