package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/isodiff/isodiff/squashfs"
)

// Costs charged per entry a SquashFS keeps, beyond its path (the entry's
// own block list and xattrs are charged by the squashfs reader).
const (
	sqEntryCost = 256
	sqChildCost = 24
	maxLinkHops = 40 // symlinks followed resolving one name, as Linux's ELOOP
)

// SquashFS is an io/fs view of a squashfs image, read through
// *squashfs.Reader: fs.FS, fs.ReadDirFS, fs.StatFS and fs.ReadLinkFS.
// The squashfs reader has no lookup by path, so SquashfsFS walks the image
// once and keeps an index of the entries under the chosen roots; files are
// streamed through Reader.Open when read. Open and Stat follow symlinks
// (within the image: an absolute target starts at its root, ".." stops at
// the root), as os.DirFS does on an extracted tree.
type SquashFS struct {
	r     *squashfs.Reader
	nodes map[string]*sqNode // fs-style path ("." for the root)
	held  int64
	opt   Options
}

type sqNode struct {
	e        *squashfs.Entry
	children []string // names, sorted bytewise (the walk's order)
}

// SquashfsFS walks r and returns its fs view. With roots (fs-style paths,
// e.g. "var/lib/dpkg"), only the entries under them, the directories
// leading to them and the first two levels of the tree (so that top-level
// symlinks such as /bin -> usr/bin resolve) are kept: other paths do not
// exist in the view. Without roots every entry is kept. The index
// (about 280 bytes plus the path per entry) is charged to o.Budget until
// Close; o.Context stops the walk.
func SquashfsFS(r *squashfs.Reader, o Options, roots ...string) (*SquashFS, error) {
	if o.Context == nil {
		o.Context = context.Background()
	}
	s := &SquashFS{r: r, nodes: make(map[string]*sqNode), opt: o}
	roots = append([]string(nil), roots...)
	for i, root := range roots {
		roots[i] = path.Clean(strings.Trim(root, "/"))
	}
	keep := func(p string) bool {
		if len(roots) == 0 || p == "." || strings.Count(p, "/") <= 1 {
			return true
		}
		for _, root := range roots {
			if root == "." || p == root || strings.HasPrefix(p, root+"/") || strings.HasPrefix(root, p+"/") {
				return true
			}
		}
		return false
	}
	w := r.Walk()
	n := 0
	for {
		if n++; n%1024 == 0 {
			if err := o.Context.Err(); err != nil {
				s.Close()
				return nil, fmt.Errorf("pkgdb: walking the squashfs image: %w", err)
			}
		}
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("pkgdb: walking the squashfs image: %w", err)
		}
		p := "."
		if e.Path != "/" {
			p = e.Path[1:]
		}
		if !keep(p) {
			if e.Mode.IsDir() {
				w.SkipDir() // nothing below it is kept: not even read
			}
			continue
		}
		cost := int64(len(p)) + sqEntryCost
		if p != "." {
			cost += int64(len(path.Base(p))) + sqChildCost
		}
		if err := o.Budget.Charge(cost, "squashfs path index", -1); err != nil {
			s.Close()
			return nil, fmt.Errorf("pkgdb: indexing %s: %w", e.Path, err)
		}
		s.held += cost
		s.nodes[p] = &sqNode{e: e}
		if p != "." {
			if parent := s.nodes[path.Dir(p)]; parent != nil {
				parent.children = append(parent.children, path.Base(p))
			}
		}
	}
	return s, nil
}

// Close gives back the budget the index holds.
func (s *SquashFS) Close() error {
	s.opt.Budget.Release(s.held)
	s.held = 0
	s.nodes = nil
	return nil
}

// resolve returns the node name leads to, following symlinks in every
// component and, when follow, in the last.
func (s *SquashFS) resolve(op, name string, follow bool) (*sqNode, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if s.nodes == nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	var todo []string
	if name != "." {
		todo = strings.Split(name, "/")
	}
	cur := "."
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		n := s.nodes[next]
		if n == nil {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if n.e.Mode&fs.ModeSymlink != 0 && (len(todo) > 0 || follow) {
			if hops++; hops > maxLinkHops {
				return nil, "", &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			t := n.e.Link
			if strings.HasPrefix(t, "/") {
				cur = "."
			}
			todo = append(strings.Split(t, "/"), todo...)
			continue
		}
		if len(todo) > 0 && !n.e.Mode.IsDir() {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = next
	}
	return s.nodes[cur], cur, nil
}

// Open opens name, following symlinks.
func (s *SquashFS) Open(name string) (fs.File, error) {
	n, _, err := s.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	return &sqFile{s: s, n: n, name: name}, nil
}

// Stat returns name's FileInfo, following symlinks.
func (s *SquashFS) Stat(name string) (fs.FileInfo, error) {
	n, _, err := s.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return sqInfo{n.e, path.Base(name)}, nil
}

// Lstat returns name's FileInfo without following a final symlink.
func (s *SquashFS) Lstat(name string) (fs.FileInfo, error) {
	n, _, err := s.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return sqInfo{n.e, path.Base(name)}, nil
}

// ReadLink returns the target of the symlink name.
func (s *SquashFS) ReadLink(name string) (string, error) {
	n, _, err := s.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.e.Mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.e.Link, nil
}

// ReadDir lists the directory name (following symlinks), sorted by name.
func (s *SquashFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, dir, err := s.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.e.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return s.entries(n, dir), nil
}

func (s *SquashFS) entries(n *sqNode, dir string) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		if k := s.nodes[path.Join(dir, c)]; k != nil {
			out = append(out, fs.FileInfoToDirEntry(sqInfo{k.e, c}))
		}
	}
	return out
}

type sqInfo struct {
	e    *squashfs.Entry
	name string
}

func (i sqInfo) Name() string {
	if i.name == "." || i.name == "/" {
		return "."
	}
	return i.name
}
func (i sqInfo) Size() int64        { return i.e.Size }
func (i sqInfo) Mode() fs.FileMode  { return i.e.Mode }
func (i sqInfo) ModTime() time.Time { return i.e.ModTime }
func (i sqInfo) IsDir() bool        { return i.e.Mode.IsDir() }

// Sys returns the *squashfs.Entry.
func (i sqInfo) Sys() any { return i.e }

type sqFile struct {
	s    *SquashFS
	n    *sqNode
	name string
	rd   io.Reader
	dir  []fs.DirEntry
	dirN int
	done bool
}

func (f *sqFile) Stat() (fs.FileInfo, error) { return sqInfo{f.n.e, path.Base(f.name)}, nil }

func (f *sqFile) Read(p []byte) (int, error) {
	if f.done {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	if !f.n.e.IsRegular() {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("not a regular file")}
	}
	if f.rd == nil {
		rd, err := f.s.r.Open(f.n.e)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.rd = rd
	}
	return f.rd.Read(p)
}

func (f *sqFile) Close() error {
	if f.done {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	if f.rd != nil {
		// Drain nothing: a squashfs file reader holds a pooled buffer only
		// until EOF, and is otherwise garbage collected.
		f.rd = nil
	}
	f.done = true
	return nil
}

// ReadDir implements fs.ReadDirFile.
func (f *sqFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.n.e.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	if f.dir == nil {
		_, dir, err := f.s.resolve("readdir", f.name, true)
		if err != nil {
			return nil, err
		}
		f.dir = f.s.entries(f.n, dir)
	}
	rest := f.dir[f.dirN:]
	if n <= 0 {
		f.dirN = len(f.dir)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	f.dirN += n
	return rest[:n], nil
}

// LoadSquashfs reads the dpkg database of the root filesystem image r: it
// indexes only AdminDir and the first two levels of the tree (SquashfsFS
// with that root), loads the database, and gives the index back.
func LoadSquashfs(r *squashfs.Reader, o Options) (*DB, error) {
	admin := o.AdminDir
	if admin == "" {
		admin = "var/lib/dpkg"
	}
	s, err := SquashfsFS(r, o, admin)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return Load(s, o)
}

var (
	_ fs.ReadDirFS   = (*SquashFS)(nil)
	_ fs.StatFS      = (*SquashFS)(nil)
	_ fs.ReadLinkFS  = (*SquashFS)(nil)
	_ fs.ReadDirFile = (*sqFile)(nil)
)
