package pkgdb

import (
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"slices"

	"github.com/isodiff/isodiff/squashfs"
)

// An Index entry is a path's hash (its top 40 bits) and the listing
// package's index (the low 24 bits), charged 16 bytes (8 held, and the
// slack of a growing slice).
const (
	indexPkgBits = 24
	indexPkgMask = 1<<indexPkgBits - 1
	indexCost    = 16
)

// Index is a dpkg database read before the question is known: the
// packages, and of every path their file lists and conffiles name only a
// hash, so that it can later tell which few packages may list a path (8
// bytes a listed path, where a DB indexing every path holds the path too).
// Load then reads again only those packages' lists and checksums, for the
// paths asked about. isodiff starts one while the images are still being
// hashed, before it knows which files diverge.
//
// Two paths whose hashes collide only make a package read for nothing:
// Load knows what a package lists from its list, not from the hash.
type Index struct {
	d       *DB
	fsys    fs.FS
	closer  io.Closer // the fs view, when the Index made it
	seed    maphash.Seed
	entries []uint64 // hash&^indexPkgMask | package, sorted once read
	held    int64    // what the entries are charged
}

// NewIndex reads the dpkg database of fsys as Load does, keeping only the
// path hashes. o.Want is ignored (Load takes the paths); o.MaxPaths caps
// the listed paths (each listing of a path counts); the budget is charged
// for the hashes until Load or Close.
func NewIndex(fsys fs.FS, o Options) (*Index, error) {
	o = o.withDefaults()
	o.Want = nil
	x := &Index{d: newDB(o), fsys: fsys, seed: maphash.MakeSeed()}
	if err := x.read(); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// NewIndexSquashfs is NewIndex on a squashfs image, as LoadSquashfs is
// Load: the fs view of the database's folder lives until Load or Close.
func NewIndexSquashfs(r *squashfs.Reader, o Options) (*Index, error) {
	o = o.withDefaults()
	s, err := SquashfsFS(r, o, o.AdminDir)
	if err != nil {
		return nil, err
	}
	x, err := NewIndex(s, o)
	if err != nil {
		s.Close()
		return nil, err
	}
	x.closer = s
	return x, nil
}

func (x *Index) read() error {
	d := x.d
	if err := d.loadStatus(x.fsys); err != nil {
		return err
	}
	for i := range d.pkgs {
		if err := d.ctx.Err(); err != nil {
			return fmt.Errorf("pkgdb: reading the file lists: %w", err)
		}
		p, pend := d.pkgs[i], d.pending[i]
		if pend.onDisk {
			f, name, err := d.infoFile(x.fsys, p, "list")
			if err != nil {
				return err
			}
			if f == nil {
				d.warnf("package %s: no file list in %s/info: its files are not attributed", p, d.opt.AdminDir)
			} else {
				_, err = d.parseList(f, name, int32(i), x.add)
				f.Close()
				if err != nil {
					return err
				}
			}
		}
		for _, c := range pend.conffiles {
			if _, err := x.add(d.place(c.path, p.Name), int32(i), -1); err != nil {
				return fmt.Errorf("pkgdb: conffile %s of %s: %w", c.path, p, err)
			}
		}
	}
	d.br = nil
	slices.Sort(x.entries)
	return nil
}

// add records that package i lists cp (parseList's use of a path).
func (x *Index) add(cp string, i int32, off int64) (bool, error) {
	if i > indexPkgMask {
		return false, errorf(ErrLimit, "more than %d packages", indexPkgMask+1)
	}
	if len(x.entries) >= x.d.opt.MaxPaths {
		return false, errorf(ErrLimit, "more than %d listed paths", x.d.opt.MaxPaths)
	}
	if err := x.d.charge(indexCost, "dpkg file index (path hashes)", off); err != nil {
		return false, err
	}
	x.held += indexCost
	x.entries = append(x.entries, x.key(cp)|uint64(i))
	return true, nil
}

// key is cp's hash in an entry's place.
func (x *Index) key(cp string) uint64 {
	return maphash.String(x.seed, cp) &^ indexPkgMask
}

// Load returns the database for the (canonical, absolute) paths want, as
// Load with Options.Want accepting exactly those: it reads the file lists
// and checksums of the packages whose lists may name one of them. The
// Index is used up: its hashes are let go (call Close all the same).
func (x *Index) Load(want []string) (*DB, error) {
	if x.d == nil {
		return nil, fmt.Errorf("pkgdb: index already loaded or closed")
	}
	set := make(map[string]bool, len(want))
	lists := map[int32]bool{}
	for _, p := range want {
		set[p] = true
		k := x.key(p)
		j, _ := slices.BinarySearch(x.entries, k)
		for ; j < len(x.entries) && x.entries[j]&^indexPkgMask == k; j++ {
			lists[int32(x.entries[j]&indexPkgMask)] = true
		}
	}
	d := x.d
	x.d = nil
	d.release(x.held)
	x.entries, x.held = nil, 0
	d.opt.Want = func(p string) bool { return set[p] }
	err := d.loadPackages(x.fsys, lists)
	x.Close() // the fs view: the DB holds no file
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close gives back what the Index holds; the DB Load returned is its own.
func (x *Index) Close() {
	if x.d != nil {
		x.d.Close()
		x.d = nil
	}
	x.entries = nil
	if x.closer != nil {
		x.closer.Close()
		x.closer = nil
	}
}
