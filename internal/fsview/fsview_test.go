package fsview

import (
	"errors"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/isodiff/isodiff/tree"
)

// entry is a test reader's entry: a node and, for a directory, its
// children's names.
type entry struct {
	tree.Node
	data string
	kids []string
}

// memSource is a Source over a map of entries by path, counting the
// listings it holds.
type memSource struct {
	ents    map[string]*entry
	held    atomic.Int64 // listings not given back
	badKid  string       // Child fails for this path
	listErr error        // List fails with this
}

var errBad = errors.New("bad child")

func entryNode(e *entry) *tree.Node { return &e.Node }

func newMem() *memSource {
	t := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &memSource{ents: map[string]*entry{}}
	add := func(p string, mode fs.FileMode, data, link string) {
		m.ents[p] = &entry{Node: tree.Node{Path: p, Mode: mode, Size: int64(len(data) + len(link)), ModTime: t, Link: link}, data: data}
		if p != "/" {
			i := strings.LastIndex(p, "/")
			dir := p[:max(i, 1)]
			d := m.ents[dir]
			d.kids = append(d.kids, p[i+1:])
			slices.Sort(d.kids)
		}
	}
	add("/", fs.ModeDir|0o755, "", "")
	add("/a", fs.ModeDir|0o755, "", "")
	add("/a/f", 0o644, "hello, world\n", "")
	add("/a/g", fs.ModeSetuid|0o755, "", "")
	add("/a/sub", fs.ModeDir|fs.ModeSticky|0o777, "", "")
	add("/a/sub/x", 0o600, "x", "")
	add("/dev", fs.ModeDevice|fs.ModeCharDevice|0o600, "", "")
	add("/fifo", fs.ModeNamedPipe|0o600, "", "")
	add("/link", fs.ModeSymlink|0o777, "", "a/f")
	add("/empty", fs.ModeDir|0o700, "", "")
	return m
}

func (m *memSource) source(entryPaths, wrap bool) *Source[*entry, string] {
	return &Source[*entry, string]{
		Node: entryNode,
		Lookup: func(name string) (*entry, error) {
			return Resolve(m.ents["/"], name, entryNode, func(d *entry, elem string) (*entry, bool, error) {
				e := m.ents[tree.Join(d.Path, elem)]
				return e, e != nil, nil
			})
		},
		List: func(d *entry) ([]string, func(), error) {
			if m.listErr != nil {
				return nil, nil, m.listErr
			}
			m.held.Add(1)
			return slices.Clone(d.kids), func() { m.held.Add(-1) }, nil
		},
		Child: func(d *entry, name string) (*entry, error) {
			p := tree.Join(d.Path, name)
			if p == m.badKid {
				return nil, errBad
			}
			return m.ents[p], nil
		},
		Open:              func(e *entry) (File, error) { return strings.NewReader(e.data), nil },
		EntryPathInErrors: entryPaths,
		WrapReadErrors:    wrap,
	}
}

func TestFS(t *testing.T) {
	m := newMem()
	fsys := New(m.source(false, false))
	if err := fstest.TestFS(fsys, "a/f", "a/g", "a/sub/x", "dev", "fifo", "link", "empty"); err != nil {
		t.Fatal(err)
	}
	info, err := fs.Stat(fsys, "a/f")
	if err != nil || info.Sys() != m.ents["/a/f"] || info.Name() != "f" || info.Mode() != 0o644 || info.Size() != 13 {
		t.Errorf("Stat a/f: %v %v", info, err)
	}
	if info, _ := fs.Stat(fsys, "."); info.Name() != "." || !info.IsDir() {
		t.Errorf("Stat .: %v", info)
	}
	if l, err := fs.ReadLink(fsys, "link"); l != "a/f" || err != nil {
		t.Errorf("ReadLink: %q %v", l, err)
	}
	if info, err := fs.Lstat(fsys, "link"); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat link: %v %v", info, err)
	}
	f, err := fsys.Open("a/f")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if n, err := f.(io.ReaderAt).ReadAt(b, 7); n != 5 || err != nil || string(b) != "world" {
		t.Errorf("ReadAt: %d %v %q", n, err, b)
	}
	if pos, err := f.(io.Seeker).Seek(-6, io.SeekEnd); pos != 7 || err != nil {
		t.Errorf("Seek: %d %v", pos, err)
	}
	if m.held.Load() != 0 {
		t.Errorf("%d listings held", m.held.Load())
	}
}

// TestErrors: every error is an *fs.PathError naming the operation and
// the path, as given or (EntryPathInErrors) as the entry's.
func TestErrors(t *testing.T) {
	for _, entryPaths := range []bool{false, true} {
		fsys := New(newMem().source(entryPaths, true)).(interface {
			fs.ReadDirFS
			fs.StatFS
			fs.ReadLinkFS
		})
		check := func(err error, op, path string, want error) {
			t.Helper()
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != op || pe.Path != path || !errors.Is(err, want) {
				t.Errorf("%v, want %s %s: %v", err, op, path, want)
			}
		}
		for _, p := range []string{"/a", "a/", "", "a/../a", "\xff"} {
			_, err := fsys.Open(p)
			check(err, "open", p, fs.ErrInvalid)
			_, err = fsys.Stat(p)
			check(err, "stat", p, fs.ErrInvalid)
		}
		_, err := fsys.Lstat("nope")
		check(err, "lstat", "nope", fs.ErrNotExist)
		for _, p := range []string{"a/f/x", "link/f", "a/sub/x/y", "a/nope/x"} {
			_, err = fsys.Stat(p)
			check(err, "stat", p, fs.ErrNotExist)
		}
		_, err = fsys.ReadDir("a/nope")
		check(err, "readdir", "a/nope", fs.ErrNotExist)
		_, err = fsys.ReadLink("a")
		check(err, "readlink", "a", fs.ErrInvalid)
		_, err = fsys.ReadDir("a/f")
		check(err, "readdir", "a/f", errNotDir)

		path := func(p string) string {
			if entryPaths {
				return "/" + p
			}
			return p
		}
		d, _ := fsys.Open("a")
		_, err = d.Read(nil)
		check(err, "read", path("a"), errIsDir)
		l, _ := fsys.Open("link")
		_, err = l.Read(make([]byte, 1))
		check(err, "read", path("link"), errSymlink)
		_, err = l.(io.Seeker).Seek(0, io.SeekStart)
		check(err, "seek", path("link"), errSymlink)
		f, _ := fsys.Open("a/f")
		_, err = f.(io.Seeker).Seek(0, 42)
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "seek" || pe.Path != path("a/f") {
			t.Errorf("Seek with a bad whence: %v", err)
		}
		if _, err := io.ReadAll(f); err != nil {
			t.Errorf("ReadAll: %v", err)
		}
		for _, p := range []string{"dev", "fifo"} {
			f, err := fsys.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := f.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("Read %s: %d %v", p, n, err)
			}
		}
	}
	// Without WrapReadErrors, the section reader's own error.
	f, _ := New(newMem().source(false, false)).Open("a/f")
	if _, err := f.(io.Seeker).Seek(0, 42); err == nil || errors.As(err, new(*fs.PathError)) {
		t.Errorf("Seek with a bad whence, unwrapped: %v", err)
	}
}

// TestReadDirPaging: ReadDir(n) pages through the listing; an entry that
// fails ends a page with those before it and is tried again; the listing
// is given back once, when read to its end or closed.
func TestReadDirPaging(t *testing.T) {
	m := newMem()
	m.badKid = "/a/g"
	fsys := New(m.source(false, false))
	f, err := fsys.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	d := f.(fs.ReadDirFile)
	ents, err := d.ReadDir(5)
	if len(ents) != 1 || ents[0].Name() != "f" || !errors.Is(err, errBad) {
		t.Fatalf("ReadDir(5) with a bad second entry: %v %v", ents, err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "readdir" || pe.Path != "a" {
		t.Errorf("ReadDir error: %v", err)
	}
	if _, err := d.ReadDir(1); !errors.Is(err, errBad) {
		t.Errorf("the bad entry again: %v", err)
	}
	m.badKid = ""
	if m.held.Load() != 1 {
		t.Errorf("%d listings held while reading", m.held.Load())
	}
	if ents, err := d.ReadDir(1); len(ents) != 1 || ents[0].Name() != "g" || err != nil {
		t.Fatalf("ReadDir(1): %v %v", ents, err)
	}
	if ents, err := d.ReadDir(5); len(ents) != 1 || ents[0].Name() != "sub" || err != nil {
		t.Fatalf("ReadDir(5) of the last: %v %v", ents, err)
	}
	if m.held.Load() != 0 {
		t.Errorf("%d listings held once all were returned", m.held.Load())
	}
	if ents, err := d.ReadDir(1); len(ents) != 0 || err != io.EOF {
		t.Errorf("ReadDir(1) after the end: %v %v", ents, err)
	}
	if ents, err := d.ReadDir(-1); ents == nil || len(ents) != 0 || err != nil {
		t.Errorf("ReadDir(-1) after the end: %#v %v", ents, err)
	}
	d.Close()
	if m.held.Load() != 0 {
		t.Errorf("%d listings held after Close", m.held.Load())
	}

	// Closed early; dropped unclosed; an empty directory; ReadDir by name.
	f, _ = fsys.Open("a")
	f.(fs.ReadDirFile).ReadDir(1)
	f.Close()
	f.Close()
	func() {
		f, _ := fsys.Open("a")
		f.(fs.ReadDirFile).ReadDir(1)
	}()
	f, _ = fsys.Open("empty")
	if ents, err := f.(fs.ReadDirFile).ReadDir(1); len(ents) != 0 || err != io.EOF {
		t.Errorf("ReadDir(1) of an empty directory: %v %v", ents, err)
	}
	if ents, err := fs.ReadDir(fsys, "a"); len(ents) != 3 || err != nil {
		t.Errorf("fs.ReadDir: %v %v", ents, err)
	}
	for range 50 {
		runtime.GC()
		if m.held.Load() == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m.held.Load() != 0 {
		t.Errorf("%d listings held at the end", m.held.Load())
	}

	// A listing that fails.
	m.listErr = errBad
	if _, err := fs.ReadDir(fsys, "a"); !errors.As(err, &pe) || pe.Path != "a" || !errors.Is(err, errBad) {
		t.Errorf("fs.ReadDir with a failing listing: %v", err)
	}
}
