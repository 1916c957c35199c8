package importer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	calebsq "github.com/CalebQ42/squashfs"
	diskfsfile "github.com/diskfs/go-diskfs/backend/file"
	diskfsiso "github.com/diskfs/go-diskfs/filesystem/iso9660"
	diskfssq "github.com/diskfs/go-diskfs/filesystem/squashfs"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/squashfs"
)

// A library is one reader under comparison: how it opens an image file.
type library struct {
	name   string // "isodiff", "go-diskfs", "CalebQ42"
	format string // "iso9660" or "squashfs"
	open   func(path string) (opened, error)
	// racyWriteTo: the reader's WriteTo has a data race, so under the
	// race detector content is read through Read alone.
	racyWriteTo string
}

// An opened image lists its nodes and reads a regular file's bytes, each
// the way an importer of that library would.
type opened interface {
	// list returns every node below the root, and the root, with the
	// metadata the library gives (ref set for content).
	list() ([]*node, error)
	// content returns the bytes of regular file n.
	content(n *node) (io.Reader, error)
	close()
}

var libraries = []library{
	{"isodiff", "iso9660", openIsodiffISO, ""},
	{"isodiff fs.FS", "iso9660", openIsodiffISOFS, ""},
	{"go-diskfs", "iso9660", openDiskfsISO, ""},
	{"isodiff", "squashfs", openIsodiffSquashfs, ""},
	{"isodiff fs.FS", "squashfs", openIsodiffSquashfsFS, ""},
	{"go-diskfs", "squashfs", openDiskfsSquashfs, ""},
	// Seen with -race: FullReader.WriteTo's block goroutines read the
	// variable open (low/data/fullreader.go:168) that WriteTo writes
	// (:181) without synchronization.
	{"CalebQ42", "squashfs", openCaleb, "low/data/fullreader.go:168 reads `open`, written at :181 unsynchronized"},
}

func openFile(p string) (*os.File, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func fromMode(n *node, m fs.FileMode) {
	n.Type, n.Perm = lsMode(m)
}

// --- isodiff, through its exported packages (Walk and Open) ---

type isodiffISO struct {
	f  *os.File
	im *iso9660.Image
}

func openIsodiffISO(p string) (opened, error) {
	f, size, err := openFile(p)
	if err != nil {
		return nil, err
	}
	im, err := iso9660.Open(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &isodiffISO{f, im}, nil
}

func (o *isodiffISO) list() ([]*node, error) {
	var out []*node
	w := o.im.Walk()
	defer w.Close()
	for {
		e, err := w.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if e.Damage != nil {
			return out, fmt.Errorf("%s: %w", e.Path, e.Damage)
		}
		n := &node{Path: e.Path, UID: e.UID, GID: e.GID, MTime: e.ModTime, Link: e.Link, ref: e}
		fromMode(n, e.Mode)
		if e.Mode.IsRegular() {
			n.Size = e.Size
		}
		if e.Mode&fs.ModeDevice != 0 {
			n.Dev = fmt.Sprintf("%d,%d", e.DevMajor, e.DevMinor)
		}
		out = append(out, n)
	}
}

func (o *isodiffISO) content(n *node) (io.Reader, error) {
	return o.im.Open(n.ref.(*iso9660.Entry)), nil
}

func (o *isodiffISO) close() { o.im.Close(); o.f.Close() }

type isodiffSquashfs struct {
	f *os.File
	r *squashfs.Reader
}

func openIsodiffSquashfs(p string) (opened, error) {
	f, size, err := openFile(p)
	if err != nil {
		return nil, err
	}
	r, err := squashfs.Open(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &isodiffSquashfs{f, r}, nil
}

func (o *isodiffSquashfs) list() ([]*node, error) {
	var out []*node
	w := o.r.Walk()
	for {
		e, err := w.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		n := &node{Path: e.Path, UID: e.UID, GID: e.GID, MTime: e.ModTime, Link: e.Link, ref: e}
		fromMode(n, e.Mode)
		if e.Mode.IsRegular() {
			n.Size = e.Size
		}
		if e.Mode&fs.ModeDevice != 0 {
			n.Dev = fmt.Sprintf("%d,%d", e.DevMajor, e.DevMinor)
		}
		out = append(out, n)
	}
}

func (o *isodiffSquashfs) content(n *node) (io.Reader, error) {
	return o.r.Open(n.ref.(*squashfs.Entry))
}

func (o *isodiffSquashfs) close() { o.f.Close() }

// --- isodiff's fs.FS views (FS(): fs.WalkDir, fs.ReadLink, Open) ---

// isodiffFS is an isodiff image seen only through its fs.FS, as a program
// written against io/fs sees it; Sys() gives the reader's entry.
type isodiffFS struct {
	fsys   fs.FS
	closer func()
}

func openIsodiffISOFS(p string) (opened, error) {
	o, err := openIsodiffISO(p)
	if err != nil {
		return nil, err
	}
	im := o.(*isodiffISO)
	return &isodiffFS{im.im.FS(), im.close}, nil
}

func openIsodiffSquashfsFS(p string) (opened, error) {
	o, err := openIsodiffSquashfs(p)
	if err != nil {
		return nil, err
	}
	r := o.(*isodiffSquashfs)
	return &isodiffFS{r.r.FS(), r.close}, nil
}

func (o *isodiffFS) list() ([]*node, error) {
	return fsWalkDir(o.fsys, func(fi fs.FileInfo, n *node) error {
		switch e := fi.Sys().(type) {
		case *iso9660.Entry:
			n.UID, n.GID = e.UID, e.GID
			if fi.Mode()&fs.ModeDevice != 0 {
				n.Dev = fmt.Sprintf("%d,%d", e.DevMajor, e.DevMinor)
			}
		case *squashfs.Entry:
			n.UID, n.GID = e.UID, e.GID
			if fi.Mode()&fs.ModeDevice != 0 {
				n.Dev = fmt.Sprintf("%d,%d", e.DevMajor, e.DevMinor)
			}
		default:
			return fmt.Errorf("%s: Sys() is %T", n.Path, fi.Sys())
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(o.fsys, n.ref.(string))
			if err != nil {
				return err
			}
			n.Link = target
		}
		return nil
	})
}

func (o *isodiffFS) content(n *node) (io.Reader, error) {
	return o.fsys.Open(n.ref.(string))
}

func (o *isodiffFS) close() { o.closer() }

// fsWalkDir lists fsys with fs.WalkDir, going on past a directory that
// cannot be read (the errors are returned, joined, with what was listed).
func fsWalkDir(fsys fs.FS, info func(fi fs.FileInfo, n *node) error) ([]*node, error) {
	var out []*node
	var errs []error
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Name() != d.Name() || fi.Mode() != d.Type()|fi.Mode().Perm()|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
			return fmt.Errorf("%s: DirEntry (%s, %v) and FileInfo (%s, %v) disagree", p, d.Name(), d.Type(), fi.Name(), fi.Mode())
		}
		n := &node{Path: "/" + p, MTime: fi.ModTime(), ref: p}
		if p == "." {
			n.Path = "/"
		}
		fromMode(n, fi.Mode())
		if fi.Mode().IsRegular() {
			n.Size = fi.Size()
		}
		if err := info(fi, n); err != nil {
			errs = append(errs, err)
			return nil
		}
		out = append(out, n)
		return nil
	})
	return out, errors.Join(append(errs, err)...)
}

// --- go-diskfs v1.9.4: its FileSystems are fs.ReadDirFS; fs.WalkDir ---

type diskfsImage struct {
	fsys interface {
		fs.ReadDirFS
		Close() error
	}
	sys func(fi fs.FileInfo, n *node) // reads what Sys() holds
}

func openDiskfsISO(p string) (opened, error) {
	b, err := diskfsfile.OpenFromPath(p, true)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	fsys, err := diskfsiso.Read(b, st.Size(), 0, 2048)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &diskfsImage{fsys: fsys, sys: func(fi fs.FileInfo, n *node) {
		n.NoDev = "not exposed by the API"
		if s, ok := fi.Sys().(*diskfsiso.StatT); ok {
			n.UID, n.GID, n.Link = s.UID, s.GID, s.LinkTarget
		}
	}}, nil
}

func openDiskfsSquashfs(p string) (opened, error) {
	b, err := diskfsfile.OpenFromPath(p, true)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	fsys, err := diskfssq.Read(b, st.Size(), 0, 0)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &diskfsImage{fsys: fsys, sys: func(fi fs.FileInfo, n *node) {
		n.NoDev = "not exposed by the API"
		if s, ok := fi.Sys().(*diskfssq.StatT); ok {
			n.UID, n.GID, n.Link = s.UID, s.GID, s.LinkTarget
		}
	}}, nil
}

// walkFS lists fsys with fs.ReadDir from the root down, as an importer of
// an fs.FS does (fs.WalkDir but for one thing: a child's path is its
// directory's and its name as the library gives it, never cleaned, so that
// a child named "." shows as such rather than as its directory).
func walkFS(fsys fs.FS, info func(fi fs.FileInfo, n *node) error) ([]*node, error) {
	var out []*node
	add := func(p string, fi fs.FileInfo) error {
		n := &node{Path: "/" + p, MTime: fi.ModTime(), ref: p}
		if p == "." {
			n.Path = "/"
		}
		fromMode(n, fi.Mode())
		if fi.Mode().IsRegular() {
			n.Size = fi.Size()
		}
		if err := info(fi, n); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	}
	root, err := fs.Stat(fsys, ".")
	if err != nil {
		return nil, err
	}
	if err := add(".", root); err != nil {
		return out, err
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		ents, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return err
		}
		for _, d := range ents {
			p := d.Name()
			if dir != "." {
				p = dir + "/" + d.Name()
			}
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := add(p, fi); err != nil {
				return err
			}
			if d.IsDir() && fs.ValidPath(p) {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(".")
}

func (o *diskfsImage) list() ([]*node, error) {
	return walkFS(o.fsys, func(fi fs.FileInfo, n *node) error {
		o.sys(fi, n)
		return nil
	})
}

func (o *diskfsImage) content(n *node) (io.Reader, error) {
	return o.fsys.Open(n.ref.(string))
}

func (o *diskfsImage) close() { o.fsys.Close() }

// --- CalebQ42/squashfs v1.4.1: its Reader is an fs.FS; fs.WalkDir ---

type calebImage struct {
	f *os.File
	r calebsq.Reader
}

func openCaleb(p string) (opened, error) {
	f, _, err := openFile(p)
	if err != nil {
		return nil, err
	}
	r, err := calebsq.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &calebImage{f, r}, nil
}

func (o *calebImage) list() ([]*node, error) {
	return walkFS(o.r.FS, func(fi fs.FileInfo, n *node) error {
		ci, ok := fi.(calebsq.FileInfo)
		if !ok {
			return fmt.Errorf("%s: FileInfo is %T", n.Path, fi)
		}
		n.UID, n.GID, n.Link = uint32(ci.Uid()), uint32(ci.Gid()), ci.SymlinkPath()
		if ci.IsDevice() {
			n.Dev, n.NoDev = o.device(n.ref.(string))
		}
		return nil
	})
}

// device gives a device node's numbers as the library decodes them: its
// API exposes them only to its extraction, which runs mknod with them.
func (o *calebImage) device(p string) (dev, why string) {
	f, err := o.r.FS.OpenFile(p)
	if err != nil {
		return "", "open: " + err.Error()
	}
	dir, err := os.MkdirTemp("", "caleb-dev-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(dir)
	// Its extraction runs mknod with the numbers it decoded (seen by the
	// wrapper TestMain puts first on PATH).
	op := calebsq.DefaultOptions()
	target := filepath.Join(dir, path.Base(p))
	err = f.ExtractWithOptions(dir, op)
	if args := strings.Fields(mknodArgs(target)); len(args) == 3 {
		return args[1] + "," + args[2], ""
	}
	if err != nil {
		return "", "extraction fails: " + firstLine(err.Error())
	}
	fi, err := os.Lstat(target)
	if err != nil {
		return "", "extraction: " + err.Error()
	}
	rdev := fi.Sys().(*syscall.Stat_t).Rdev
	return fmt.Sprintf("%d,%d", (rdev>>8)&0xfff|(rdev>>32)&^0xfff, rdev&0xff|(rdev>>12)&^0xff), ""
}

func (o *calebImage) content(n *node) (io.Reader, error) {
	return o.r.FS.Open(n.ref.(string))
}

func (o *calebImage) close() { o.f.Close() }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
