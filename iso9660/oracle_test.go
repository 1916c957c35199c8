package iso9660

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/tree"
)

// oldTime is a fixed modification time far enough back that ls formats show
// the year; recent files keep the time of the test run.
var oldTime = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

var (
	srcOnce sync.Once
	srcDir  string
	srcErr  error
)

// sourceTree builds, once per test binary, a tree exercising what the reader
// must handle: dot names, long names, long multi-component symlinks,
// setuid/setgid/sticky, owners, a fifo and devices, hard links, a directory
// of 2000 entries, nesting deeper than 8, empty files and directories.
func sourceTree(t testing.TB) string {
	t.Helper()
	srcOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iso9660-src-")
		if err != nil {
			srcErr = err
			return
		}
		srcDir = filepath.Join(dir, "src")
		srcErr = buildTree(srcDir)
	})
	if srcErr != nil {
		t.Fatal(srcErr)
	}
	return srcDir
}

func buildTree(root string) error {
	files := map[string]string{
		".hidden":          "dot file\n",
		".dotdir/.inner":   "inner\n",
		"end.":             "ends with a dot\n",
		"two..":            "two dots\n",
		"...":              "three dots\n",
		"a.b.c.":           "",
		"UPPER":            "upper\n",
		"lower":            "lower\n",
		"with space":       "space\n",
		"empty":            "",
		"dir/sub/file.txt": strings.Repeat("0123456789abcdef", 6000), // ~96 KiB
		"setuid":           "#!/bin/sh\n",
		"setgid":           "#!/bin/sh\n",
		"setuidnox":        "x\n",
		"owned":            "owned\n",
		"hard1":            "hard linked\n",
		strings.Repeat("L", 120) + strings.Repeat("n", 120): "long name\n",
		"deep/1/2/3/4/5/6/7/8/9/10/11/12/leaf":              "deep\n",
	}
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for i := 0; i < 2000; i++ {
		if err := os.WriteFile(filepath.Join(root, "many", fmt.Sprintf("entry-%04d", i)), nil, 0o644); err != nil {
			if err := os.MkdirAll(filepath.Join(root, "many"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, "many", fmt.Sprintf("entry-%04d", i)), nil, 0o644); err != nil {
				return err
			}
		}
	}
	var comps []string
	for i := 0; i < 20; i++ {
		comps = append(comps, fmt.Sprintf("component_%02d_abcdefghij", i))
	}
	links := map[string]string{
		"link-rel":          "dir/sub/file.txt",
		"link-abs":          "/usr/lib/isolinux/isolinux.bin",
		"link-up":           "../../x/./y",
		"link-dot":          ".",
		"link-dotdot":       "..",
		"link-long":         strings.Join(comps, "/"),
		"link-bigcomp":      strings.Repeat("a", 200) + "/" + strings.Repeat("b", 200) + "/c",
		"dir/link-dangling": "/nonexistent/target",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			return err
		}
	}
	if err := os.Link(filepath.Join(root, "hard1"), filepath.Join(root, "hard2")); err != nil {
		return err
	}
	if err := os.Link(filepath.Join(root, "hard1"), filepath.Join(root, "dir", "hard3")); err != nil {
		return err
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o640); err != nil {
		return err
	}
	devs := []struct {
		name         string
		mode         uint32
		major, minor uint32
	}{
		{"cdev", syscall.S_IFCHR | 0o620, 4, 5},
		{"bdev", syscall.S_IFBLK | 0o660, 8, 1},
		{"bigdev", syscall.S_IFCHR | 0o600, 259, 300},
	}
	for _, d := range devs {
		dev := int((d.major&0xfff)<<8 | (d.minor & 0xff) | (d.minor&^0xff)<<12)
		if err := syscall.Mknod(filepath.Join(root, d.name), d.mode, dev); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "emptydir"), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "sticky"), 0o755); err != nil {
		return err
	}
	for name, mode := range map[string]fs.FileMode{
		"setuid":    0o755 | fs.ModeSetuid,
		"setgid":    0o755 | fs.ModeSetgid,
		"setuidnox": 0o644 | fs.ModeSetuid | fs.ModeSetgid,
		"sticky":    0o777 | fs.ModeDir | fs.ModeSticky,
	} {
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			return err
		}
	}
	if err := os.Lchown(filepath.Join(root, "owned"), 1234, 5678); err != nil {
		return err
	}
	if err := os.Lchown(filepath.Join(root, "link-rel"), 42, 43); err != nil {
		return err
	}
	// Old times on some nodes, including a symlink and a directory (set
	// last, as adding entries changes a directory's time).
	for _, name := range []string{"lower", "link-long", "dir/sub", "fifo", "many/entry-0007"} {
		stamp := "@" + strconv.FormatInt(oldTime.Unix(), 10)
		if out, err := exec.Command("touch", "-h", "-d", stamp, filepath.Join(root, name)).CombinedOutput(); err != nil {
			return fmt.Errorf("touch: %v: %s", err, out)
		}
	}
	return nil
}

// lsdlLine is one line of "xorriso -find / -exec lsdl".
type lsdlLine struct {
	perm, nlink, uid, gid, size, date, path, link string
}

var lsdlRE = regexp.MustCompile(`^(\S{10})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\w{3}\s+\d+\s+[\d:]+)\s+'(.*?)'(?: -> '(.*)')?$`)

// xorrisoLsdl lists an image with xorriso, one line per node in xorriso's
// order, as a map by path.
func xorrisoLsdl(t *testing.T, img string) map[string]lsdlLine {
	t.Helper()
	out := testimg.Run(t, filepath.Dir(img), "xorriso", "-abort_on", "FAILURE", "-indev", img, "-find", "/", "-exec", "lsdl")
	m := map[string]lsdlLine{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		g := lsdlRE.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("unparsed lsdl line %q", line)
		}
		l := lsdlLine{perm: g[1], nlink: g[2], uid: g[3], gid: g[4], size: g[5], date: strings.Join(strings.Fields(g[6]), " "), path: g[7], link: g[8]}
		m[l.path] = l
	}
	return m
}

// lsTime formats t the way xorriso's ls does: "Mon D hh:mm" within the last
// 180 days, "Mon D YYYY" otherwise (spaces collapsed), in UTC.
func lsTime(t, now time.Time) string {
	t = t.UTC()
	if t.After(now) || now.Sub(t) > 180*24*time.Hour {
		return t.Format("Jan 2 2006")
	}
	return t.Format("Jan 2 15:04")
}

// walkAll walks the whole image, checking the order as it goes.
func walkAll(t *testing.T, im *Image) []*Entry {
	t.Helper()
	w := im.Walk()
	var out []*Entry
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		if n := len(out); n > 0 && tree.Compare(out[n-1].Path, e.Path) >= 0 {
			t.Fatalf("walk order: %q before %q", out[n-1].Path, e.Path)
		}
		out = append(out, e)
	}
	return out
}

func openImage(t testing.TB, path string) (*Image, *os.File) {
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
	im, err := Open(f, st.Size())
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	return im, f
}

// compareLsdl checks the walk against xorriso's listing, field by field.
func compareLsdl(t *testing.T, entries []*Entry, want map[string]lsdlLine) {
	t.Helper()
	now := time.Now()
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Path] = true
		l, ok := want[e.Path]
		if !ok {
			t.Errorf("%s: walked but not listed by xorriso", e.Path)
			continue
		}
		perm := l.perm
		if perm[0] == 'e' { // xorriso's letter for the El Torito boot catalog
			perm = "-" + perm[1:]
		}
		size := strconv.FormatInt(e.Size, 10)
		if e.Mode&fs.ModeDevice != 0 {
			size = fmt.Sprintf("%d,%d", e.DevMajor, e.DevMinor)
		}
		got := lsdlLine{
			perm: e.TypeString() + tree.PermString(e.Mode), nlink: l.nlink,
			uid: strconv.Itoa(int(e.UID)), gid: strconv.Itoa(int(e.GID)),
			size: size, date: lsTime(e.ModTime, now), path: e.Path, link: e.Link,
		}
		l.perm = perm
		if got != l {
			t.Errorf("%s:\n got %+v\nwant %+v", e.Path, got, l)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("%s: listed by xorriso but not walked", p)
		}
	}
}

// compareContent checks every regular file read through Open against the
// source file at the same path, when there is one.
func compareContent(t *testing.T, im *Image, entries []*Entry, src string, skip ...string) int {
	t.Helper()
	n := 0
	for _, e := range entries {
		if !e.Mode.IsRegular() || contains(skip, e.Path) {
			continue
		}
		want, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(e.Path)))
		if err != nil {
			continue
		}
		h := sha256.New()
		got, err := io.Copy(h, im.Open(e))
		if err != nil {
			t.Fatalf("%s: read: %v", e.Path, err)
		}
		if got != e.Size || [32]byte(h.Sum(nil)) != sha256.Sum256(want) {
			t.Errorf("%s: content differs from the source (%d bytes read, %d in source)", e.Path, got, len(want))
		}
		n++
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var isoinfoRE = regexp.MustCompile(`^[-dlcbpsf][-rwxsStT]{9}\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\w{3}\s+\d+\s+\d+\s+\[\s*\d+\s+\d+\]\s\s(.*)$`)

// isoinfoNlink returns the Rock Ridge link counts "isoinfo -R -l" prints
// (xorriso's lsdl prints 1 for every node, so it is no oracle for them).
func isoinfoNlink(t *testing.T, img string) map[string]string {
	t.Helper()
	testimg.Need(t, "isoinfo")
	out := testimg.Run(t, filepath.Dir(img), "isoinfo", "-R", "-l", "-i", img)
	m := map[string]string{}
	dir := ""
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(line, "Directory listing of "); ok {
			dir = strings.TrimSuffix(d, "/")
			continue
		}
		g := isoinfoRE.FindStringSubmatch(line)
		if g == nil {
			continue
		}
		name := strings.TrimSuffix(g[2], " ")
		if line[0] == 'l' {
			name, _, _ = strings.Cut(name, " -> ")
		}
		if name == "." || name == ".." {
			continue
		}
		m[dir+"/"+name] = g[1]
	}
	return m
}
