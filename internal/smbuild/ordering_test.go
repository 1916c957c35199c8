package smbuild

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestReorderedCopy: every directory of the copy lists its entries in the
// reverse of the source's order; contents, modes, times, symbolic links and
// hard links are kept; the output root is copied empty.
func TestReorderedCopy(t *testing.T) {
	if _, err := probeOrder(OrderBase); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	src := t.TempDir()
	mtime := time.Unix(1700000000, 0)
	for i := range 12 {
		name := filepath.Join(src, "d"+strconv.Itoa(i%3), "f"+strconv.Itoa(i))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(name), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("d0/f0", filepath.Join(src, "link")))
	must(os.Link(filepath.Join(src, "d1", "f1"), filepath.Join(src, "hard")))
	must(os.MkdirAll(filepath.Join(src, "output", "abc"), 0o755))
	must(os.WriteFile(filepath.Join(src, "output", "abc", "x.iso"), []byte("x"), 0o644))
	must(os.Chmod(filepath.Join(src, "d2"), 0o750))
	_ = filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			must(os.Chtimes(p, mtime, mtime))
		}
		return err
	})

	root, err := reorderedCopy(t.Context(), src, filepath.Join(src, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(root))
	// A cancelled copy stops and leaves nothing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	mine := func() []string {
		m, _ := filepath.Glob(filepath.Join(OrderBase, orderPrefix+ownerTag()+"-*"))
		return m
	}
	before := mine()
	if _, err := reorderedCopy(ctx, src, filepath.Join(src, "output")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy: %v", err)
	}
	if after := mine(); len(after) != len(before) {
		t.Errorf("a cancelled copy left %v (before: %v)", after, before)
	}
	for _, d := range []string{".", "d0", "d1", "d2"} {
		a, err := readdirnames(filepath.Join(src, d))
		must(err)
		b, err := readdirnames(filepath.Join(root, d))
		must(err)
		slices.Reverse(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: source lists %v, the copy (reversed) %v", d, a, b)
		}
	}
	for _, rel := range []string{"d0/f3", "d2/f11", "d2", "."} {
		fa, err := os.Stat(filepath.Join(src, rel))
		must(err)
		fb, err := os.Stat(filepath.Join(root, rel))
		must(err)
		if fa.Mode() != fb.Mode() || !fb.ModTime().Equal(mtime) {
			t.Errorf("%s: mode %v time %v, want %v %v", rel, fb.Mode(), fb.ModTime(), fa.Mode(), mtime)
		}
		if !fa.IsDir() {
			a, _ := os.ReadFile(filepath.Join(src, rel))
			b, _ := os.ReadFile(filepath.Join(root, rel))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: content differs", rel)
			}
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "link")); err != nil || target != "d0/f0" {
		t.Errorf("link: %q, %v", target, err)
	}
	h1, _ := os.Stat(filepath.Join(root, "hard"))
	h2, _ := os.Stat(filepath.Join(root, "d1", "f1"))
	if h1 == nil || h2 == nil || !os.SameFile(h1, h2) {
		t.Error("the hard link is not one file in the copy")
	}
	if ents, err := os.ReadDir(filepath.Join(root, "output")); err != nil || len(ents) != 0 {
		t.Errorf("output in the copy: %v, %v", ents, err)
	}
}

// TestRemoveLeftoverCopies: the copy of a process that is gone is removed,
// this process's own is kept.
func TestRemoveLeftoverCopies(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("SKIP: no /proc")
	}
	saved := OrderBase
	OrderBase = t.TempDir()
	defer func() { OrderBase = saved }()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := orderPrefix + strconv.Itoa(cmd.Process.Pid) + "-12345-x"
	mine := orderPrefix + ownerTag() + "-y"
	for _, d := range []string{dead, mine, "unrelated"} {
		if err := os.MkdirAll(filepath.Join(OrderBase, d, "source"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	removeLeftoverCopies(&out)
	for d, want := range map[string]bool{dead: false, mine: true, "unrelated": true} {
		if _, err := os.Stat(filepath.Join(OrderBase, d)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("removed leftover source copy "+filepath.Join(OrderBase, dead))) {
		t.Errorf("output: %s", out.String())
	}
}
