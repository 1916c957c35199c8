package isodiff

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/tree"
)

// Root filesystem images wrapped in an archive of the ISO: Fedora CoreOS's
// live ISO carries images/pxeboot/rootfs.img, an uncompressed cpio (newc)
// archive holding root.squashfs (or an EROFS image). A newc member's data
// is stored whole and contiguous, so the image inside is read in place, as
// a section of the ISO, like any other container: it is named
// "<archive> > <member>", e.g. "/images/pxeboot/rootfs.img > /root.squashfs".
//
// The scan reads only headers: each is checked against the archive's own
// size, at most maxCpioMembers are looked at, and the context is checked as
// it goes. A compressed archive is not looked into (its members cannot be
// read in place).
const (
	cpioHeaderSize  = 110
	maxCpioMembers  = 1 << 16
	maxCpioNameSize = 4096
	nestedSeparator = " > "
)

var cpioMagics = [][]byte{[]byte("070701"), []byte("070702")}

// nestedContainers returns the filesystem images inside archive e of side
// i, as synthetic entries whose extents are their data in the ISO. head is
// the file's first bytes when the caller has read them, else nil.
func (s *session) nestedContainers(i int, e *iso9660.Entry, head []byte) []*iso9660.Entry {
	if s.opts.NoScan || len(e.Extents) != 1 || e.Damage != nil || e.Size < cpioHeaderSize {
		return nil
	}
	base, size := e.Extents[0].Offset, e.Extents[0].Size
	r := s.in[i].R
	var hdr [cpioHeaderSize]byte
	if !s.probe(i, e, head, 0, hdr[:6]) || !(bytes.Equal(hdr[:6], cpioMagics[0]) || bytes.Equal(hdr[:6], cpioMagics[1])) {
		return nil
	}
	var out []*iso9660.Entry
	off := int64(0)
	for n := 0; n < maxCpioMembers && off+cpioHeaderSize <= size; n++ {
		if s.ctx.Err() != nil {
			return out
		}
		if _, err := r.ReadAt(hdr[:], base+off); err != nil || !(bytes.Equal(hdr[:6], cpioMagics[0]) || bytes.Equal(hdr[:6], cpioMagics[1])) {
			return out
		}
		field := func(k int) (int64, bool) {
			v, err := strconv.ParseUint(string(hdr[6+8*k:14+8*k]), 16, 32)
			return int64(v), err == nil
		}
		mode, ok1 := field(1)
		fileSize, ok2 := field(6)
		nameSize, ok3 := field(11)
		if !ok1 || !ok2 || !ok3 || nameSize == 0 || nameSize > maxCpioNameSize {
			return out
		}
		nameOff := off + cpioHeaderSize
		dataOff := (nameOff + nameSize + 3) &^ 3
		if dataOff > size || fileSize > size-dataOff {
			return out
		}
		name := make([]byte, nameSize)
		if _, err := r.ReadAt(name, base+nameOff); err != nil {
			return out
		}
		member := string(bytes.TrimRight(name, "\x00"))
		if member == "TRAILER!!!" {
			return out
		}
		if mode&0o170000 == 0o100000 && fileSize >= 96 {
			inner := &iso9660.Entry{Node: tree.Node{Path: e.Path + nestedSeparator + "/" + strings.TrimPrefix(member, "./"), Size: fileSize, Mode: 0o444},
				Extents: []iso9660.Extent{{Offset: base + dataOff, Size: fileSize}}}
			if f := s.containerFormat(i, inner, nil); f != "" {
				out = append(out, inner)
				s.logf("found a %s image in %s: %s", f, e.Path, member)
			}
		}
		off = (dataOff + fileSize + 3) &^ 3
	}
	return out
}

// nestedIn reports whether a container lies inside the ISO file at path.
func (s *session) nestedIn(path string) bool {
	for _, c := range s.containers {
		if strings.HasPrefix(c.path, path+nestedSeparator) {
			return true
		}
	}
	return false
}
