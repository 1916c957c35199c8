package isodiff

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// epoch is the fixed time of every file in the test trees.
var epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// liveTree describes a small root filesystem and the ISO around it. Each
// test case changes one thing in a copy and expects exactly that back.
type liveTree struct {
	root    map[string]string // squashfs tree: path -> content
	iso     map[string]string // ISO-level files besides the squashfs
	gzMtime time.Time         // header mtime of /usr/share/doc/pkg/changelog.gz
	edit    func(t *testing.T, root, isoDir string)
	isoDate string // xorriso --modification-date
	comp    string // squashfs compressor
}

func defaultTree() liveTree {
	rng := rand.New(rand.NewSource(7))
	big := make([]byte, 300<<10) // several 128 KiB blocks
	rng.Read(big)
	return liveTree{
		root: map[string]string{
			"etc/hostname":        "debian\n",
			"etc/os-release":      "PRETTY_NAME=\"Demo Live\"\nID=debian\n",
			"etc/attr-file":       "has an xattr\n",
			"usr/bin/tool":        "\x7fELF not really but binary enough\x00\x01\x02",
			"usr/lib/big.bin":     string(big),
			"usr/lib/hard1":       "hard linked content\n",
			"var/lib/stamp":       "stamp\n",
			"usr/share/empty":     "",
			"usr/share/doc/x.txt": "documentation\n",
		},
		iso: map[string]string{
			".disk/info":     "Demo Live 2024-03-01\n",
			"live/vmlinuz":   "kernel image bytes\n",
			"md5sum.txt":     "0123 ./live/vmlinuz\n",
			"isolinux/a.cfg": "default live\n",
		},
		gzMtime: epoch,
		isoDate: "2024030112000000",
		comp:    "xz",
	}
}

// build writes the tree, the squashfs and the ISO into dir and returns the
// ISO's path.
func (lt liveTree) build(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	isoDir := filepath.Join(dir, "iso")
	testimg.WriteFiles(t, root, lt.root)
	testimg.WriteFiles(t, isoDir, lt.iso)
	must(t, os.Chmod(filepath.Join(root, "usr/bin/tool"), 0o755))
	must(t, os.Symlink("os-release", filepath.Join(root, "etc/link")))
	must(t, os.Link(filepath.Join(root, "usr/lib/hard1"), filepath.Join(root, "usr/lib/hard2")))
	testimg.Run(t, root, "setfattr", "-n", "user.note", "-v", "original", "etc/attr-file")
	writeGzip(t, filepath.Join(root, "usr/share/doc/pkg/changelog.gz"), "changelog text\n", lt.gzMtime)
	if lt.edit != nil {
		lt.edit(t, root, isoDir)
	}
	stampTree(t, root)
	must(t, os.MkdirAll(filepath.Join(isoDir, "live"), 0o755))
	testimg.MakeSquashfs(t, root, filepath.Join(isoDir, "live/filesystem.squashfs"),
		"-comp", lt.comp, "-mkfs-time", fmt.Sprint(epoch.Unix()))
	stampTree(t, isoDir)
	out := filepath.Join(dir, "live.iso")
	cmd := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-o", out, "-R", "-J", "-V", "DEMO_LIVE",
		"--modification-date="+lt.isoDate, isoDir)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+fmt.Sprint(epoch.Unix()))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

// stampTree sets every mtime under dir to epoch, except files whose mtime
// a test set to something else already (anything after 2000 and not now).
func stampTree(t *testing.T, dir string) {
	t.Helper()
	cutoff := time.Now().Add(-time.Hour)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		must(t, err)
		if fi.ModTime().Before(cutoff) {
			return nil // set by the test on purpose
		}
		testimg.Run(t, dir, "touch", "-h", "-d", "@"+fmt.Sprint(epoch.Unix()), p)
		return nil
	})
}

func writeGzip(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = mtime
	zw.Write([]byte(content))
	must(t, zw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// key is what a test expects of one finding.
type key struct {
	scope, path string
	kind        report.Kind
	fields      string // comma-separated field names, sorted
}

func keys(fs []report.Finding) []key {
	var out []key
	for _, f := range fs {
		var names []string
		for _, c := range f.Fields {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		out = append(out, key{f.Scope.String(), f.Path, f.Kind, strings.Join(names, ",")})
	}
	return out
}

const sq = "squashfs:/live/filesystem.squashfs"

// derived reports whether a finding follows from any change inside the
// squashfs: the squashfs file itself, and the layout of the structures
// around it.
func derived(f report.Finding) bool {
	return f.Derived || f.Container
}

func TestCompareInjectedDifferences(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr")
	base := defaultTree()
	isoA := base.build(t, t.TempDir())

	cases := []struct {
		name   string
		change func(lt *liveTree)
		want   []key
	}{
		{"gzip header mtime", func(lt *liveTree) { lt.gzMtime = epoch.Add(time.Hour) },
			[]key{{sq, "/usr/share/doc/pkg/changelog.gz", report.KindContent, ""}}},
		{"bytes at equal size and mtime", func(lt *liveTree) { lt.root["etc/hostname"] = "DEBIAN\n" },
			[]key{{sq, "/etc/hostname", report.KindContent, ""}}},
		{"bytes in a multi-block file", func(lt *liveTree) {
			b := []byte(lt.root["usr/lib/big.bin"])
			b[200<<10] ^= 0xff
			lt.root["usr/lib/big.bin"] = string(b)
		}, []key{{sq, "/usr/lib/big.bin", report.KindContent, ""}}},
		{"mtime only", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				testimg.Run(t, root, "touch", "-d", "@"+fmt.Sprint(epoch.Unix()-86400), "var/lib/stamp")
			}
		}, []key{{sq, "/var/lib/stamp", report.KindChanged, "mtime"}}},
		{"setuid", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				must(t, os.Chmod(filepath.Join(root, "usr/bin/tool"), 0o755|os.ModeSetuid))
			}
		}, []key{{sq, "/usr/bin/tool", report.KindChanged, "mode"}}},
		{"owner", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				must(t, os.Lchown(filepath.Join(root, "etc/os-release"), 1000, 100000))
			}
		}, []key{{sq, "/etc/os-release", report.KindChanged, "gid,uid"}}},
		{"symlink target", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				p := filepath.Join(root, "etc/link")
				must(t, os.Remove(p))
				must(t, os.Symlink("hostname", p))
			}
		}, []key{{sq, "/etc/link", report.KindChanged, "link_target,size"}}},
		{"xattr", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				testimg.Run(t, root, "setfattr", "-n", "user.note", "-v", "changed", "etc/attr-file")
			}
		}, []key{{sq, "/etc/attr-file", report.KindChanged, "xattr user.note"}}},
		{"hard link broken", func(lt *liveTree) {
			lt.edit = func(t *testing.T, root, _ string) {
				p := filepath.Join(root, "usr/lib/hard2")
				must(t, os.Remove(p))
				must(t, os.WriteFile(p, []byte("hard linked content\n"), 0o644))
			}
		}, []key{
			{sq, "/usr/lib/hard1", report.KindChanged, "nlink"},
			{sq, "/usr/lib/hard2", report.KindChanged, "nlink"},
		}},
		{"added and removed", func(lt *liveTree) {
			delete(lt.root, "usr/share/doc/x.txt")
			lt.root["etc/new.conf"] = "new\n"
		}, []key{
			{sq, "/etc/new.conf", report.KindAdded, ""},
			{sq, "/usr/share/doc/x.txt", report.KindRemoved, ""},
		}},
		{"ISO-level file", func(lt *liveTree) { lt.iso[".disk/info"] = "Demo Live 2024-03-02\n" },
			[]key{{"iso", "/.disk/info", report.KindContent, ""}}},
		{"volume creation date", func(lt *liveTree) { lt.isoDate = "2024030212000000" },
			[]key{{"iso-header", "primary volume descriptor", report.KindHeader, "volume_creation_date,volume_modification_date"},
				{"iso-header", "joliet volume descriptor", report.KindHeader, "volume_creation_date,volume_modification_date"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lt := defaultTree()
			tc.change(&lt)
			isoB := lt.build(t, t.TempDir())
			rep, err := Compare(context.Background(), isoA, isoB, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed() {
				for _, s := range rep.Stages {
					for _, p := range s.Problems {
						t.Errorf("problem: %s", p)
					}
				}
			}
			var got []key
			for _, f := range rep.Findings() {
				if !derived(f) {
					got = append(got, keys([]report.Finding{f})...)
				}
			}
			if !slices.Equal(got, tc.want) {
				var sum bytes.Buffer
				report.WriteSummary(&sum, rep)
				t.Fatalf("findings:\n got  %v\n want %v\n%s", got, tc.want, sum.String())
			}
			if code := rep.ExitCode(); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
		})
	}
}

func TestCompareIdentical(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr")
	lt := defaultTree()
	a := lt.build(t, t.TempDir())
	b := lt.build(t, t.TempDir())
	rep, err := Compare(context.Background(), a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical || rep.ExitCode() != 0 || len(rep.Findings()) != 0 {
		var sum bytes.Buffer
		report.WriteSummary(&sum, rep)
		t.Fatalf("two builds of one tree must be identical:\n%s", sum.String())
	}
}

// TestCompareHybridHeaders builds two isohybrid, El Torito bootable images
// of one tree that differ only in their volume dates. xorriso derives the
// MBR disk signature and the GPT GUIDs from the volume date, so those must
// show up too, decoded; the raw system-area ranges follow from them.
func TestCompareHybridHeaders(t *testing.T) {
	testimg.Need(t, "xorriso", "mkfs.vfat", "mcopy")
	t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(epoch.Unix())) // mtools stamps directories with it
	src := t.TempDir()
	testimg.WriteFiles(t, src, map[string]string{"live/vmlinuz": "kernel\n", ".disk/info": "x\n"})
	stampTree(t, src)
	a := testimg.MakeHybridISO(t, src, filepath.Join(t.TempDir(), "a.iso"), "--modification-date=2024030112000000")
	b := testimg.MakeHybridISO(t, src, filepath.Join(t.TempDir(), "b.iso"), "--modification-date=2024030212000000")
	rep, err := Compare(context.Background(), a, b, Options{})
	if err != nil || rep.Failed() {
		t.Fatalf("err %v, failed %v", err, rep != nil && rep.Failed())
	}
	var got []key
	for _, f := range rep.Findings() {
		if !f.Derived {
			got = append(got, keys([]report.Finding{f})...)
		}
	}
	want := []key{
		{"iso-header", "mbr", report.KindHeader, "disk_signature"},
		{"iso-header", "gpt header", report.KindHeader, "disk_guid"},
		{"iso-header", "gpt partition 1", report.KindHeader, "unique_guid"},
		{"iso-header", "gpt partition 2", report.KindHeader, "unique_guid"},
		{"iso-header", "primary volume descriptor", report.KindHeader, "volume_creation_date,volume_modification_date"},
		{"iso-header", "joliet volume descriptor", report.KindHeader, "volume_creation_date,volume_modification_date"},
		{"iso", "/isolinux/boot.cat", report.KindChanged, "mtime"},
	}
	if !slices.Equal(got, want) {
		var sum bytes.Buffer
		report.WriteSummary(&sum, rep)
		t.Fatalf("findings:\n got  %v\n want %v\n%s", got, want, sum.String())
	}
}
