package iso9660

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/isodiff/isodiff/budget"
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
	slCont          int   // what the next SL component does: slEnded, slNewComponent, slContinued
	slOff           int64 // offset of the last SL entry
	hasTF           bool
	modify          time.Time
	hasCL           bool
	childLBA        uint32
	relocated       bool // RE
	hasSP           bool
	spSkip          byte
	rripER          bool // an ER entry names RRIP
	hasZF           bool
	zf              zfParams
	damage          error // first malformed entry, see systemUse

	b        *budget.Budget
	held     int64 // bytes of name and link charged to b
	entryOff int64 // offset of the record, for budget errors
}

// States of a symlink target being read, as libisofs keeps them.
const (
	slEnded        = iota // no SL read yet, or the last one did not continue
	slNewComponent        // the next component starts after a "/"
	slContinued           // the next component continues the last one
)

// suspEntry is one System Use entry: signature, version and data after the
// four-byte header. tail runs from the data to the end of the area: some
// writers (genisoimage with long symlinks) let the last SL component run
// past the entry's length, and Linux and libisofs read it from there. off
// is the entry's offset in the image.
type suspEntry struct {
	sig  [2]byte
	ver  byte
	data []byte
	tail []byte
	off  int64
}

// suspReader decodes the System Use fields of the records of one walk (or
// of one look at the root, in Open). It reads each continuation area into
// one buffer, and remembers which bytes of continuation areas the walk has
// decoded: an area reached a second time, by the same record (a loop) or
// by another (an area shared by many records, which would make each of
// them decode it again), is damage, so that the SUSP bytes a walk decodes
// are at most the image's. The map costs one bit per continuation byte
// read, in 2 KiB blocks, charged to the budget.
type suspReader struct {
	im   *Image
	ctx  context.Context
	b    *budget.Budget
	buf  []byte
	seen map[uint32]*ceBits
	held int64
}

// ceBits marks the bytes of one block read as continuation areas.
type ceBits [SectorSize / 64]uint64

func newSUSPReader(im *Image, ctx context.Context) *suspReader {
	return &suspReader{im: im, ctx: ctx, b: im.budget}
}

// release gives back what the reader charged; it may be used again after.
func (s *suspReader) release() {
	s.b.Release(s.held)
	s.held = 0
	s.seen = nil
	s.buf = nil
}

// claim marks the n bytes at off as decoded. It reports false, and the
// offset of the first byte decoded before, when some of them already were.
func (s *suspReader) claim(off, n int64) (int64, bool, error) {
	for p := off; p < off+n; {
		blk := uint32(p / SectorSize)
		bits := s.seen[blk]
		in := p % SectorSize
		end := min(SectorSize, in+off+n-p)
		if bits != nil {
			for i := in; i < end; i++ {
				if bits[i/64]&(1<<(i%64)) != 0 {
					return int64(blk)*SectorSize + i, false, nil
				}
			}
		}
		p += end - in
	}
	for p := off; p < off+n; {
		blk := uint32(p / SectorSize)
		bits := s.seen[blk]
		if bits == nil {
			if err := s.b.Charge(ceBitsCost, "map of Rock Ridge continuation areas read", p); err != nil {
				return 0, false, budgetErr(p, "SUSP continuation area", err)
			}
			s.held += ceBitsCost
			if s.seen == nil {
				s.seen = make(map[uint32]*ceBits)
			}
			bits = new(ceBits)
			s.seen[blk] = bits
		}
		in := p % SectorSize
		end := min(SectorSize, in+off+n-p)
		for i := in; i < end; i++ {
			bits[i/64] |= 1 << (i % 64)
		}
		p += end - in
	}
	return 0, true, nil
}

// systemUse walks the SUSP entries of a record's system use area su (whose
// first skip bytes are not SUSP), following CE continuation areas, and calls
// fn for each entry. suOff is the image offset of su, for error reports.
//
// Malformed SUSP data does not stop the walk: like the Linux kernel and
// libisofs, systemUse keeps what it decoded before the damage and ignores
// the rest of the record's entries (or, for an entry fn rejects, that
// entry), and returns the first damage as a *FormatError naming the bytes
// at fault. A continuation area that this walk decoded before (a chain
// looping back, or an area shared with another record) is damage at the
// area's offset, and is not decoded again. Only a failure to read the
// image, a bad name, a refused budget charge or a cancelled context is
// returned as err.
func (s *suspReader) systemUse(su []byte, suOff int64, skip int, fn func(e suspEntry) error) (damage, err error) {
	if skip > len(su) {
		return nil, nil
	}
	note := func(e error) {
		if damage == nil {
			damage = e
		}
	}
	area, areaOff := su[skip:], suOff+int64(skip)
	var chain [maxContinuations]int64 // areas of this record, to tell a loop from sharing
	total := 0
	for hops := 0; ; hops++ {
		var ce *[3]uint32
		var ceOff int64
		for len(area) >= 4 {
			l := int(area[2])
			if area[0] == 0 { // padding
				break
			}
			if l < 4 || l > len(area) {
				note(formatErrf(areaOff, "system use entry", "%q length %d, %d bytes left", area[:2], l, len(area)))
				return damage, nil
			}
			e := suspEntry{sig: [2]byte{area[0], area[1]}, ver: area[3], data: area[4:l], tail: area[4:], off: areaOff}
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
				ceOff = areaOff
			default:
				if err := fn(e); err != nil {
					if errors.Is(err, ErrBadName) {
						return damage, formatErr(areaOff, "Rock Ridge "+string(e.sig[:])+" entry", err)
					}
					var fe *FormatError
					if errors.As(err, &fe) { // a refused budget charge
						return damage, err
					}
					note(formatErr(areaOff, "Rock Ridge "+string(e.sig[:])+" entry", err))
				}
			}
			area, areaOff = area[l:], areaOff+int64(l)
		}
		if ce == nil {
			return damage, nil
		}
		if s.ctx != nil {
			if err := s.ctx.Err(); err != nil {
				return damage, err
			}
		}
		if hops >= maxContinuations {
			note(formatErrf(ceOff, "SUSP CE entry", "more than %d continuation areas", maxContinuations))
			return damage, nil
		}
		off := int64(ce[0])*SectorSize + int64(ce[1])
		n := int64(ce[2])
		if n > maxCELength || ce[1] >= SectorSize {
			note(formatErrf(ceOff, "SUSP CE entry", "continuation area of %d bytes at offset %d in block %d", n, ce[1], ce[0]))
			return damage, nil
		}
		if off+n > s.im.size {
			note(formatErrf(off, "SUSP continuation area", "%w: %d bytes named by the CE entry at offset %d", ErrTruncated, n, ceOff))
			return damage, nil
		}
		for _, prev := range chain[:hops] {
			if prev == off {
				note(formatErrf(off, "SUSP continuation area", "reached again by the CE entry at offset %d: the chain loops", ceOff))
				return damage, nil
			}
		}
		chain[hops] = off
		if first, ok, err := s.claim(off, n); err != nil {
			return damage, err
		} else if !ok {
			note(formatErrf(off, "SUSP continuation area", "its byte at offset %d was decoded before, for another record or an overlapping area (CE entry at offset %d): it is not decoded again", first, ceOff))
			return damage, nil
		}
		if s.buf == nil {
			if err := s.b.Charge(maxCELength, "Rock Ridge continuation area buffer", off); err != nil {
				return damage, budgetErr(off, "SUSP continuation area", err)
			}
			s.held += maxCELength
			s.buf = make([]byte, maxCELength)
		}
		buf := s.buf[:n]
		if _, err := s.im.r.ReadAt(buf, off); err != nil {
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
		return info.charge()
	case "SL":
		info.any = true
		if len(d) < 1 {
			return errBadLength
		}
		if info.hasSL && info.slCont == slEnded {
			// libisofs ignores it ("New SL entry found without previous
			// CONTINUE flag"); Linux would append it.
			return errors.New("SL entry after a target that did not continue: ignored")
		}
		info.hasSL = true
		info.slOff = e.off
		if err := info.addSymlink(d[1:], e.tail[1:]); err != nil {
			return err
		}
		if info.slCont != slContinued {
			info.slCont = slEnded
			if d[0]&slContinue != 0 {
				info.slCont = slNewComponent
			}
		}
		return nil
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
	case "ZF", "Z2":
		info.any = true
		if info.hasZF {
			return errors.New("second zisofs entry: ignored")
		}
		zf, err := parseZF(e)
		if err != nil {
			return err
		}
		info.hasZF, info.zf = true, zf
	}
	return nil
}

// addSymlink appends the component records of one SL entry (c, with area
// the rest of the system use area from c on) to the target, as libisofs
// (xorriso) reads them: a component starts with a "/" unless it continues
// the previous one (CONTINUE flag) or the target so far ends with "/"; a
// ROOT component is a "/". So "usr//lib" (recorded as usr, ROOT, lib)
// reads back as written, and a ROOT in the middle of a target adds a "/"
// rather than restarting it, as in Linux (fs/isofs/rock.c) too. A
// component's text ends at a NUL, as libisofs reads it. As in Linux and
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
		case flags&slRoot != 0:
			piece = []byte("/")
		case flags&^slContinue != 0:
			// VOLROOT, HOST and unknown flags: libisofs refuses the entry.
			return fmt.Errorf("component flags %#02x not supported", flags)
		default:
			piece = area[p+2 : p+2+n]
			if i := bytes.IndexByte(piece, 0); i >= 0 {
				piece = piece[:i]
			}
		}
		switch info.slCont {
		case slNewComponent:
			if len(info.link) == 0 || info.link[len(info.link)-1] != '/' {
				info.link = append(info.link, '/')
			}
			info.link = append(info.link, piece...)
		case slContinued:
			info.link = append(info.link, piece...)
		default:
			info.link = append(info.link[:0], piece...)
		}
		if len(info.link) > maxLinkLen {
			return errLinkTooBig
		}
		if err := info.charge(); err != nil {
			return err
		}
		info.slCont = slNewComponent
		if flags&slContinue != 0 {
			info.slCont = slContinued
		}
		p += 2 + n
	}
	return nil
}

// charge charges the growth of the name and link buffers to the budget.
func (info *rrInfo) charge() error {
	c := int64(cap(info.name) + cap(info.link))
	if c <= info.held {
		return nil
	}
	if err := info.b.Charge(c-info.held, "Rock Ridge name and link target", info.entryOff); err != nil {
		return budgetErr(info.entryOff, "Rock Ridge entry", err)
	}
	info.held = c
	return nil
}

// release gives back what charge charged.
func (info *rrInfo) release() {
	info.b.Release(info.held)
	info.held = 0
}

// finish reports what is left incomplete at the end of a record's entries.
func (info *rrInfo) finish() error {
	if info.hasSL && info.slCont != slEnded {
		return formatErrf(info.slOff, "Rock Ridge SL entry", "incomplete link target: the last SL entry continues")
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
