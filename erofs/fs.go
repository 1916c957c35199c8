package erofs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// FS returns the image's tree as an io/fs.FS: fs.WalkDir, fs.ReadFile,
// fs.Stat, fs.ReadLink and fs.Lstat work on it, with full modes (setuid,
// setgid, sticky, device and socket types) and the *Entry in Sys().
// Symbolic links are never followed: Stat and Open describe the link
// itself, and a path through a link does not exist. A name that is not
// valid UTF-8 is listed by ReadDir but cannot be opened (io/fs paths are
// UTF-8; Walk yields every name). Its methods are safe for concurrent use.
func (r *Reader) FS() fs.FS { return fsys{r} }

type fsys struct{ r *Reader }

var (
	_ fs.ReadDirFS  = fsys{}
	_ fs.StatFS     = fsys{}
	_ fs.ReadLinkFS = fsys{}
)

// lookup resolves name (an fs.ValidPath) to its entry.
func (f fsys) lookup(op, name string) (*Entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, err := f.r.entryAt(uint64(f.r.Super.RootNid), "/", SuperblockOffset+14)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if name == "." {
		return e, nil
	}
	for _, part := range strings.Split(name, "/") {
		if !e.Mode.IsDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		d, ok, err := f.r.lookupName(e, part)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if !ok {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if e, err = f.r.entryAt(d.nid, path.Join(e.Path, part), d.off); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if err := checkType(e, d.ftype); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
	}
	return e, nil
}

func (f fsys) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.Mode.IsDir() {
		return &dirFile{f: f, e: e}, nil
	}
	file := &openFile{e: e}
	if e.IsRegular() {
		fa, err := f.r.OpenFile(e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		file.sr = io.NewSectionReader(fa, 0, e.Size)
	} else if e.Mode&fs.ModeSymlink == 0 {
		file.sr = io.NewSectionReader(strings.NewReader(""), 0, 0) // a device, fifo or socket: no data
	}
	return file, nil
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
	d := &dirFile{f: f, e: e}
	return d.ReadDir(-1)
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
	e  *Entry
	sr *io.SectionReader // nil for a symlink
}

func (o *openFile) Stat() (fs.FileInfo, error) { return fileInfo{o.e}, nil }
func (o *openFile) Close() error               { return nil }
func (o *openFile) Read(p []byte) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.e.Path, Err: errors.New("is a symbolic link")}
	}
	return o.sr.Read(p)
}
func (o *openFile) ReadAt(p []byte, off int64) (int, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "read", Path: o.e.Path, Err: errors.New("is a symbolic link")}
	}
	return o.sr.ReadAt(p, off)
}
func (o *openFile) Seek(off int64, whence int) (int64, error) {
	if o.sr == nil {
		return 0, &fs.PathError{Op: "seek", Path: o.e.Path, Err: errors.New("is a symbolic link")}
	}
	return o.sr.Seek(off, whence)
}

// dirFile is an open directory.
type dirFile struct {
	f    fsys
	e    *Entry
	ents []dirent
	read bool
	next int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{d.e}, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.e.Path, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, charged, err := d.f.r.readDir(d.e)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.e.Path, Err: err}
		}
		d.f.r.budget.Release(charged)
		d.ents, d.read = ents, true
	}
	rest := len(d.ents) - d.next
	if n > 0 && rest == 0 {
		return nil, io.EOF
	}
	if n > 0 {
		rest = min(rest, n)
	}
	out := make([]fs.DirEntry, 0, rest)
	for _, de := range d.ents[d.next : d.next+rest] {
		e, err := d.f.r.entryAt(de.nid, path.Join(d.e.Path, de.name), de.off)
		if err == nil {
			err = checkType(e, de.ftype)
		}
		if err != nil {
			return out, &fs.PathError{Op: "readdir", Path: d.e.Path, Err: err}
		}
		d.next++
		out = append(out, fileInfo{e})
	}
	return out, nil
}
