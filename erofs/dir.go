package erofs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
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

// readDir returns the entries of directory e sorted by name, without "."
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
	for pos := int64(0); pos < e.Size; pos += r.bs {
		n := min(r.bs, e.Size-pos)
		b := blk[:n]
		if _, err := f.ReadAt(b, pos); err != nil && err != io.EOF {
			return fail(err)
		}
		at := e.iloc // the listing block's image offset when known
		if x, err := f.m.at(pos); err == nil && !x.Compressed && !x.Hole() {
			at = x.Phys + pos - x.Off
		}
		if at == e.iloc {
			at = -1
		}
		what := "directory block"
		le := binary.LittleEndian
		if n < 12 {
			return fail(corrupt(at, what, "%d bytes", n))
		}
		first := int64(le.Uint16(b[8:]))
		if first < 12 || first%12 != 0 || first > n {
			return fail(corrupt(at, what, "first name offset %d", first))
		}
		count := first / 12
		if int64(len(ents))+count > maxDirEntries {
			return fail(corrupt(at, what, "more than %d entries", maxDirEntries))
		}
		for i := int64(0); i < count; i++ {
			d := b[12*i:]
			start := int64(le.Uint16(d[8:]))
			end := n
			if i+1 < count {
				end = int64(le.Uint16(d[12+8:]))
			}
			if start < first || end > n || start >= end {
				return fail(corrupt(at+12*i, what, "name at [%d, %d) in a block of %d", start, end, n))
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
				return fail(corrupt(at+12*i, what, "name %q", nm))
			}
			if err := r.budget.Charge(int64(len(nm))+direntCost, "erofs directory entries", at); err != nil {
				return fail(err)
			}
			charged += int64(len(nm)) + direntCost
			ents = append(ents, dirent{name: nm, nid: le.Uint64(d[0:]), ftype: d[10], off: at + 12*i})
		}
	}
	slices.SortFunc(ents, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(ents); i++ {
		if ents[i].name == ents[i-1].name {
			return fail(corrupt(e.iloc, "directory", "duplicate name %q", ents[i].name))
		}
	}
	return ents, charged, nil
}

// checkType reports a dirent whose file type contradicts the inode's.
func checkType(e *Entry, ftype uint8) error {
	if ftype != 0 && ftype != e.ftype {
		return corrupt(e.iloc, fmt.Sprintf("inode nid %d of %s", e.Nid, e.Path), "type %d but directory entry says %d", e.ftype, ftype)
	}
	return nil
}
