package squashfs

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
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

// readDir decodes the listing of directory e, sorted bytewise by name, and
// charges it to the budget: the returned size is what the caller must
// release when it drops the listing (nothing is held after an error).
// A listing is a sequence of runs: a 12-byte header (count-1, inode block,
// base inode number) and count entries (offset in the inode block, inode
// number delta, type, name size-1, name).
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
	s := &r.Super
	m, err := r.metaAt(int64(s.DirTableStart)+int64(e.dirBlock), int(e.dirPos), r.end)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	left := int64(e.dirSize)
	var ents []dirent
	for left > 0 {
		off := m.offset()
		if err := r.stopped(off, "directory"); err != nil {
			return nil, err
		}
		bad := func(format string, args ...any) error { return corrupt(off, "directory", format, args...) }
		if left < 12 {
			return nil, bad("%d bytes left for a header", left)
		}
		h, err := m.read(12)
		if err != nil {
			return nil, err
		}
		count, block := int64(le.Uint32(h))+1, le.Uint32(h[4:])
		left -= 12
		if count > maxDirHeaderCount || count*9 > left {
			return nil, bad("header of %d entries with %d bytes left", count, left)
		}
		if int64(len(ents))+count > maxDirEntries {
			return nil, bad("more than %d entries", maxDirEntries)
		}
		if uint64(block) >= s.DirTableStart-s.InodeTableStart {
			return nil, bad("inode block %d outside the inode table", block)
		}
		for range count {
			b, err := m.read(8)
			if err != nil {
				return nil, err
			}
			pos, typ, nameLen := le.Uint16(b), le.Uint16(b[4:]), int64(le.Uint16(b[6:]))+1
			left -= 8 + nameLen
			if left < 0 {
				return nil, bad("entry overruns the listing")
			}
			if typ < TypeDir || typ > TypeSocket || pos >= metaSize {
				return nil, bad("entry type %d, inode offset %d", typ, pos)
			}
			name, err := m.read(int(nameLen))
			if err != nil {
				return nil, err
			}
			if !validName(name) {
				return nil, bad("invalid name %q", name)
			}
			if err := r.budget.Charge(direntSize+nameLen, "squashfs directory listing", off); err != nil {
				return nil, err
			}
			*charged += direntSize + nameLen
			ents = append(ents, dirent{name: string(name), ref: uint64(block)<<16 | uint64(pos), typ: typ})
		}
	}
	// mksquashfs writes names in strcmp order; sort if an image does not.
	cmp := func(a, b dirent) int { return strings.Compare(a.name, b.name) }
	if !slices.IsSortedFunc(ents, cmp) {
		slices.SortStableFunc(ents, cmp)
	}
	for i := 1; i < len(ents); i++ {
		if ents[i].name == ents[i-1].name {
			return nil, corrupt(int64(s.DirTableStart)+int64(e.dirBlock), "directory", "duplicate name %q", ents[i].name)
		}
	}
	return ents, nil
}

func validName(b []byte) bool {
	s := string(b) // no allocation: used for comparisons only
	return s != "" && s != "." && s != ".." && bytes.IndexByte(b, '/') < 0 && bytes.IndexByte(b, 0) < 0
}
