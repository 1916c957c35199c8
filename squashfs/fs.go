package squashfs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/tree"
)

// FS returns the image's tree as an io/fs.FS. It implements fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS, so fs.WalkDir, fs.ReadDir, fs.ReadFile,
// fs.Stat, fs.Lstat and fs.ReadLink work on it.
//
// A FileInfo's Mode is the full mode: permissions with setuid, setgid and
// sticky, and the type (directory, symlink, block or character device,
// named pipe, socket). ModTime is the inode's mtime, Size a regular
// file's length or a symlink target's, and Sys returns the *Entry, which
// holds the owner, link count, device numbers, xattrs and inode number.
//
// Symbolic links are never followed: Stat and Open describe the link
// itself, Read on it fails, and a path through a link does not exist.
// Opening a regular file gives an fs.File that also implements io.ReaderAt
// and io.Seeker (see OpenFile: only the blocks touched are decoded); a
// device, pipe or socket reads as empty.
//
// A lookup reads only the directories on its path, and in each only the
// metadata blocks its directory index points to, as the kernel does; the
// directories on a path must be distinct and at most 1024 deep, as in a
// Walk, so fs.WalkDir ends with an error on an image with a cycle. Like
// the kernel, it relies on the listing being sorted, which mksquashfs
// guarantees: in a crafted image whose listing is not, a name that Walk
// yields may not be found. A name that is not valid UTF-8 is listed by
// ReadDir but cannot be opened (io/fs paths are UTF-8; Walk yields every
// name).
//
// Errors are *fs.PathError values: fs.ErrNotExist for a missing name,
// fs.ErrInvalid for a path fs.ValidPath rejects (and ReadLink of a
// non-link), otherwise the reader's error (a *FormatError, a budget
// refusal, the Options context's error). The Reader's Options apply. The
// FS is safe for concurrent use; each fs.File it opens is for one
// goroutine at a time, except ReadAt, which may be called concurrently.
func (r *Reader) FS() fs.FS { return fsys{r} }

type fsys struct{ r *Reader }

var (
	_ fs.ReadDirFS  = fsys{}
	_ fs.StatFS     = fsys{}
	_ fs.ReadLinkFS = fsys{}
)

// lookup resolves name (an fs.ValidPath) to its entry. The directories on
// the path must be distinct (by inode number and by listing) and at most
// maxDepth deep, as in a Walk: otherwise a crafted image's cycle would make
// fs.WalkDir descend forever.
func (f fsys) lookup(op, name string) (*Entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	r := f.r
	e, err := r.node("/", r.Super.RootInode, TypeDir)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, "/")}
	}
	if name == "." {
		return e, nil
	}
	var dirs []*Entry // the directories above e
	for part := range strings.SplitSeq(name, "/") {
		if !e.Mode.IsDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if err := checkOnPath(r, e, dirs); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, e.Path)}
		}
		dirs = append(dirs, e)
		d, ok, err := r.lookupName(e, part)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, e.Path)}
		}
		if !ok {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		p := tree.Join(e.Path, part)
		if e, err = r.node(p, d.ref, d.typ); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, p)}
		}
	}
	if e.Mode.IsDir() {
		if err := checkOnPath(r, e, dirs); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: withPath(err, e.Path)}
		}
	}
	return e, nil
}

// checkOnPath reports directory e as corrupt if it is too deep or one of
// the directories above it again, by inode number or by listing.
func checkOnPath(r *Reader, e *Entry, above []*Entry) error {
	off := int64(r.Super.InodeTableStart + e.ref>>16)
	if len(above) >= maxDepth {
		return corrupt(off, "directory", "nesting deeper than %d", maxDepth)
	}
	for _, a := range above {
		if a.Inode == e.Inode {
			return corrupt(off, "directory", "inode %d reached twice (cycle or hard-linked directory)", e.Inode)
		}
		// An empty directory's listing is zero bytes long and may start
		// where an ancestor's does (mksquashfs writes leaves first): it
		// reads nothing, so it cannot make a loop.
		if a.dirSize > 0 && e.dirSize > 0 && a.dirBlock == e.dirBlock && a.dirPos == e.dirPos {
			return corrupt(off, "directory", "listing %d:%d shared with another directory", e.dirBlock, e.dirPos)
		}
	}
	return nil
}

func (f fsys) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.Mode.IsDir() {
		return &dirFile{r: f.r, e: e, name: name}, nil
	}
	file := &openFile{e: e, name: name}
	switch {
	case e.IsRegular():
		fa, err := f.r.OpenFile(e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		file.sr = io.NewSectionReader(fa, 0, e.Size)
	case e.Mode&fs.ModeSymlink == 0: // a device, pipe or socket: no data
		file.sr = io.NewSectionReader(strings.NewReader(""), 0, 0)
	}
	return file, nil
}

// Stat describes the named node; a symlink is not followed.
func (f fsys) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{e}, nil
}

// Lstat describes the named node, as Stat does.
func (f fsys) Lstat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return fileInfo{e}, nil
}

// ReadLink returns the target of the named symlink.
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

// ReadDir returns the named directory's entries sorted by name.
func (f fsys) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, charged, err := f.r.readDir(e)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: withPath(err, e.Path)}
	}
	defer f.r.budget.Release(charged)
	out, _, err := f.r.dirEntries(e, name, ents)
	return out, err
}

// dirEntries loads the nodes of ents, entries of directory e opened as
// name, and returns them with how many it loaded before an error.
func (r *Reader) dirEntries(e *Entry, name string, ents []dirent) ([]fs.DirEntry, int, error) {
	out := make([]fs.DirEntry, 0, len(ents))
	for _, de := range ents {
		p := tree.Join(e.Path, de.name)
		c, err := r.node(p, de.ref, de.typ)
		if err != nil {
			return out, len(out), &fs.PathError{Op: "readdir", Path: name, Err: withPath(err, p)}
		}
		out = append(out, fileInfo{c})
	}
	return out, len(out), nil
}

// fileInfo is an Entry as an fs.FileInfo and fs.DirEntry.
type fileInfo struct{ e *Entry }

func (i fileInfo) Name() string {
	if i.e.Path == "/" {
		return "."
	}
	return path.Base(i.e.Path)
}
func (i fileInfo) Size() int64                { return i.e.Size }
func (i fileInfo) Mode() fs.FileMode          { return i.e.Mode }
func (i fileInfo) ModTime() time.Time         { return i.e.ModTime }
func (i fileInfo) IsDir() bool                { return i.e.Mode.IsDir() }
func (i fileInfo) Sys() any                   { return i.e }
func (i fileInfo) Type() fs.FileMode          { return i.e.Mode.Type() }
func (i fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i fileInfo) String() string             { return fs.FormatFileInfo(i) }

// openFile is an open non-directory.
type openFile struct {
	e    *Entry
	name string            // as opened
	sr   *io.SectionReader // nil for a symlink
}

var errSymlink = errors.New("is a symbolic link")

func (o *openFile) Stat() (fs.FileInfo, error) { return fileInfo{o.e}, nil }
func (o *openFile) Close() error               { return nil }

func (o *openFile) Read(p []byte) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.name, Err: errSymlink}
	}
	n, err := o.sr.Read(p)
	return n, o.wrap("read", err)
}

// wrap makes a read error other than io.EOF a *fs.PathError, as os.File does.
func (o *openFile) wrap(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &fs.PathError{Op: op, Path: o.name, Err: err}
}

func (o *openFile) ReadAt(p []byte, off int64) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.name, Err: errSymlink}
	}
	n, err := o.sr.ReadAt(p, off)
	return n, o.wrap("read", err)
}

func (o *openFile) Seek(off int64, whence int) (int64, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "seek", Path: o.name, Err: errSymlink}
	}
	n, err := o.sr.Seek(off, whence)
	return n, o.wrap("seek", err)
}

// dirFile is an open directory. Its listing is read on the first ReadDir
// and held, charged to the budget, until every entry has been returned or
// the dirFile is closed (or collected, if never closed).
type dirFile struct {
	r    *Reader
	e    *Entry
	name string   // as opened
	ents []dirent // not yet returned
	read bool
	hold *listingHold
}

// listingHold is the budget charge of an open directory's listing, given
// back once: by the dirFile or, when it was dropped unclosed, by a cleanup.
type listingHold struct {
	b *budget.Budget
	n atomic.Int64
}

func (h *listingHold) release() { h.b.Release(h.n.Swap(0)) }

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{d.e}, nil }
func (d *dirFile) Close() error {
	d.drop()
	return nil
}

// drop lets the listing go and gives back its charge.
func (d *dirFile) drop() {
	d.ents = nil
	if d.hold != nil {
		d.hold.release()
	}
}
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	r := d.r
	if !d.read {
		ents, charged, err := r.readDir(d.e)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: withPath(err, d.e.Path)}
		}
		d.hold = &listingHold{b: r.budget}
		d.hold.n.Store(charged)
		runtime.AddCleanup(d, (*listingHold).release, d.hold)
		d.ents, d.read = ents, true
	}
	k := len(d.ents)
	if n > 0 {
		if k == 0 {
			return nil, io.EOF
		}
		k = min(k, n)
	}
	out, done, err := r.dirEntries(d.e, d.name, d.ents[:k])
	if d.ents = d.ents[done:]; len(d.ents) == 0 {
		d.drop() // all returned
	}
	return out, err
}
