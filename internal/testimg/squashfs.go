package testimg

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// MakeSquashfs builds a squashfs image at out from the tree srcDir with
// mksquashfs, reproducibly and quietly on one processor, adding args (for
// example "-comp", "xz", "-b", "4K", "-p", "dev c 644 0 0 1 2"). It fails
// the test if mksquashfs fails.
func MakeSquashfs(t testing.TB, srcDir, out string, args ...string) {
	t.Helper()
	Need(t, "mksquashfs")
	base := []string{srcDir, out, "-noappend", "-quiet", "-no-progress", "-processors", "1"}
	Run(t, filepath.Dir(out), "mksquashfs", append(base, args...)...)
}

// SquashfsListing is one line of `unsquashfs -lln`, the reference listing
// of a squashfs image.
type SquashfsListing struct {
	Path     string // "/" for the root, else "/a/b"
	Type     string // ls type letter: "-", "d", "l", "c", "b", "p", "s"
	Perm     string // nine ls permission characters, with s/S/t/T
	UID, GID uint32
	Size     int64  // not printed for devices
	Major    uint32 // devices only, as unsquashfs prints them: see UnsquashfsDev
	Minor    uint32
	MTime    string // UTC, "2006-01-02 15:04" (unsquashfs prints minutes only)
	Link     string // symlink target
}

var lslnLine = regexp.MustCompile(`^(.)(.{9}) (\d+)/(\d+) +(?:(\d+), *(\d+)|(\d+)) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$`)

// ListSquashfs runs `unsquashfs -lln` on img (in UTC) and parses its
// listing, in unsquashfs's order. Paths must not contain newlines, and
// symlink names must not contain " -> ".
func ListSquashfs(t testing.TB, img string) []SquashfsListing {
	t.Helper()
	Need(t, "unsquashfs")
	out := Run(t, filepath.Dir(img), "unsquashfs", "-lln", img)
	var list []SquashfsListing
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		m := lslnLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unsquashfs -lln: unexpected line %q", line)
		}
		num := func(s string) uint64 {
			if s == "" {
				return 0
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("unsquashfs -lln: %q in %q", s, line)
			}
			return v
		}
		l := SquashfsListing{Type: m[1], Perm: m[2], UID: uint32(num(m[3])), GID: uint32(num(m[4])),
			Major: uint32(num(m[5])), Minor: uint32(num(m[6])), Size: int64(num(m[7])), MTime: m[8], Path: m[9]}
		if l.Type == "l" {
			l.Path, l.Link, _ = strings.Cut(l.Path, " -> ")
		}
		if l.Path == "" {
			l.Path = "/"
		}
		list = append(list, l)
	}
	return list
}

// UnsquashfsDev renders a device number the way unsquashfs 4.5.1 lists it:
// it encodes major and minor like the kernel's new_encode_dev, then prints
// dev>>8 and dev&0xff, which is right only for major < 4096, minor < 256
// (300,70000 prints as 1118508,112). Extraction (`unsquashfs -d`) creates
// the right device, so stat of an extracted node is the exact oracle.
func UnsquashfsDev(major, minor uint32) (uint32, uint32) {
	dev := minor&0xff | major<<8 | (minor&^0xff)<<12
	return dev >> 8, dev & 0xff
}

// ExtractSquashfs extracts img into the new directory dir with unsquashfs,
// keeping ownership, devices and xattrs (the test runs as root).
func ExtractSquashfs(t testing.TB, img, dir string) {
	t.Helper()
	Need(t, "unsquashfs")
	Run(t, filepath.Dir(img), "unsquashfs", "-quiet", "-no-progress", "-processors", "1", "-d", dir, img)
}
