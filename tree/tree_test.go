package tree

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestCompareIsWalkOrder(t *testing.T) {
	// filepath.WalkDir visits in lexical order per directory: the same order
	// Compare must give for whole paths.
	root := t.TempDir()
	for _, p := range []string{"a/b", "a.c", "a-d/x", "a/b/c", "ab", "a/b.d", "a0", "b"} {
		os.MkdirAll(filepath.Join(root, p), 0o755)
	}
	var walk []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			walk = append(walk, "/")
		} else {
			walk = append(walk, "/"+filepath.ToSlash(rel))
		}
		return nil
	})
	sorted := append([]string(nil), walk...)
	sort.Slice(sorted, func(i, j int) bool { return Compare(sorted[i], sorted[j]) < 0 })
	for i := range walk {
		if walk[i] != sorted[i] {
			t.Fatalf("walk order %v, Compare order %v", walk, sorted)
		}
	}
	if Compare("/a", "/a") != 0 || Compare("/a", "/a/b") != -1 || Compare("/a/b", "/a.c") != -1 {
		t.Fatal("basic cases")
	}
}

func TestPermString(t *testing.T) {
	cases := map[fs.FileMode]string{
		0o755:                 "rwxr-xr-x",
		fs.ModeSetuid | 0o755: "rwsr-xr-x",
		fs.ModeSetgid | 0o644: "rw-r-Sr--",
		fs.ModeSticky | 0o777: "rwxrwxrwt",
		fs.ModeSticky | 0o776: "rwxrwxrwT",
	}
	for m, want := range cases {
		if got := PermString(m); got != want {
			t.Errorf("PermString(%v) = %s, want %s", m, got, want)
		}
	}
}

func TestModeFromPOSIX(t *testing.T) {
	for _, c := range []struct {
		m    uint32
		want fs.FileMode
		ok   bool
	}{
		{0o100644, 0o644, true},
		{0o104755, fs.ModeSetuid | 0o755, true},
		{0o042775, fs.ModeDir | fs.ModeSetgid | 0o775, true},
		{0o041777, fs.ModeDir | fs.ModeSticky | 0o777, true},
		{0o120777, fs.ModeSymlink | 0o777, true},
		{0o020600, fs.ModeDevice | fs.ModeCharDevice | 0o600, true},
		{0o060660, fs.ModeDevice | 0o660, true},
		{0o010640, fs.ModeNamedPipe | 0o640, true},
		{0o140755, fs.ModeSocket | 0o755, true},
		{0o7777, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, false}, // no type
		{0o170644, 0o644, false},
		{0o030644, 0o644, false},
	} {
		if got, ok := ModeFromPOSIX(c.m); got != c.want || ok != c.ok {
			t.Errorf("ModeFromPOSIX(%#o) = %v, %v; want %v, %v", c.m, got, ok, c.want, c.ok)
		}
	}
}
