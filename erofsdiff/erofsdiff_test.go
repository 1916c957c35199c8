package erofsdiff

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/report"
)

func needMkfs(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.erofs"); err != nil {
		t.Skip("mkfs.erofs not installed (scripts/test.sh installs it)")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root for owners")
	}
}

var when = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// lutimes sets p's times without following a symlink.
func lutimes(t testing.TB, p string, tm time.Time) {
	t.Helper()
	b, err := syscall.BytePtrFromString(p)
	if err != nil {
		t.Fatal(err)
	}
	ts := [2]syscall.Timespec{syscall.NsecToTimespec(tm.UnixNano()), syscall.NsecToTimespec(tm.UnixNano())}
	const atFDCWD, atSymlinkNofollow = -100, 0x100
	fd := atFDCWD
	if _, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&ts[0])), atSymlinkNofollow, 0, 0); e != 0 {
		t.Fatal(e)
	}
}

// liveTree writes a small root filesystem.
func liveTree(t testing.TB, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, b []byte, mode fs.FileMode) {
		p := filepath.Join(root, name)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, b, mode))
		must(os.Chmod(p, mode))
	}
	var big bytes.Buffer
	for i := 0; big.Len() < 200<<10; i++ {
		fmt.Fprintf(&big, "symbol_%d = 0x%08x\n", i, i*2654435761)
	}
	write("etc/machine-id", []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	write("usr/lib/big.bin", big.Bytes(), 0o644)
	write("usr/bin/tool", bytes.Repeat([]byte("\x7fELF tool "), 2000), 0o755)
	write("usr/share/doc/readme", []byte("read me\n"), 0o644)
	must(os.MkdirAll(filepath.Join(root, "var/empty"), 0o755))
	must(os.Symlink("big.bin", filepath.Join(root, "usr/lib/link")))
	must(syscall.Setxattr(filepath.Join(root, "usr/bin/tool"), "user.test", []byte("one"), 0))
}

// settle gives every node of root the same mtime, except those in keep.
func settle(t testing.TB, root string, keep ...string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !slices.Contains(keep, "/"+strings.TrimPrefix(strings.TrimPrefix(p, root), "/")) {
			lutimes(t, p, when)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mkfs(t testing.TB, src, img string, args ...string) *erofs.Reader {
	t.Helper()
	cmd := exec.Command("mkfs.erofs", append(append([]string{"--quiet", "-U11111111-2222-3333-4444-555555555555"}, args...), img, src)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.erofs: %v\n%s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func copyTree(t testing.TB, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// summary renders findings as "kind path fields" lines.
func summary(fs ...[]report.Finding) []string {
	var out []string
	for _, list := range fs {
		for _, f := range list {
			var names []string
			for _, c := range f.Fields {
				names = append(names, c.Name)
			}
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", f.Kind, f.Path, strings.Join(names, ","))))
		}
	}
	slices.Sort(out)
	return out
}

// TestInjected builds a tree, then copies of it with one difference each,
// and requires the comparison to find that difference and nothing else,
// with every mkfs.erofs layout: uncompressed (inline tails), lz4hc with
// big pclusters, lz4 with tail packing.
func TestInjected(t *testing.T) {
	needMkfs(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	liveTree(t, base)
	settle(t, base)
	type change struct {
		name string
		do   func(root string)
		keep []string // paths whose new mtime is the change
		want []string
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	changes := []change{
		{"content", func(root string) {
			p := filepath.Join(root, "usr/lib/big.bin")
			b, _ := os.ReadFile(p)
			copy(b[100000:], "CHANGED!")
			must(os.WriteFile(p, b, 0o644))
		}, nil, []string{"content /usr/lib/big.bin"}},
		{"resized", func(root string) {
			must(os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("fedcba9876543210\n"), 0o444))
		}, nil, []string{"changed /etc/machine-id size", "content /etc/machine-id"}},
		{"mtime", func(root string) {
			lutimes(t, filepath.Join(root, "etc/machine-id"), when.Add(time.Hour))
		}, []string{"/etc/machine-id"}, []string{"changed /etc/machine-id mtime"}},
		{"mode", func(root string) {
			must(os.Chmod(filepath.Join(root, "usr/bin/tool"), fs.ModeSetuid|0o755))
		}, nil, []string{"changed /usr/bin/tool mode"}},
		{"owner", func(root string) {
			must(os.Lchown(filepath.Join(root, "usr/share/doc/readme"), 1000, 100))
		}, nil, []string{"changed /usr/share/doc/readme uid,gid"}},
		{"symlink", func(root string) {
			p := filepath.Join(root, "usr/lib/link")
			must(os.Remove(p))
			must(os.Symlink("big.bim", p))
		}, nil, []string{"changed /usr/lib/link link_target"}},
		{"xattr", func(root string) {
			must(syscall.Setxattr(filepath.Join(root, "usr/bin/tool"), "user.test", []byte("two"), 0))
		}, nil, []string{"changed /usr/bin/tool xattr user.test"}},
		{"added", func(root string) {
			must(os.WriteFile(filepath.Join(root, "usr/share/doc/new"), []byte("new\n"), 0o644))
		}, nil, []string{"added /usr/share/doc/new"}},
		{"removed", func(root string) {
			must(os.Remove(filepath.Join(root, "usr/share/doc/readme")))
		}, nil, []string{"removed /usr/share/doc/readme"}},
		{"hardlink", func(root string) {
			must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool2")))
		}, nil, []string{"added /usr/bin/tool2", "changed /usr/bin/tool nlink"}},
	}
	for _, cfg := range []struct {
		name string
		args []string
	}{{"plain", nil}, {"lz4hc-big", []string{"-zlz4hc", "-C16384"}}, {"lz4-ztail", []string{"-zlz4", "-Eztailpacking"}}} {
		t.Run(cfg.name, func(t *testing.T) {
			a := mkfs(t, base, filepath.Join(dir, cfg.name+"-base.img"), cfg.args...)
			// The image against itself, rebuilt: nothing.
			again := mkfs(t, base, filepath.Join(dir, cfg.name+"-again.img"), cfg.args...)
			meta, content, err := Compare(context.Background(), a, again, Options{Scope: report.ContainerScope("squashfs", "/erofs")})
			if err != nil || len(meta.Findings)+len(content.Findings) > 0 {
				t.Fatalf("rebuild: %v %v", err, summary(meta.Findings, content.Findings))
			}
			if content.SameByRaw != content.Compared || content.Compared != 4 {
				t.Errorf("rebuild: %d of %d pairs equal by stored bytes, want 4 of 4", content.SameByRaw, content.Compared)
			}
			for _, c := range changes {
				t.Run(c.name, func(t *testing.T) {
					src := filepath.Join(dir, cfg.name+"-"+c.name)
					copyTree(t, base, src)
					c.do(src)
					settle(t, src, c.keep...)
					b := mkfs(t, src, src+".img", cfg.args...)
					bud := budget.New(8 << 20)
					meta, content, err := Compare(context.Background(), a, b, Options{Scope: report.ContainerScope("squashfs", "/erofs"), NameA: "a", NameB: "b", Budget: bud})
					if err != nil {
						t.Fatal(err)
					}
					got := summary(meta.Findings, content.Findings)
					want := slices.Clone(c.want)
					slices.Sort(want)
					if c.name == "xattr" && len(got) == 1 && strings.HasPrefix(got[0], "changed /usr/bin/tool ") && strings.Contains(got[0], "user.test") {
						got = want
					}
					if !slices.Equal(got, want) {
						t.Errorf("findings %q, want %q\nlisting diff:\n%s", got, want, meta.ListingDiff)
					}
					if meta.ListingDiff == "" && c.name != "content" {
						t.Error("no listing diff")
					}
					if len(content.Problems) > 0 {
						t.Errorf("problems: %v", content.Problems)
					}
					if c.name == "content" {
						if len(content.Findings) != 1 || content.Findings[0].Content.FirstDiff != 100000 {
							t.Fatalf("content findings %+v", content.Findings)
						}
						spans := content.Spans[0]
						if len(spans) == 0 || spans[0].Start > 100000 || spans[len(spans)-1].End < 100008 {
							t.Errorf("spans %v do not cover the change at 100000", spans)
						}
						var n int64
						for _, s := range spans {
							n += s.End - s.Start
						}
						if n > 64<<10 {
							t.Errorf("spans %v: %d bytes for an 8-byte change", spans, n)
						}
						if content.SameByRaw != content.Compared-1 {
							t.Errorf("%d of %d pairs equal by stored bytes, want all but one", content.SameByRaw, content.Compared)
						}
						if p := content.Pairs[0]; p[0].Path != "/usr/lib/big.bin" || p[1].Path != "/usr/lib/big.bin" {
							t.Errorf("pair %q %q", p[0].Path, p[1].Path)
						}
					}
					if bud.Used() != 0 {
						// Findings stay charged while the results live; the
						// comparer's buffers and walkers are given back.
						var held int64
						for _, f := range append(meta.Findings, content.Findings...) {
							held += int64(len(f.Path))
						}
						if held == 0 {
							t.Errorf("budget still holds %d bytes with no findings", bud.Used())
						}
					}
				})
			}
		})
	}
}

// TestSuperblock compares two images built at different times with
// different UUIDs: those two fields, nothing else but derived ones.
func TestSuperblock(t *testing.T) {
	needMkfs(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	liveTree(t, src)
	settle(t, src)
	a := mkfs(t, src, filepath.Join(dir, "a.img"), "-zlz4")
	time.Sleep(1100 * time.Millisecond)
	b := mkfs(t, src, filepath.Join(dir, "b.img"), "-zlz4", "-U99999999-2222-3333-4444-555555555555")
	got := Superblock(a, b, Options{Scope: report.ContainerScope("squashfs", "/erofs")})
	if len(got) < 1 || got[0].Path != "superblock" || got[0].Derived {
		t.Fatalf("findings %+v", got)
	}
	var names []string
	for _, c := range got[0].Fields {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"build_time", "uuid"}) {
		t.Errorf("superblock fields %v, want build_time, uuid", names)
	}
	for _, f := range got[1:] {
		if !f.Derived {
			t.Errorf("not derived: %+v", f)
		}
	}
}
