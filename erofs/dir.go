package erofs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// dirent is one directory entry.
type dirent struct {
	name  string
	nid   uint64
	ftype uint8
	off   int64 // image offset of the entry (-1 in a compressed listing)
}

// Limits on directories.
const (
	maxDirEntries = 1 << 20 // entries of one directory
	direntCost    = 48      // what one entry costs besides its name
)

// readDir returns the entries of directory e in on-disk order, which must
// be sorted by name (an unsorted listing is an error), without "."
// and "..", and what was charged to the budget for them.
func (r *Reader) readDir(e *Entry) ([]dirent, int64, error) {
	if e.Size == 0 {
		return nil, 0, nil
	}
	f, err := r.OpenFile(e)
	if err != nil {
		return nil, 0, err
	}
	if err := r.budget.Charge(r.bs, "erofs directory block", e.iloc); err != nil {
		return nil, 0, err
	}
	defer r.budget.Release(r.bs)
	blk := make([]byte, r.bs)
	var ents []dirent
	var charged int64
	fail := func(err error) ([]dirent, int64, error) {
		r.budget.Release(charged)
		return nil, 0, err
	}
	for k := int64(0); k*r.bs < e.Size; k++ {
		err := r.dirBlock(e, f, blk, k, func(d dirent) error {
			if len(ents) == maxDirEntries {
				return corrupt(d.off, "directory block", "more than %d entries", maxDirEntries)
			}
			if n := len(ents); n > 0 && d.name <= ents[n-1].name {
				return outOfOrder(e, d, ents[n-1].name)
			}
			if err := r.budget.Charge(int64(len(d.name))+direntCost, "erofs directory entries", d.off); err != nil {
				return err
			}
			charged += int64(len(d.name)) + direntCost
			ents = append(ents, d)
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	return ents, charged, nil
}

// outOfOrder reports entry d of directory e, which does not sort after the
// entry before it, prev. The kernel finds names by binary search over a
// listing sorted bytewise, as mkfs.erofs writes it and fsck.erofs checks:
// a listing out of order holds names a lookup cannot find, so it is
// damage, not a listing to sort.
func outOfOrder(e *Entry, d dirent, prev string) error {
	off := d.off
	if off < 0 {
		off = e.iloc
	}
	what := fmt.Sprintf("directory %s", e.Path)
	if d.name == prev {
		return corrupt(off, what, "duplicate name %q", d.name)
	}
	return corrupt(off, what, "name %q listed after %q: the listing is not sorted", d.name, prev)
}

// dirBlock reads listing block k of directory e (open as f) into blk and
// calls fn for each entry but "." and "..", in on-disk order.
func (r *Reader) dirBlock(e *Entry, f *File, blk []byte, k int64, fn func(dirent) error) error {
	pos := k * r.bs
	n := min(r.bs, e.Size-pos)
	b := blk[:n]
	if _, err := f.ReadAt(b, pos); err != nil && err != io.EOF {
		return err
	}
	at := int64(-1) // the listing block's image offset when known
	if x, err := f.m.at(pos); err == nil && !x.Compressed && !x.Hole() {
		at = x.Phys + pos - x.Off
	}
	entAt := func(i int64) int64 {
		if at < 0 {
			return -1
		}
		return at + 12*i
	}
	what := "directory block of " + e.Path
	le := binary.LittleEndian
	if n < 12 {
		return corrupt(at, what, "%d bytes", n)
	}
	first := int64(le.Uint16(b[8:]))
	if first < 12 || first%12 != 0 || first > n {
		return corrupt(at, what, "first name offset %d", first)
	}
	count := first / 12
	for i := int64(0); i < count; i++ {
		d := b[12*i:]
		start := int64(le.Uint16(d[8:]))
		end := n
		if i+1 < count {
			end = int64(le.Uint16(d[12+8:]))
		}
		if start < first || end > n || start >= end {
			return corrupt(entAt(i), what, "name at [%d, %d) in a block of %d", start, end, n)
		}
		name := b[start:end]
		if i+1 == count {
			if j := bytes.IndexByte(name, 0); j >= 0 {
				name = name[:j]
			}
		}
		nm := string(name)
		if nm == "." || nm == ".." {
			continue
		}
		if nm == "" || strings.ContainsAny(nm, "/\x00") {
			return corrupt(entAt(i), what, "name %q", nm)
		}
		if err := fn(dirent{name: nm, nid: le.Uint64(d[0:]), ftype: d[10], off: entAt(i)}); err != nil {
			return err
		}
	}
	return nil
}

// lookupName finds name in directory e by binary search over its listing
// blocks, as the kernel does (names are sorted across blocks): a few block
// reads however large the directory. An image whose listing is not sorted
// can make it miss a name; readDir, and so Walk and ReadDir, report such a
// listing as damaged.
func (r *Reader) lookupName(e *Entry, name string) (dirent, bool, error) {
	if e.Size == 0 {
		return dirent{}, false, nil
	}
	f, err := r.OpenFile(e)
	if err != nil {
		return dirent{}, false, err
	}
	if err := r.budget.Charge(r.bs, "erofs directory block", e.iloc); err != nil {
		return dirent{}, false, err
	}
	defer r.budget.Release(r.bs)
	blk := make([]byte, r.bs)
	var ents []dirent
	lo, hi := int64(0), (e.Size+r.bs-1)/r.bs-1
	for lo <= hi {
		mid := lo + (hi-lo)/2
		ents = ents[:0]
		err := r.dirBlock(e, f, blk, mid, func(d dirent) error {
			if len(ents) < int(r.bs) {
				ents = append(ents, d)
			}
			return nil
		})
		if err != nil {
			return dirent{}, false, err
		}
		switch {
		case len(ents) == 0 || name > ents[len(ents)-1].name:
			lo = mid + 1
		case name < ents[0].name:
			hi = mid - 1
		default:
			for _, d := range ents {
				if d.name == name {
					return d, true, nil
				}
			}
			return dirent{}, false, nil
		}
	}
	return dirent{}, false, nil
}

// checkType reports a dirent whose file type contradicts the inode's.
func checkType(e *Entry, ftype uint8) error {
	if ftype != 0 && ftype != e.ftype {
		return corrupt(e.iloc, fmt.Sprintf("inode nid %d of %s", e.Nid, e.Path), "type %d but directory entry says %d", e.ftype, ftype)
	}
	return nil
}
