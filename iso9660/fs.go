package iso9660

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/isodiff/isodiff/budget"
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
func (im *Image) FS() fs.FS { return fsys{im} }

type fsys struct{ im *Image }

var (
	_ fs.ReadDirFS  = fsys{}
	_ fs.StatFS     = fsys{}
	_ fs.ReadLinkFS = fsys{}
)

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
	e := root.clone("/")
	if name == "." {
		return e, nil
	}
	for part := range strings.SplitSeq(name, "/") {
		if !e.Mode.IsDir() {
			return nil, fs.ErrNotExist
		}
		kids, err := im.children(e)
		if err != nil {
			return nil, err
		}
		i, ok := slices.BinarySearchFunc(kids, part, func(c *Entry, name string) int { return strings.Compare(c.name, name) })
		if !ok {
			return nil, fs.ErrNotExist
		}
		e = kids[i].clone(tree.Join(e.Path, part))
	}
	return e, nil
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

// lookup resolves name for operation op, errors as *fs.PathError.
func (f fsys) lookup(op, name string) (*Entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, err := f.im.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return e, nil
}

func (f fsys) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.Mode.IsDir() {
		return &dirFile{im: f.im, e: e, name: name}, nil
	}
	o := &openFile{e: e, name: name}
	switch {
	case e.Mode.IsRegular():
		file, err := f.im.OpenFile(e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		o.sr = io.NewSectionReader(file, 0, file.Size())
	case e.Mode&fs.ModeSymlink == 0:
		o.sr = io.NewSectionReader(strings.NewReader(""), 0, 0) // a device, fifo or socket: no data
	}
	return o, nil
}

func (f fsys) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{e}, nil
}

func (f fsys) Lstat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{e}, nil
}

func (f fsys) ReadLink(name string) (string, error) {
	e, err := f.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if e.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.Link, nil
}

func (f fsys) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	d := &dirFile{im: f.im, e: e, name: name}
	return d.ReadDir(-1)
}

var (
	errNotDir  = errors.New("not a directory")
	errIsDir   = errors.New("is a directory")
	errSymlink = errors.New("is a symbolic link")
)

// fileInfo is an Entry as an fs.FileInfo and fs.DirEntry.
type fileInfo struct{ e *Entry }

func (i fileInfo) Name() string {
	if i.e.Path == "/" {
		return "."
	}
	return i.e.name
}
func (i fileInfo) Size() int64                { return i.e.Size }
func (i fileInfo) Mode() fs.FileMode          { return i.e.Mode }
func (i fileInfo) ModTime() time.Time         { return i.e.ModTime }
func (i fileInfo) IsDir() bool                { return i.e.Mode.IsDir() }
func (i fileInfo) Sys() any                   { return i.e }
func (i fileInfo) Type() fs.FileMode          { return i.e.Mode.Type() }
func (i fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i fileInfo) String() string             { return fs.FormatFileInfo(i) }

// openFile is an open file that is not a directory.
type openFile struct {
	e    *Entry
	name string            // as opened
	sr   *io.SectionReader // nil for a symbolic link
}

func (o *openFile) Stat() (fs.FileInfo, error) { return fileInfo{o.e}, nil }
func (o *openFile) Close() error               { return nil }

func (o *openFile) Read(p []byte) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.name, Err: errSymlink}
	}
	return o.sr.Read(p)
}

func (o *openFile) ReadAt(p []byte, off int64) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.name, Err: errSymlink}
	}
	return o.sr.ReadAt(p, off)
}

func (o *openFile) Seek(off int64, whence int) (int64, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "seek", Path: o.name, Err: errSymlink}
	}
	return o.sr.Seek(off, whence)
}

// dirFile is an open directory; its children are read at the first
// ReadDir.
type dirFile struct {
	im   *Image
	e    *Entry
	name string // as opened
	kids []*Entry
	read bool
	next int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{d.e}, nil }
func (d *dirFile) Close() error               { return nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errIsDir}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		kids, err := d.im.children(d.e)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: err}
		}
		d.kids, d.read = kids, true
	}
	rest := len(d.kids) - d.next
	if n > 0 && rest == 0 {
		return nil, io.EOF
	}
	if n > 0 {
		rest = min(rest, n)
	}
	out := make([]fs.DirEntry, rest)
	for i, c := range d.kids[d.next : d.next+rest] {
		out[i] = fileInfo{c.clone(tree.Join(d.e.Path, c.name))}
	}
	d.next += rest
	return out, nil
}
