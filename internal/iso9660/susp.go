package iso9660

import (
	"encoding/binary"
	"errors"
	"time"
)

// Limits on System Use Sharing Protocol data, so that a hostile image cannot
// make one record cost unbounded work.
const (
	maxContinuations = 64         // CE areas followed per record
	maxCELength      = SectorSize // bytes in one continuation area
	maxSUSPBytes     = 256 << 10  // system use bytes decoded per record
	maxNameLen       = 4096       // bytes of an NM name
	maxLinkLen       = 64 << 10   // bytes of an SL target
)

// RRIP entry flags.
const (
	nmContinue = 0x01
	nmCurrent  = 0x02
	nmParent   = 0x04

	slContinue = 0x01
	slCurrent  = 0x02
	slParent   = 0x04
	slRoot     = 0x08
	slVolRoot  = 0x10
	slHost     = 0x20

	tfCreation   = 0x01
	tfModify     = 0x02
	tfAccess     = 0x04
	tfAttributes = 0x08
	tfBackup     = 0x10
	tfExpiration = 0x20
	tfEffective  = 0x40
	tfLongForm   = 0x80
)

// rrInfo collects what the Rock Ridge entries of one record say.
type rrInfo struct {
	any bool // some RRIP entry was seen

	hasPX           bool
	mode            uint32
	nlink, uid, gid uint32
	serial          uint32
	hasSerial       bool
	hasPN           bool
	devHigh, devLow uint32
	hasNM           bool
	name            []byte
	nmFlags         byte
	hasSL           bool
	link            []byte
	slNeedSlash     bool
	hasTF           bool
	modify          time.Time
	hasCL           bool
	childLBA        uint32
	relocated       bool // RE
	hasSP           bool
	spSkip          byte
	rripER          bool // an ER entry names RRIP
	hasZF           bool
	damage          error // first malformed entry, see systemUse
}

// suspEntry is one System Use entry: signature, version and data after the
// four-byte header. tail runs from the data to the end of the area: some
// writers (genisoimage with long symlinks) let the last SL component run
// past the entry's length, and Linux and libisofs read it from there.
type suspEntry struct {
	sig  [2]byte
	ver  byte
	data []byte
	tail []byte
}

// systemUse walks the SUSP entries of a record's system use area su (whose
// first skip bytes are not SUSP), following CE continuation areas, and calls
// fn for each entry. suOff is the image offset of su, for error reports.
//
// Malformed SUSP data does not stop the walk: like the Linux kernel and
// libisofs, systemUse keeps what it decoded before the damage and ignores
// the rest of the record's entries (or, for an entry fn rejects, that
// entry), and returns the first damage as a *FormatError. Only a failure to
// read the image is returned as err.
func (im *Image) systemUse(su []byte, suOff int64, skip int, fn func(e suspEntry) error) (damage, err error) {
	if skip > len(su) {
		return nil, nil
	}
	note := func(e error) {
		if damage == nil {
			damage = e
		}
	}
	area, areaOff := su[skip:], suOff+int64(skip)
	total := 0
	for hops := 0; ; hops++ {
		var ce *[3]uint32
		for len(area) >= 4 {
			l := int(area[2])
			if area[0] == 0 { // padding
				break
			}
			if l < 4 || l > len(area) {
				note(formatErrf(areaOff, "system use entry", "%q length %d, %d bytes left", area[:2], l, len(area)))
				return damage, nil
			}
			e := suspEntry{sig: [2]byte{area[0], area[1]}, ver: area[3], data: area[4:l], tail: area[4:]}
			total += l
			if total > maxSUSPBytes {
				note(formatErrf(areaOff, "system use area", "more than %d bytes", maxSUSPBytes))
				return damage, nil
			}
			switch string(e.sig[:]) {
			case "ST":
				area = nil
				continue
			case "CE":
				if len(e.data) < 24 {
					note(formatErrf(areaOff, "SUSP CE entry", "length %d", l))
					break
				}
				ce = &[3]uint32{
					binary.LittleEndian.Uint32(e.data[0:]),
					binary.LittleEndian.Uint32(e.data[8:]),
					binary.LittleEndian.Uint32(e.data[16:]),
				}
			default:
				if err := fn(e); err != nil {
					if errors.Is(err, ErrBadName) {
						return damage, formatErr(areaOff, "Rock Ridge "+string(e.sig[:])+" entry", err)
					}
					note(formatErr(areaOff, "Rock Ridge "+string(e.sig[:])+" entry", err))
				}
			}
			area, areaOff = area[l:], areaOff+int64(l)
		}
		if ce == nil {
			return damage, nil
		}
		if hops >= maxContinuations {
			note(formatErrf(areaOff, "SUSP CE entry", "more than %d continuation areas", maxContinuations))
			return damage, nil
		}
		off := int64(ce[0])*SectorSize + int64(ce[1])
		n := int64(ce[2])
		if n > maxCELength || ce[1] >= SectorSize {
			note(formatErrf(areaOff, "SUSP CE entry", "continuation area of %d bytes at offset %d in block %d", n, ce[1], ce[0]))
			return damage, nil
		}
		if off+n > im.size {
			note(formatErr(off, "SUSP continuation area", ErrTruncated))
			return damage, nil
		}
		buf := make([]byte, n)
		if _, err := im.r.ReadAt(buf, off); err != nil {
			return damage, formatErr(off, "SUSP continuation area", err)
		}
		area, areaOff = buf, off
	}
}

var (
	errBadLength  = errors.New("bad entry length")
	errNameTooBig = errors.New("name too long")
	errLinkTooBig = errors.New("symbolic link target too long")
)

// rrEntry folds one SUSP entry into info.
func (info *rrInfo) add(e suspEntry) error {
	d := e.data
	switch string(e.sig[:]) {
	case "SP":
		if len(d) >= 3 && d[0] == 0xBE && d[1] == 0xEF {
			info.hasSP = true
			info.spSkip = d[2]
		}
	case "ER":
		if len(d) >= 4 {
			idLen := int(d[0])
			if 4+idLen <= len(d) {
				switch string(d[4 : 4+idLen]) {
				case "RRIP_1991A", "IEEE_P1282", "IEEE_1282":
					info.rripER = true
				}
			}
		}
	case "RR":
		info.any = true
	case "PX":
		info.any = true
		if len(d) < 32 {
			return errBadLength
		}
		info.hasPX = true
		info.mode = binary.LittleEndian.Uint32(d[0:])
		info.nlink = binary.LittleEndian.Uint32(d[8:])
		info.uid = binary.LittleEndian.Uint32(d[16:])
		info.gid = binary.LittleEndian.Uint32(d[24:])
		if len(d) >= 40 { // RRIP 1.12 file serial number
			info.serial = binary.LittleEndian.Uint32(d[32:])
			info.hasSerial = true
		}
	case "PN":
		info.any = true
		if len(d) < 16 {
			return errBadLength
		}
		info.hasPN = true
		info.devHigh = binary.LittleEndian.Uint32(d[0:])
		info.devLow = binary.LittleEndian.Uint32(d[8:])
	case "NM":
		info.any = true
		if len(d) < 1 {
			return errBadLength
		}
		if info.hasNM && info.nmFlags&nmContinue == 0 {
			// A second, unrelated NM: the first name stands.
			return nil
		}
		info.hasNM = true
		info.nmFlags = d[0]
		if len(info.name)+len(d)-1 > maxNameLen {
			return errNameTooBig
		}
		info.name = append(info.name, d[1:]...)
	case "SL":
		info.any = true
		if len(d) < 1 {
			return errBadLength
		}
		info.hasSL = true
		return info.addSymlink(d[1:], e.tail[1:])
	case "TF":
		info.any = true
		return info.addTimestamps(d)
	case "CL":
		info.any = true
		if len(d) < 8 {
			return errBadLength
		}
		info.hasCL = true
		info.childLBA = binary.LittleEndian.Uint32(d[0:])
	case "RE":
		info.any = true
		info.relocated = true
	case "PL":
		info.any = true
	case "ZF":
		info.any = true
		info.hasZF = true
	}
	return nil
}

// addSymlink appends the component records of one SL entry (c, with area
// the rest of the system use area from c on) to the target. A component
// whose CONTINUE flag is set runs on into the next component record
// (possibly in the next SL entry) without a separating "/". As in Linux and
// libisofs, a component that starts inside the entry is read whole even if
// it runs past the entry's end, as long as it stays in the area.
func (info *rrInfo) addSymlink(c, area []byte) error {
	for p := 0; len(c)-p > 1; {
		flags, n := area[p], int(area[p+1])
		if p+2+n > len(area) {
			return errors.New("component record overruns the system use area")
		}
		var piece []byte
		switch {
		case flags&slCurrent != 0:
			piece = []byte(".")
		case flags&slParent != 0:
			piece = []byte("..")
		case flags&(slRoot|slVolRoot) != 0:
			// The root: the target restarts at "/".
			info.link = append(info.link[:0], '/')
			info.slNeedSlash = false
			p += 2 + n
			continue
		case flags&slHost != 0:
			piece = nil // host name: nothing portable to say
		default:
			piece = area[p+2 : p+2+n]
		}
		if info.slNeedSlash {
			info.link = append(info.link, '/')
		}
		info.link = append(info.link, piece...)
		if len(info.link) > maxLinkLen {
			return errLinkTooBig
		}
		info.slNeedSlash = flags&slContinue == 0
		p += 2 + n
	}
	return nil
}

// addTimestamps decodes a TF entry, keeping the modification time.
func (info *rrInfo) addTimestamps(d []byte) error {
	if len(d) < 1 {
		return errBadLength
	}
	flags := d[0]
	size := 7
	if flags&tfLongForm != 0 {
		size = 17
	}
	d = d[1:]
	for bit := byte(1); bit < tfLongForm; bit <<= 1 {
		if flags&bit == 0 {
			continue
		}
		if len(d) < size {
			return errBadLength
		}
		if bit == tfModify {
			info.hasTF = true
			if size == 7 {
				info.modify = decodeRecordTime(d[:7])
			} else {
				info.modify = decodeLongTime(d[:17])
			}
		}
		d = d[size:]
	}
	return nil
}
