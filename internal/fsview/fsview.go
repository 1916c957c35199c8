// Package fsview is the io/fs view the image readers share.
//
// A reader (erofs, iso9660, squashfs) gives New a Source: how to resolve a
// path (Resolve walks it, one directory at a time, as the reader steps),
// list a directory, turn a listing item into an entry and open a regular
// file. New returns the fs.FS on top, the same for all: an fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS whose FileInfo and DirEntry values describe
// the entry's tree.Node and return the entry itself from Sys; a directory
// opens as an fs.ReadDirFile listed on its first ReadDir; a regular file
// opens as an fs.File that is also an io.ReaderAt and an io.Seeker; a
// symbolic link opens but does not read (links are never followed); a
// device, pipe or socket reads as empty. A path fs.ValidPath rejects is
// fs.ErrInvalid, and the errors of the FS's methods, of Read on a
// directory or symbolic link, and of ReadDir are *fs.PathError values
// naming the operation.
package fsview

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/isodiff/isodiff/tree"
)

// Source is what a reader gives the view. E is its entry type (a pointer
// to a struct embedding tree.Node), D what its directory listing holds for
// each child. Its functions must be safe for concurrent use.
type Source[E, D any] struct {
	// Node returns the metadata e embeds.
	Node func(e E) *tree.Node
	// Lookup resolves name, a valid io/fs path ("." is the root), to its
	// entry. A missing name is fs.ErrNotExist. The view wraps its errors
	// in an *fs.PathError naming the operation and name.
	Lookup func(name string) (E, error)
	// List reads the listing of directory dir, sorted by name. release,
	// when not nil, gives back what holding the listing costs; the view
	// calls it once, when the listing is done with (read to its end,
	// closed, or dropped unclosed).
	List func(dir E) (items []D, release func(), err error)
	// Child returns the entry of item, from the listing of dir.
	Child func(dir E, item D) (E, error)
	// Open opens regular file e (its File is not used if err is not nil).
	Open func(e E) (File, error)

	// EntryPathInErrors makes the errors of an open file or directory
	// name the entry's Path ("/a/b") rather than the name it was opened
	// as ("a/b").
	EntryPathInErrors bool
	// WrapReadErrors makes the errors, other than io.EOF, of a regular
	// file's Read, ReadAt and Seek *fs.PathError values, as os.File's are.
	WrapReadErrors bool
}

// File is a regular file's bytes, as a reader opens them.
type File interface {
	io.ReaderAt
	Size() int64
}

// New returns the io/fs view of src. It keeps src, which must not change.
func New[E, D any](src *Source[E, D]) fs.FS { return &view[E, D]{src} }

type view[E, D any] struct{ src *Source[E, D] }

var (
	_ fs.ReadDirFS  = (*view[int, int])(nil)
	_ fs.StatFS     = (*view[int, int])(nil)
	_ fs.ReadLinkFS = (*view[int, int])(nil)
)

var (
	errNotDir  = errors.New("not a directory")
	errIsDir   = errors.New("is a directory")
	errSymlink = errors.New("is a symbolic link")
)

// lookup resolves name for operation op, errors as *fs.PathError.
func (v *view[E, D]) lookup(op, name string) (E, *tree.Node, error) {
	var zero E
	if !fs.ValidPath(name) {
		return zero, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, err := v.src.Lookup(name)
	if err != nil {
		return zero, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return e, v.src.Node(e), nil
}

// Resolve finds name, a valid io/fs path, from root one element at a
// time, for a Source's Lookup: step returns the child of directory dir
// named elem, ok false if it has none. A path through a non-directory, or
// a missing name, is fs.ErrNotExist.
func Resolve[E any](root E, name string, node func(E) *tree.Node, step func(dir E, elem string) (child E, ok bool, err error)) (E, error) {
	var zero E
	e := root
	if name == "." {
		return e, nil
	}
	for elem := range strings.SplitSeq(name, "/") {
		if !node(e).Mode.IsDir() {
			return zero, fs.ErrNotExist
		}
		c, ok, err := step(e, elem)
		if err != nil {
			return zero, err
		}
		if !ok {
			return zero, fs.ErrNotExist
		}
		e = c
	}
	return e, nil
}

// errPath is the path the errors of n, opened as name, give.
func (v *view[E, D]) errPath(name string, n *tree.Node) string {
	if v.src.EntryPathInErrors {
		return n.Path
	}
	return name
}

func (v *view[E, D]) Open(name string) (fs.File, error) {
	e, n, err := v.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.Mode.IsDir() {
		return &dir[E, D]{v: v, e: e, n: n, path: v.errPath(name, n)}, nil
	}
	f := &file[E]{info: info[E]{e, n}, path: v.errPath(name, n), wrap: v.src.WrapReadErrors}
	switch {
	case n.Mode.IsRegular():
		data, err := v.src.Open(e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		f.sr = io.NewSectionReader(data, 0, data.Size())
	case n.Mode&fs.ModeSymlink == 0: // a device, pipe or socket: no data
		f.sr = io.NewSectionReader(strings.NewReader(""), 0, 0)
	}
	return f, nil
}

// Stat describes the named node; a symbolic link is not followed.
func (v *view[E, D]) Stat(name string) (fs.FileInfo, error) {
	e, n, err := v.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info[E]{e, n}, nil
}

// Lstat describes the named node, as Stat does.
func (v *view[E, D]) Lstat(name string) (fs.FileInfo, error) {
	e, n, err := v.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return info[E]{e, n}, nil
}

// ReadLink returns the target of the named symbolic link.
func (v *view[E, D]) ReadLink(name string) (string, error) {
	_, n, err := v.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.Link, nil
}

// ReadDir returns the named directory's entries, sorted by name.
func (v *view[E, D]) ReadDir(name string) ([]fs.DirEntry, error) {
	e, n, err := v.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	d := &dir[E, D]{v: v, e: e, n: n, path: v.errPath(name, n)}
	if err := d.list(false); err != nil {
		return nil, err
	}
	defer d.drop()
	return d.ReadDir(-1)
}

// info is an entry as an fs.FileInfo and fs.DirEntry.
type info[E any] struct {
	e E
	n *tree.Node
}

func (i info[E]) Name() string {
	if i.n.Path == "/" {
		return "."
	}
	return path.Base(i.n.Path)
}
func (i info[E]) Size() int64                { return i.n.Size }
func (i info[E]) Mode() fs.FileMode          { return i.n.Mode }
func (i info[E]) ModTime() time.Time         { return i.n.ModTime }
func (i info[E]) IsDir() bool                { return i.n.Mode.IsDir() }
func (i info[E]) Sys() any                   { return i.e }
func (i info[E]) Type() fs.FileMode          { return i.n.Mode.Type() }
func (i info[E]) Info() (fs.FileInfo, error) { return i, nil }
func (i info[E]) String() string             { return fs.FormatFileInfo(i) }

// file is an open file that is not a directory.
type file[E any] struct {
	info info[E]
	path string            // for errors
	sr   *io.SectionReader // nil for a symbolic link
	wrap bool              // WrapReadErrors
}

func (f *file[E]) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file[E]) Close() error               { return nil }

func (f *file[E]) Read(p []byte) (int, error) {
	if f.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: errSymlink}
	}
	n, err := f.sr.Read(p)
	return n, f.wrapErr("read", err)
}

func (f *file[E]) ReadAt(p []byte, off int64) (int, error) {
	if f.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: errSymlink}
	}
	n, err := f.sr.ReadAt(p, off)
	return n, f.wrapErr("read", err)
}

func (f *file[E]) Seek(off int64, whence int) (int64, error) {
	if f.sr == nil {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: errSymlink}
	}
	n, err := f.sr.Seek(off, whence)
	return n, f.wrapErr("seek", err)
}

// wrapErr makes err, unless it is nil or io.EOF, an *fs.PathError if the
// Source asks for it.
func (f *file[E]) wrapErr(op string, err error) error {
	if !f.wrap || err == nil || err == io.EOF {
		return err
	}
	return &fs.PathError{Op: op, Path: f.path, Err: err}
}

// dir is an open directory. Its listing is read on the first ReadDir and
// held until every entry has been returned or the dir is closed.
type dir[E, D any] struct {
	v     *view[E, D]
	e     E
	n     *tree.Node
	path  string // for errors
	items []D    // not yet returned
	read  bool
	hold  *hold
}

// hold gives back, once, what holding a listing costs: when the dir is
// done with it or, if it was dropped unclosed, in a cleanup.
type hold struct {
	once    sync.Once
	release func()
}

func (h *hold) give() { h.once.Do(h.release) }

func (d *dir[E, D]) Stat() (fs.FileInfo, error) { return info[E]{d.e, d.n}, nil }

func (d *dir[E, D]) Close() error {
	d.drop()
	return nil
}

func (d *dir[E, D]) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errIsDir}
}

// list reads the listing, once; cleanup says whether a dropped dir gives
// back its cost (a dir the caller closes needs none).
func (d *dir[E, D]) list(cleanup bool) error {
	if d.read {
		return nil
	}
	items, release, err := d.v.src.List(d.e)
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: d.path, Err: err}
	}
	if release != nil {
		d.hold = &hold{release: release}
		if cleanup {
			runtime.AddCleanup(d, (*hold).give, d.hold)
		}
	}
	d.items, d.read = items, true
	return nil
}

// drop lets the listing go and gives back its cost.
func (d *dir[E, D]) drop() {
	d.items = nil
	if d.hold != nil {
		d.hold.give()
	}
}

func (d *dir[E, D]) ReadDir(n int) ([]fs.DirEntry, error) {
	if err := d.list(true); err != nil {
		return nil, err
	}
	k := len(d.items)
	if n > 0 {
		if k == 0 {
			d.drop()
			return nil, io.EOF
		}
		k = min(k, n)
	}
	out := make([]fs.DirEntry, 0, k)
	var err error
	for _, it := range d.items[:k] {
		var c E
		if c, err = d.v.src.Child(d.e, it); err != nil {
			err = &fs.PathError{Op: "readdir", Path: d.path, Err: err}
			break
		}
		out = append(out, info[E]{c, d.v.src.Node(c)})
	}
	if d.items = d.items[len(out):]; len(d.items) == 0 {
		d.drop() // all returned
	}
	return out, err
}
