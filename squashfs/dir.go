package squashfs

import (
	"bytes"
	"encoding/binary"
)

// dirent is one directory entry: a name and where its inode is.
type dirent struct {
	name string
	ref  uint64 // inode reference
	typ  uint16 // basic inode type the entry claims
}

const (
	maxDirHeaderCount = 256     // mksquashfs and the kernel cap a run at 256 entries
	maxDirEntries     = 1 << 20 // entries in one directory
)

// direntSize is what one held directory entry costs beyond its name.
const direntSize = 48

// readDir decodes the listing of directory e, which must be sorted bytewise
// by name (an unsorted listing is an error), and
// charges it to the budget: the returned size is what the caller must
// release when it drops the listing (nothing is held after an error).
func (r *Reader) readDir(e *Entry) (ents []dirent, charged int64, err error) {
	defer func() {
		if err != nil {
			r.budget.Release(charged)
			ents, charged = nil, 0
		}
	}()
	ents, err = r.readDirCharged(e, &charged)
	return ents, charged, err
}

func (r *Reader) readDirCharged(e *Entry, charged *int64) ([]dirent, error) {
	var ents []dirent
	err := r.scanDir(e, r.listingStart(e), func(name []byte, ref uint64, typ uint16, off int64) (bool, error) {
		n := int64(len(name))
		if err := r.budget.Charge(direntSize+n, "squashfs directory listing", off); err != nil {
			return false, err
		}
		*charged += direntSize + n
		if k := len(ents); k > 0 && string(name) <= ents[k-1].name {
			return false, outOfOrder(string(name), ents[k-1].name, off)
		}
		ents = append(ents, dirent{name: string(name), ref: ref, typ: typ})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return ents, nil
}

// outOfOrder reports the entry name at off in a listing, which does not
// sort after the entry before it, prev. mksquashfs writes listings in
// strcmp order, the kernel's lookup relies on it, and unsquashfs refuses
// a listing that is not ("directory has duplicate names or is unsorted"):
// a listing out of order is damage, not a listing to sort.
func outOfOrder(name, prev string, off int64) error {
	if name == prev {
		return corrupt(off, "directory", "duplicate name %q", name)
	}
	return corrupt(off, "directory", "name %q listed after %q: the listing is not sorted", name, prev)
}

// listingPos is a position in a directory listing: byte at of the listing,
// which lies at byte pos of the metadata block at absolute offset block.
// It is always the start of a header.
type listingPos struct {
	block int64
	pos   int
	at    int64
}

// listingStart returns the position of the first header of e's listing.
func (r *Reader) listingStart(e *Entry) listingPos {
	return listingPos{block: int64(r.Super.DirTableStart) + int64(e.dirBlock), pos: int(e.dirPos)}
}

// scanDir reads the listing of directory e from the header at start to
// the listing's end, checking each header and entry, and calls fn with
// each entry in stored order: its name (valid only during the call), its
// inode reference, the basic type it claims and the offset of the metadata
// block it is in. It stops when fn returns false or an error.
// A listing is a sequence of runs: a 12-byte header (count-1, inode block,
// base inode number) and count entries (offset in the inode block, inode
// number delta, type, name size-1, name).
func (r *Reader) scanDir(e *Entry, start listingPos, fn func(name []byte, ref uint64, typ uint16, off int64) (bool, error)) error {
	s := &r.Super
	m, err := r.metaAt(start.block, start.pos, r.end)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	left := int64(e.dirSize) - start.at
	seen := int64(0)
	for left > 0 {
		off := m.offset()
		if err := r.stopped(off, "directory"); err != nil {
			return err
		}
		bad := func(format string, args ...any) error { return corrupt(off, "directory", format, args...) }
		if left < 12 {
			return bad("%d bytes left for a header", left)
		}
		h, err := m.read(12)
		if err != nil {
			return err
		}
		count, block := int64(le.Uint32(h))+1, le.Uint32(h[4:])
		left -= 12
		if count > maxDirHeaderCount || count*9 > left {
			return bad("header of %d entries with %d bytes left", count, left)
		}
		if seen += count; seen > maxDirEntries {
			return bad("more than %d entries", maxDirEntries)
		}
		if uint64(block) >= s.DirTableStart-s.InodeTableStart {
			return bad("inode block %d outside the inode table", block)
		}
		for range count {
			b, err := m.read(8)
			if err != nil {
				return err
			}
			pos, typ, nameLen := le.Uint16(b), le.Uint16(b[4:]), int64(le.Uint16(b[6:]))+1
			left -= 8 + nameLen
			if left < 0 {
				return bad("entry overruns the listing")
			}
			if typ < TypeDir || typ > TypeSocket || pos >= metaSize {
				return bad("entry type %d, inode offset %d", typ, pos)
			}
			name, err := m.read(int(nameLen))
			if err != nil {
				return err
			}
			if !validName(name) {
				return bad("invalid name %q", name)
			}
			if more, err := fn(name, uint64(block)<<16|uint64(pos), typ, off); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// maxIndexName is the longest name a directory index entry may hold.
const maxIndexName = 256

// lookupName finds name in directory e without holding its listing. An
// extended directory's index (one entry per metadata block the listing
// spans, naming the first entry of the header that starts there) says
// where to start; the scan then stops at the first name sorted after the
// one sought. So a lookup in a directory of 100,000 entries decodes one or
// two metadata blocks, as the kernel's does. Like the kernel, it trusts the
// order mksquashfs writes: an image whose listing is not sorted can make it
// miss a name; readDir, and so Walk and ReadDir, report such a listing as
// damaged.
//
// The index entry the scan starts from must name the entry it points at:
// an index that contradicts its listing would make a lookup miss a name
// the listing holds (the kernel's would, silently), so it is damage at
// the index entry.
func (r *Reader) lookupName(e *Entry, name string) (dirent, bool, error) {
	start, hint, err := r.seekIndex(e, name)
	if err != nil {
		return dirent{}, false, err
	}
	var d dirent
	found := false
	err = r.scanDir(e, start, func(n []byte, ref uint64, typ uint16, _ int64) (bool, error) {
		if hint.off >= 0 {
			if string(n) != hint.name {
				return false, corrupt(hint.off, "directory index", "entry %d names %q, the listing there starts with %q", hint.i, hint.name, n)
			}
			hint.off = -1
		}
		switch {
		case string(n) == name:
			d, found = dirent{name: name, ref: ref, typ: typ}, true
			return false, nil
		case string(n) > name:
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return dirent{}, false, err
	}
	return d, found, nil
}

// indexHint is the directory index entry a lookup starts from: its number,
// the name it gives for the listing's entry it points at, and its image
// offset (-1: the lookup starts at the listing's start).
type indexHint struct {
	i    int
	name string
	off  int64
}

// seekIndex returns where a scan for name in e's listing may start: the
// last index entry whose name sorts at or before name, else the listing's
// start. Index entries are checked against the listing (increasing
// positions inside it, blocks inside the directory table); the caller
// checks the name the chosen one gives.
func (r *Reader) seekIndex(e *Entry, name string) (start listingPos, hint indexHint, err error) {
	start, hint.off = r.listingStart(e), -1
	if e.idxCount == 0 {
		return start, hint, nil
	}
	s := &r.Super
	m, err := r.metaAt(e.idxBlock, int(e.idxPos), int64(s.DirTableStart))
	if err != nil {
		return start, hint, err
	}
	le := binary.LittleEndian
	for i := range int(e.idxCount) {
		off := m.offset()
		if err := r.stopped(off, "directory index"); err != nil {
			return start, hint, err
		}
		b, err := m.read(12)
		if err != nil {
			return start, hint, err
		}
		at, block, size := int64(le.Uint32(b)), le.Uint32(b[4:]), int64(le.Uint32(b[8:]))+1
		if size > maxIndexName {
			return start, hint, corrupt(off, "directory index", "entry %d: name of %d bytes", i, size)
		}
		n, err := m.read(int(size))
		if err != nil {
			return start, hint, err
		}
		if string(n) > name {
			break
		}
		if at <= start.at || at >= int64(e.dirSize) || block < e.dirBlock || uint64(block) >= uint64(r.end)-s.DirTableStart {
			return start, hint, corrupt(off, "directory index", "entry %d: listing byte %d in block %d (listing of %d bytes at block %d)", i, at, block, e.dirSize, e.dirBlock)
		}
		start = listingPos{block: int64(s.DirTableStart) + int64(block), pos: int((int64(e.dirPos) + at) % metaSize), at: at}
		hint = indexHint{i: i, name: string(n), off: off}
	}
	return start, hint, nil
}

func validName(b []byte) bool {
	s := string(b) // no allocation: used for comparisons only
	return s != "" && s != "." && s != ".." && bytes.IndexByte(b, '/') < 0 && bytes.IndexByte(b, 0) < 0
}
