package iso9660

import (
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/fsview"
	"github.com/isodiff/isodiff/tree"
)

// FS returns the image's tree as an io/fs.FS: the tree a Walker yields
// (same names, in the walk's namespace; same metadata), with fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS, so that fs.WalkDir, fs.ReadFile, fs.Stat,
// fs.Lstat and fs.ReadLink work on it. A FileInfo's Mode is the full mode
// (setuid, setgid, sticky, device, fifo and socket types), its ModTime the
// Rock Ridge TF modification time (else the record's), its Size Node.Size,
// and its Sys() the *Entry (a copy of its own: Uid, Gid, Nlink, device
// numbers, RecordTime, Extents, Damage...). A regular file opens as an
// fs.File that is also an io.ReaderAt and an io.Seeker (over a File: a
// zisofs file reads as its own bytes); a symbolic link opens, but does
// not read. Symbolic links are never followed: Stat describes the link,
// and a path through one does not exist. A name that is not valid UTF-8
// is listed by ReadDir but cannot be opened (io/fs paths are UTF-8; Walk
// yields every name).
//
// A path is resolved component by component: only the directories on the
// path are read, each as a walk reads it (Rock Ridge relocations
// followed, multi-extent files merged, damage noted on the entries), with
// the image's budget and context. The Image keeps, until Close, the
// listings of the directories read most recently (at most 8 MiB of
// budget) and the path of every directory read, charged to the budget: a
// directory whose records are those of a directory read at another path
// (a loop, or a directory linked twice) is ErrLoop there, as in a walk,
// and one nested deeper than MaxDepth is ErrTooDeep. Unlike a walk's, the
// check that no two records' continuation areas overlap is made within
// each directory only. The FS is safe for concurrent use, and must not be
// used after the Image's Close.
func (im *Image) FS() fs.FS {
	return fsview.New(&fsview.Source[*Entry, *Entry]{
		Node:   entryNode,
		Lookup: im.lookup,
		List: func(d *Entry) ([]*Entry, func(), error) {
			kids, err := im.children(d)
			return kids, nil, err // kept by the index, not by the listing
		},
		Child: func(d, c *Entry) (*Entry, error) { return c.clone(tree.Join(d.Path, c.name)), nil },
		Open:  func(e *Entry) (fsview.File, error) { return im.OpenFile(e) },
	})
}

func entryNode(e *Entry) *tree.Node { return &e.Node }

// What the index of directories read through FS keeps at most.
const (
	maxIndexCost  = 8 << 20 // budget charged by the listings kept
	maxIndexLists = 1024    // listings kept
	listingCost   = 96      // a listing and its map slot
)

// dirIndex is what lookups keep on the Image: the root entry, the
// listings of the directories read most recently, and the path at which
// each directory was first read.
type dirIndex struct {
	mu       sync.Mutex
	root     *Entry
	lists    map[Extent]*listing // by the directory's records
	tick     uint64
	cost     int64             // charged for the listings
	dirs     map[uint32]string // first block of a directory's records → its path
	dirsCost int64             // charged for dirs
}

// listing is the children of one directory, sorted by name, without
// paths (they do not depend on the path: a listing's errors, which do,
// are not kept).
type listing struct {
	children []*Entry
	cost     int64
	used     uint64
}

// release gives back what the index holds, at Close.
func (x *dirIndex) release(b *budget.Budget) {
	x.mu.Lock()
	defer x.mu.Unlock()
	b.Release(x.cost + x.dirsCost)
	x.root, x.lists, x.dirs, x.cost, x.dirsCost = nil, nil, nil, 0, 0
}

// rootEntry returns the root, read once.
func (im *Image) rootEntry() (*Entry, error) {
	x := &im.index
	x.mu.Lock()
	root := x.root
	x.mu.Unlock()
	if root != nil {
		return root, nil
	}
	w := im.Walk()
	defer w.Close()
	root, err := w.root()
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.root == nil {
		x.root = root
	}
	return x.root, nil
}

// clone returns a copy of e at path p, for a caller to own.
func (e *Entry) clone(p string) *Entry {
	c := *e
	c.Path, c.charge = p, 0
	c.Extents = slices.Clone(e.Extents)
	return &c
}

// lookup resolves name (an fs.ValidPath) to a copy of its entry, reading
// only the directories on the path. A missing name is fs.ErrNotExist.
func (im *Image) lookup(name string) (*Entry, error) {
	root, err := im.rootEntry()
	if err != nil {
		return nil, err
	}
	return fsview.Resolve(root.clone("/"), name, entryNode, func(d *Entry, elem string) (*Entry, bool, error) {
		kids, err := im.children(d)
		if err != nil {
			return nil, false, err
		}
		i, ok := slices.BinarySearchFunc(kids, elem, func(c *Entry, name string) int { return strings.Compare(c.name, name) })
		if !ok {
			return nil, false, nil
		}
		return kids[i].clone(tree.Join(d.Path, elem)), true, nil
	})
}

// children returns the children of directory d (with its Path set), read
// as a walk reads them, or kept from an earlier read. They are shared:
// callers clone the ones they give out.
func (im *Image) children(d *Entry) ([]*Entry, error) {
	key := d.Extents[0]
	depth := 0
	if d.Path != "/" {
		depth = strings.Count(d.Path, "/")
	}
	if depth > MaxDepth {
		return nil, formatErr(key.Offset, "directory "+d.Path, ErrTooDeep)
	}
	x := &im.index
	x.mu.Lock()
	if p, ok := x.dirs[d.lba]; ok && p != d.Path {
		x.mu.Unlock()
		return nil, formatErrf(key.Offset, "directory "+d.Path, "%w: its records at block %d are those of directory %s", ErrLoop, d.lba, p)
	} else if !ok {
		c := int64(visitedCost + len(d.Path))
		if err := im.budget.Charge(c, "set of directories read", key.Offset); err != nil {
			x.mu.Unlock()
			return nil, budgetErr(key.Offset, "directory "+d.Path, err)
		}
		if x.dirs == nil {
			x.dirs = map[uint32]string{}
		}
		x.dirs[d.lba] = d.Path
		x.dirsCost += c
	}
	if l := x.lists[key]; l != nil {
		x.tick++
		l.used = x.tick
		x.mu.Unlock()
		return l.children, nil
	}
	x.mu.Unlock()

	w := im.Walk()
	defer w.Close()
	f := &frame{path: d.Path}
	w.stack = append(w.stack, f) // so that Close gives back its charges
	if err := w.readDir(d, f); err != nil {
		return nil, err
	}
	if err := w.b.Charge(listingCost, "directory listing kept", key.Offset); err != nil {
		return nil, budgetErr(key.Offset, "directory "+d.Path, err)
	}
	f.held += listingCost
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.lists[key] != nil || f.held > maxIndexCost {
		return f.children, nil
	}
	for len(x.lists) > 0 && (x.cost+f.held > maxIndexCost || len(x.lists) >= maxIndexLists) {
		var old Extent
		var lru *listing
		for k, l := range x.lists {
			if lru == nil || l.used < lru.used {
				old, lru = k, l
			}
		}
		delete(x.lists, old)
		x.cost -= lru.cost
		im.budget.Release(lru.cost)
	}
	if x.lists == nil {
		x.lists = map[Extent]*listing{}
	}
	x.tick++
	x.lists[key] = &listing{children: f.children, cost: f.held, used: x.tick}
	x.cost += f.held
	f.held = 0 // the index holds the charges now
	return f.children, nil
}
