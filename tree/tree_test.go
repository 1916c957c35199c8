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
