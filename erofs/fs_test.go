package erofs

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// TestFS checks the io/fs view with testing/fstest and against the Walker:
// the same nodes in the same order, the same modes, the same bytes.
func TestFS(t *testing.T) {
	needTools(t)
	if os.Getuid() != 0 {
		t.Skip("needs root for devices and owners")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	buildTree(t, src, 100<<10)
	img := filepath.Join(dir, "img")
	makeImage(t, src, img, "-zlz4hc", "-Eztailpacking")
	r := openImageFile(t, img)
	fsys := r.FS()
	if err := fstest.TestFS(fsys, "small", "big/text", "many/entry-0299", "odd/a.d/inner", "dev/char", "link-long"); err != nil {
		t.Fatal(err)
	}
	ents := walkAll(t, r)
	i := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := ents[i]
		i++
		if want := "/" + p; p != "." && want != e.Path || p == "." && e.Path != "/" {
			t.Fatalf("WalkDir at %q, Walker at %q", p, e.Path)
		}
		if info.Mode() != e.Mode || info.Sys().(*Entry).Nid != e.Nid {
			t.Errorf("%s: mode %v nid %d, walker %v %d", p, info.Mode(), info.Sys().(*Entry).Nid, e.Mode, e.Nid)
		}
		if e.IsRegular() {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			want, err := os.ReadFile(filepath.Join(src, e.Path))
			if err != nil {
				return err
			}
			if string(b) != string(want) {
				t.Errorf("%s: fs.ReadFile differs from the source", p)
			}
		}
		if e.Mode&fs.ModeSymlink != 0 {
			if l, err := fs.ReadLink(fsys, p); err != nil || l != e.Link {
				t.Errorf("%s: ReadLink %q %v, want %q", p, l, err, e.Link)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(ents) {
		t.Errorf("WalkDir saw %d nodes, Walker %d", i, len(ents))
	}
	if _, err := fs.Stat(fsys, "link-short/x"); err == nil {
		t.Error("a path through a symlink exists")
	}
	if info, err := fs.Stat(fsys, "modes/setuid"); err != nil || info.Mode() != fs.ModeSetuid|0o755 {
		t.Errorf("Stat modes/setuid: %v %v", info, err)
	}
}

// openImageFile opens the image file at path for the test's duration.
func openImageFile(t testing.TB, path string) *Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
