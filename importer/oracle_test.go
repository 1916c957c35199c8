package importer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// node is one filesystem node as a reader or an oracle reports it, in the
// fields the comparison checks.
type node struct {
	Path     string // "/" for the root, else "/a/b"
	Type     string // ls type letter: "-", "d", "l", "c", "b", "p", "s"
	Perm     string // nine ls permission characters, with s/S and t/T
	UID, GID uint32
	Size     int64 // regular files
	MTime    time.Time
	// MTimeLS is set on an oracle node whose time is known only as ls
	// prints it (xorriso's lsdl for symlinks and devices, which osirrox
	// does not extract with their times): "Jan 2 2006" or "Jan 2 15:04".
	MTimeLS string
	Link    string // symlink target
	Dev     string // "major,minor" for devices
	NoDev   string // why a reader gives no device numbers
	Sum     string // hex SHA-256 of a regular file's bytes
	ReadErr string // why a reader gave no Sum
	ref     any    // the reader's own handle on the node
}

// lsMode renders an fs.FileMode as ls's type letter and nine permission
// characters (written here rather than taken from isodiff's tree package,
// so that the oracle side owes isodiff nothing).
func lsMode(m fs.FileMode) (typ, perm string) {
	switch {
	case m&fs.ModeDir != 0:
		typ = "d"
	case m&fs.ModeSymlink != 0:
		typ = "l"
	case m&fs.ModeCharDevice != 0:
		typ = "c"
	case m&fs.ModeDevice != 0:
		typ = "b"
	case m&fs.ModeNamedPipe != 0:
		typ = "p"
	case m&fs.ModeSocket != 0:
		typ = "s"
	case m&fs.ModeType != 0:
		typ = "?"
	default:
		typ = "-"
	}
	p := []byte("---------")
	for i, c := range "rwxrwxrwx" {
		if m&(1<<(8-i)) != 0 {
			p[i] = byte(c)
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if set {
			if p[i] == 'x' {
				p[i] = lower
			} else {
				p[i] = upper
			}
		}
	}
	special(2, m&fs.ModeSetuid != 0, 's', 'S')
	special(5, m&fs.ModeSetgid != 0, 's', 'S')
	special(8, m&fs.ModeSticky != 0, 't', 'T')
	return typ, string(p)
}

// lsTime formats t as xorriso's ls does: "Jan 2 15:04" within the last 180
// days, "Jan 2 2006" otherwise, in UTC.
func lsTime(t, now time.Time) string {
	t = t.UTC()
	if t.After(now) || now.Sub(t) > 180*24*time.Hour {
		return t.Format("Jan 2 2006")
	}
	return t.Format("Jan 2 15:04")
}

func sumFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fromExtraction fills n's exact time, device numbers and content from the
// node an oracle tool extracted at p, when there is one.
func fromExtraction(t testing.TB, n *node, p string) (exact bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	st := fi.Sys().(*syscall.Stat_t)
	n.MTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	if n.Type == "c" || n.Type == "b" {
		major := (st.Rdev>>8)&0xfff | (st.Rdev>>32)&^0xfff
		minor := st.Rdev&0xff | (st.Rdev>>12)&^0xff
		n.Dev = fmt.Sprintf("%d,%d", major, minor)
	}
	if n.Type == "-" {
		if n.Sum, err = sumFile(p); err != nil {
			t.Fatal(err)
		}
	}
	return true
}

var lsdlRE = regexp.MustCompile(`^(.)(\S{9})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\w{3}\s+\d+\s+[\d:]+)\s+'(.*?)'(?: -> '(.*)')?$`)

// isoOracle is what xorriso says of an ISO's Rock Ridge tree: its lsdl
// listing (names, types, permissions, owners, sizes, device numbers, link
// targets, ls-precision times) and osirrox's extraction (exact times of
// files and directories, contents).
func isoOracle(t testing.TB, img string) map[string]*node {
	t.Helper()
	need(t, "xorriso", "osirrox")
	out := run(t, filepath.Dir(img), "xorriso", "-abort_on", "FAILURE", "-indev", img, "-find", "/", "-exec", "lsdl")
	nodes := map[string]*node{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		g := lsdlRE.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("xorriso lsdl: unparsed line %q", line)
		}
		n := &node{Type: g[1], Perm: g[2], Path: g[8], Link: g[9], MTimeLS: strings.Join(strings.Fields(g[7]), " ")}
		if n.Type == "e" { // xorriso's letter for the El Torito boot catalog
			n.Type = "-"
		}
		uid, _ := strconv.ParseUint(g[4], 10, 32)
		gid, _ := strconv.ParseUint(g[5], 10, 32)
		n.UID, n.GID = uint32(uid), uint32(gid)
		if n.Type == "c" || n.Type == "b" {
			n.Dev = g[6]
		} else if n.Type == "-" {
			n.Size, _ = strconv.ParseInt(g[6], 10, 64)
		}
		nodes[n.Path] = n
	}
	x := filepath.Join(t.TempDir(), "x")
	run(t, filepath.Dir(img), "osirrox", "-abort_on", "FAILURE", "-indev", img, "-extract", "/", x)
	for _, n := range nodes {
		if n.Type == "l" || n.Type == "c" || n.Type == "b" || n.Type == "p" || n.Type == "s" {
			continue // osirrox does not keep their times (and skips devices)
		}
		if fromExtraction(t, n, filepath.Join(x, filepath.FromSlash(n.Path))) {
			n.MTimeLS = ""
		}
	}
	return nodes
}

var llnRE = regexp.MustCompile(`^(.)(.{9}) (\d+)/(\d+) +(?:(\d+), *(\d+)|(\d+)) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$`)

// squashfsOracle is what unsquashfs says of an image: its -lln listing
// (names, types, permissions, owners, sizes, link targets) and its
// extraction (exact times, device numbers, contents). unsquashfs 4.5.1
// lists large device numbers wrongly but extracts them right; the test runs
// as root to extract devices and owners.
func squashfsOracle(t testing.TB, img string) map[string]*node {
	t.Helper()
	need(t, "unsquashfs")
	out := run(t, filepath.Dir(img), "unsquashfs", "-lln", img)
	nodes := map[string]*node{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		g := llnRE.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("unsquashfs -lln: unparsed line %q", line)
		}
		n := &node{Type: g[1], Perm: g[2], Path: g[9]}
		uid, _ := strconv.ParseUint(g[3], 10, 32)
		gid, _ := strconv.ParseUint(g[4], 10, 32)
		n.UID, n.GID = uint32(uid), uint32(gid)
		if n.Type == "-" {
			n.Size, _ = strconv.ParseInt(g[7], 10, 64)
		}
		if n.Type == "l" {
			n.Path, n.Link, _ = strings.Cut(n.Path, " -> ")
		}
		if n.Path == "" {
			n.Path = "/"
		}
		mt, err := time.Parse("2006-01-02 15:04", g[8])
		if err != nil {
			t.Fatal(err)
		}
		n.MTime = mt
		nodes[n.Path] = n
	}
	x := filepath.Join(t.TempDir(), "x")
	run(t, filepath.Dir(img), "unsquashfs", "-quiet", "-no-progress", "-processors", "1", "-d", x, img)
	for _, n := range nodes {
		p := filepath.Join(x, filepath.FromSlash(n.Path))
		if !fromExtraction(t, n, p) {
			t.Fatalf("%s: not extracted by unsquashfs", n.Path)
		}
	}
	return nodes
}
