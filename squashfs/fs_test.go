package squashfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/tree"
)

// fsVariants are the images TestFS checks: every compressor the brief of
// the io/fs view names, one with a 3,000-entry directory (many headers
// and a directory index) and one with 4 KiB blocks (many blocks a file).
var fsVariants = []variant{
	{name: "gzip", bs: 128 << 10, big: true},
	{name: "xz-4K", bs: 4 << 10, args: []string{"-comp", "xz", "-b", "4K"}},
	{name: "lz4", bs: 128 << 10, args: []string{"-comp", "lz4", "-Xhc"}},
	{name: "zstd", bs: 128 << 10, args: []string{"-comp", "zstd"}},
}

// addDotfiles adds hidden files and directories to a source tree.
func addDotfiles(t *testing.T, src string) {
	testimg.WriteFiles(t, src, map[string]string{
		".hidden":         "dot\n",
		".config/app.ini": "[a]\nb=c\n",
		"names/.profile":  "export X=1\n",
	})
	if err := os.Symlink(".hidden", filepath.Join(src, ".link-to-hidden")); err != nil {
		t.Fatal(err)
	}
}

// TestFS checks the io/fs view against unsquashfs on real images: fs.WalkDir
// yields exactly the nodes `unsquashfs -lln` lists, in the Walker's order,
// with the same types, permissions (setuid, setgid, sticky), owners, sizes,
// mtimes, link targets and device numbers; every node's exact mtime, full
// mode, link count and device number equal those of the node unsquashfs
// extracts; fs.ReadFile of every regular file gives the extracted bytes;
// Stat and Lstat of every path (a lookup through the directory index)
// find the node WalkDir found; fstest.TestFS passes.
func TestFS(t *testing.T) {
	testimg.Need(t, "mksquashfs", "unsquashfs", "setfattr")
	for _, v := range fsVariants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			buildTree(t, src, v.bs, v.big)
			addDotfiles(t, src)
			img := filepath.Join(dir, "img")
			testimg.MakeSquashfs(t, src, img, append(append([]string{}, v.args...), pseudo...)...)
			x := filepath.Join(dir, "x")
			testimg.ExtractSquashfs(t, img, x)
			r := openImage(t, img)
			checkFS(t, r, testimg.ListSquashfs(t, img), x)
		})
	}
}

func checkFS(t *testing.T, r *Reader, list []testimg.SquashfsListing, x string) {
	fsys := r.FS()
	want := make(map[string]testimg.SquashfsListing, len(list))
	for _, l := range list {
		want[l.Path] = l
	}
	walked := walkAll(t, r)
	i := 0
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		abs := "/" + p
		if p == "." {
			abs = "/"
		}
		seen[abs] = true
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := info.Sys().(*Entry)
		if i >= len(walked) || walked[i].Path != abs || e.Path != abs {
			t.Fatalf("WalkDir at %q (entry %q), Walker at node %d", p, e.Path, i)
		}
		w := walked[i]
		i++
		if d.Name() != info.Name() || d.Type() != info.Mode().Type() || d.IsDir() != info.IsDir() {
			t.Errorf("%s: DirEntry %q %v disagrees with its FileInfo %q %v", p, d.Name(), d.Type(), info.Name(), info.Mode())
		}
		if p != "." && info.Name() != path.Base(p) {
			t.Errorf("%s: Name %q", p, info.Name())
		}
		if info.Mode() != w.Mode || e.Inode != w.Inode || e.Nlink != w.Nlink || xattrText(e) != xattrText(w) {
			t.Errorf("%s: mode %v inode %d nlink %d xattrs %q, Walker %v %d %d %q", p, info.Mode(), e.Inode, e.Nlink, xattrText(e), w.Mode, w.Inode, w.Nlink, xattrText(w))
		}

		// unsquashfs -lln, field by field.
		l, ok := want[abs]
		if !ok {
			t.Errorf("%s: not listed by unsquashfs", abs)
			return nil
		}
		got := testimg.SquashfsListing{Path: abs, Type: tree.TypeLetter(info.Mode()), Perm: tree.PermString(info.Mode()),
			UID: e.UID, GID: e.GID, MTime: info.ModTime().UTC().Format("2006-01-02 15:04")}
		if info.Mode()&fs.ModeSymlink != 0 {
			if got.Link, err = fs.ReadLink(fsys, p); err != nil {
				t.Errorf("%s: ReadLink: %v", p, err)
			}
		}
		if info.Mode()&fs.ModeDevice != 0 {
			got.Major, got.Minor = testimg.UnsquashfsDev(e.DevMajor, e.DevMinor)
		} else {
			got.Size = info.Size()
		}
		if got != l {
			t.Errorf("%s:\n got %+v\nwant %+v", abs, got, l)
		}

		// The extracted node: exact mtime, mode, link count, device.
		xp := filepath.Join(x, filepath.FromSlash(p))
		fi, err := os.Lstat(xp)
		if err != nil {
			t.Error(err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.ModTime().Equal(info.ModTime()) || fi.Mode() != info.Mode() || uint32(st.Nlink) != e.Nlink || st.Uid != e.UID || st.Gid != e.GID {
			t.Errorf("%s: %v %v nlink %d %d/%d, extraction %v %v %d %d/%d", p, info.Mode(), info.ModTime(), e.Nlink, e.UID, e.GID,
				fi.Mode(), fi.ModTime(), st.Nlink, st.Uid, st.Gid)
		}
		if info.Mode()&fs.ModeDevice != 0 {
			major, minor := (st.Rdev>>8)&0xfff|(st.Rdev>>32)&^0xfff, st.Rdev&0xff|(st.Rdev>>12)&^0xff
			if uint32(major) != e.DevMajor || uint32(minor) != e.DevMinor {
				t.Errorf("%s: device %d,%d, extraction has %d,%d", p, e.DevMajor, e.DevMinor, major, minor)
			}
		}
		if info.Mode().IsRegular() {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				t.Errorf("%s: ReadFile: %v", p, err)
			} else if wantB, err := os.ReadFile(xp); err != nil || !bytes.Equal(b, wantB) {
				t.Errorf("%s: fs.ReadFile gives %d bytes, extraction %d (%v)", p, len(b), len(wantB), err)
			}
		}

		// A lookup of the path finds the same node.
		for _, stat := range []func(fs.FS, string) (fs.FileInfo, error){fs.Stat, fs.Lstat} {
			si, err := stat(fsys, p)
			if err != nil {
				t.Errorf("%s: stat: %v", p, err)
				continue
			}
			if se := si.Sys().(*Entry); se.Inode != e.Inode || se.Path != e.Path || si.Mode() != info.Mode() || si.Name() != info.Name() {
				t.Errorf("%s: stat finds %s inode %d %v, WalkDir %d %v", p, se.Path, se.Inode, si.Mode(), e.Inode, info.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != len(walked) || len(seen) != len(want) {
		t.Errorf("WalkDir saw %d nodes, Walker %d, unsquashfs lists %d", i, len(walked), len(want))
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("%s: listed by unsquashfs, not walked", p)
		}
	}
	// What the source tree was built to hold, so that FS and the oracle
	// cannot agree on a dropped feature.
	for name, m := range map[string]fs.FileMode{
		"modes/suid": fs.ModeSetuid | 0o755, "modes/sgid-noexec": fs.ModeSetgid | 0o640,
		"modes/dir-sgid": fs.ModeDir | fs.ModeSetgid | 0o775, "modes/sticky": fs.ModeDir | fs.ModeSticky | 0o777,
		"cdev": fs.ModeDevice | fs.ModeCharDevice | 0o644, "bdev": fs.ModeDevice | 0o600,
		"fifo": fs.ModeNamedPipe | 0o600, "pfifo": fs.ModeNamedPipe | 0o640, "sock": fs.ModeSocket | 0o755,
		"symlinks/long": fs.ModeSymlink | 0o777, ".hidden": 0o644, ".config": fs.ModeDir | 0o755,
	} {
		if info, err := fs.Stat(fsys, name); err != nil || info.Mode() != m {
			t.Errorf("Stat %s: %v %v, want %v", name, info, err, m)
		}
	}
	if info, _ := fs.Stat(fsys, "cdev"); info.Sys().(*Entry).DevMajor != 300 || info.Sys().(*Entry).DevMinor != 70000 {
		t.Errorf("cdev: device %d,%d", info.Sys().(*Entry).DevMajor, info.Sys().(*Entry).DevMinor)
	}
	if l, err := fs.ReadLink(fsys, "symlinks/long"); err != nil || len(l) != 4000 {
		t.Errorf("ReadLink symlinks/long: %d bytes, %v", len(l), err)
	}
	if a, _ := fs.Stat(fsys, "links/orig"); a.Sys().(*Entry).Nlink != 3 {
		t.Errorf("links/orig: nlink %d", a.Sys().(*Entry).Nlink)
	}
	if err := fstest.TestFS(fsys, ".hidden", ".config/app.ini", "small", "empty", "sparse/middle", "blocks/two+tail",
		"links/sub/hard2", "modes/suid", "symlinks/long", "cdev", "fifo", "names/é-utf8"); err != nil {
		t.Error(err)
	}
}

func xattrText(e *Entry) string {
	var b strings.Builder
	for _, x := range e.Xattrs {
		b.WriteString(xattrLine(x))
	}
	return b.String()
}

// TestFSErrors checks the errors of every FS method: *fs.PathError with
// the path as given, fs.ErrNotExist for what is not there (a missing name,
// a path through a file or a symlink, a name sorting before, between or
// after a large directory's names), fs.ErrInvalid for invalid paths and
// ReadLink of a non-link.
func TestFSErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string]string{"a/file": "x", "a/sub/deep": "y"}
	for i := range 2000 {
		files[fmt.Sprintf("big/n%05d-%s", 2*i, strings.Repeat("p", 60))] = ""
	}
	testimg.WriteFiles(t, src, files)
	if err := os.Symlink("sub", filepath.Join(src, "a/link")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, src, img)
	r := openImage(t, img)
	fsys := r.FS()
	if big, err := fs.Stat(fsys, "big"); err != nil || big.Sys().(*Entry).idxCount < 10 {
		t.Fatalf("big has no directory index: %v %v", big, err)
	}

	pathErr := func(op, name string, err error, want error) {
		t.Helper()
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != name || !errors.Is(err, want) {
			t.Errorf("%s %q: %v, want a *fs.PathError for %q wrapping %v", op, name, err, name, want)
		}
	}
	missing := []string{"nope", "a/nope", "a/file/x", "a/link/deep", "a/sub/deep/x", "big/a", "big/zzz",
		"big/n00001-" + strings.Repeat("p", 60), "big/n01999", "big/n03999-" + strings.Repeat("p", 61), "A", "a/filf", "a/fild"}
	for _, name := range missing {
		_, err := fs.Stat(fsys, name)
		pathErr("stat", name, err, fs.ErrNotExist)
		_, err = fs.Lstat(fsys, name)
		pathErr("lstat", name, err, fs.ErrNotExist)
		_, err = fs.ReadLink(fsys, name)
		pathErr("readlink", name, err, fs.ErrNotExist)
		_, err = fs.ReadDir(fsys, name)
		pathErr("readdir", name, err, fs.ErrNotExist)
		_, err = fs.ReadFile(fsys, name)
		pathErr("open", name, err, fs.ErrNotExist)
	}
	for _, name := range []string{"/a", "a/", "./a", "a/../a", "a//file", "", "a/./file", "\xff"} {
		_, err := fsys.Open(name)
		pathErr("open", name, err, fs.ErrInvalid)
		_, err = fs.Stat(fsys, name)
		pathErr("stat", name, err, fs.ErrInvalid)
	}
	for _, name := range []string{"a", "a/file", "."} {
		_, err := fs.ReadLink(fsys, name)
		pathErr("readlink", name, err, fs.ErrInvalid)
	}
	if l, err := fs.ReadLink(fsys, "a/link"); err != nil || l != "sub" {
		t.Errorf("ReadLink a/link: %q %v", l, err)
	}
	// Every name of the large directory is found, by the index.
	for i := range 2000 {
		name := fmt.Sprintf("big/n%05d-%s", 2*i, strings.Repeat("p", 60))
		if _, err := fs.Stat(fsys, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fs.ReadDir(fsys, "a/file"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}

	// Open of each kind of node.
	f, err := fsys.Open("a/link")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Error("Read of a symlink succeeded")
	}
	if info, err := f.Stat(); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Stat of an open symlink: %v %v", info, err)
	}
	d, err := fsys.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(make([]byte, 1)); err == nil {
		t.Error("Read of a directory succeeded")
	}
	rd := d.(fs.ReadDirFile)
	var names []string
	for {
		ents, err := rd.ReadDir(1)
		if err == io.EOF {
			break
		}
		if err != nil || len(ents) != 1 {
			t.Fatalf("ReadDir(1): %v %v", ents, err)
		}
		names = append(names, ents[0].Name())
	}
	if strings.Join(names, " ") != "file link sub" {
		t.Errorf("ReadDir(1) one by one: %v", names)
	}
	if ents, err := rd.ReadDir(-1); len(ents) != 0 || err != nil {
		t.Errorf("ReadDir(-1) after the end: %v %v", ents, err)
	}
}

// TestFSFileAt checks that a regular file opened through FS is an
// io.ReaderAt and io.Seeker over the right bytes.
func TestFSFileAt(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := fill(11, 3*4096+123)
	testimg.WriteFiles(t, src, map[string]string{"f": string(data)})
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, src, img, "-b", "4K")
	f, err := openImage(t, img).FS().Open("f")
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := f.(io.ReaderAt)
	sk, ok2 := f.(io.Seeker)
	if !ok || !ok2 {
		t.Fatalf("%T is not an io.ReaderAt and io.Seeker", f)
	}
	buf := make([]byte, 200)
	if n, err := ra.ReadAt(buf, 4096-100); n != 200 || err != nil || !bytes.Equal(buf, data[4096-100:4096+100]) {
		t.Errorf("ReadAt across a block boundary: %d %v", n, err)
	}
	if n, err := ra.ReadAt(buf, int64(len(data))-50); n != 50 || err != io.EOF || !bytes.Equal(buf[:n], data[len(data)-50:]) {
		t.Errorf("ReadAt at the end: %d %v", n, err)
	}
	if pos, err := sk.Seek(-123, io.SeekEnd); err != nil || pos != 3*4096 {
		t.Fatalf("Seek: %d %v", pos, err)
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(rest, data[3*4096:]) {
		t.Errorf("Read after Seek: %d bytes, %v", len(rest), err)
	}
}

// countingReaderAt counts the reads made of an image.
type countingReaderAt struct {
	ra    io.ReaderAt
	mu    sync.Mutex
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.ra.ReadAt(p, off)
}

// TestFSLookupReadsLittle: a lookup in a directory whose listing spans many
// metadata blocks decodes a few of them (the inode, the index, one or two
// listing blocks), where listing the directory decodes them all.
func TestFSLookupReadsLittle(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string]string{}
	for i := range 5000 {
		files[fmt.Sprintf("d/entry-%05d-%s", i, strings.Repeat("q", 80))] = ""
	}
	testimg.WriteFiles(t, src, files)
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, src, img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*Reader, *countingReaderAt) {
		c := &countingReaderAt{ra: bytes.NewReader(b)}
		r, err := Open(c, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		c.reads = 0
		return r, c
	}
	r, c := open()
	if _, err := fs.ReadDir(r.FS(), "d"); err != nil {
		t.Fatal(err)
	}
	all := c.reads
	for _, i := range []int{0, 1234, 2500, 4999} {
		r, c = open()
		name := fmt.Sprintf("d/entry-%05d-%s", i, strings.Repeat("q", 80))
		if _, err := fs.Stat(r.FS(), name); err != nil {
			t.Fatal(err)
		}
		t.Logf("Stat %s: %d reads, listing %d", name[:13], c.reads, all)
		if c.reads > 8 {
			t.Errorf("Stat %s made %d reads (listing the directory made %d)", name[:13], c.reads, all)
		}
	}
	// The listing alone spans over 50 blocks (5,000 names of 91 bytes).
	if all < 60 {
		t.Errorf("listing the directory made only %d reads", all)
	}
}

// TestFSConcurrent reads every file through one FS from several goroutines
// at once (run under -race): the results equal a sequential read.
func TestFSConcurrent(t *testing.T) {
	img := smallImage(t, "-comp", "zstd")
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	fsys := r.FS()
	want := map[string][]byte{}
	var names []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		want[p], names = b, append(names, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range names {
				p := names[(i*7+g*13)%len(names)]
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(b, want[p]) {
					t.Errorf("%s: concurrent ReadFile differs", p)
				}
				if _, err := fs.ReadDir(fsys, path.Dir(p)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// TestFSOptions: the Reader's budget and context apply to the FS.
func TestFSOptions(t *testing.T) {
	img := filepath.Join(t.TempDir(), "bomb.sqfs")
	testimg.XattrBombSquashfs(t, img, 4096, 1<<16, 'A')
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var pe *fs.PathError
	if _, err := fs.Stat(r.FS(), "f"); !errors.Is(err, context.Canceled) || !errors.As(err, &pe) {
		t.Errorf("Stat after cancel: %v", err)
	}
	bud := budget.New(metaCacheBlocks*metaSize + (fragCacheBlocks+4)*(128<<10) + xattrMemoBytes + 100<<10)
	r, err = OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Stat(r.FS(), "f") // 4,096 xattrs do not fit
	if !errors.Is(err, budget.ErrExceeded) || !errors.As(err, &pe) || pe.Path != "f" {
		t.Errorf("Stat under a tight budget: %v", err)
	}
}

// TestFSDirectoryCycle: a listing entry that points back at its own
// directory ends fs.WalkDir with an error, as it ends a Walk, and so do a
// lookup through the cycle and one through a directory whose listing is
// shared with its parent.
func TestFSDirectoryCycle(t *testing.T) {
	img, m := patchImage(t, nil, "a/b")
	at := listingAt(t, img, m["/a"])
	binary.LittleEndian.PutUint32(img[at+4:], uint32(m["/a"].ref>>16))
	binary.LittleEndian.PutUint16(img[at+12:], uint16(m["/a"].ref))
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if n++; n > 100 {
			t.Fatalf("WalkDir still going at %s", p)
		}
		return err
	})
	var fe *FormatError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "reached twice") {
		t.Errorf("WalkDir over a cycle: %v", err)
	}
	if _, err := fs.Stat(r.FS(), "a/b/b/b"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Stat through a cycle: %v", err)
	}
}

// TestFSBudgetGivenBack: what the FS charges (listings of open
// directories, entries) is given back when a directory is closed, read to
// its end, or dropped unclosed.
func TestFSBudgetGivenBack(t *testing.T) {
	img := smallImage(t)
	bud := budget.New(1 << 30)
	r, err := OpenOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	base := bud.Used()
	fsys := r.FS()
	if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error { return err }); err != nil {
		t.Fatal(err)
	}
	for _, close := range []bool{true, false} {
		f, err := fsys.Open("names")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.(fs.ReadDirFile).ReadDir(1); err != nil {
			t.Fatal(err)
		}
		if bud.Used() <= base {
			t.Error("an open directory's listing is not charged")
		}
		if close {
			f.Close()
		}
	}
	for range 50 {
		runtime.GC()
		if bud.Used() == base {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if bud.Used() != base {
		t.Errorf("budget holds %d bytes after the FS's work, %d before", bud.Used(), base)
	}
	runtime.KeepAlive(r) // its caches stay charged while it lives
}

// exerciseFS walks the io/fs view of an image and reads every regular
// file, up to limit bytes in all, returning the first error.
func exerciseFS(ra io.ReaderAt, size, limit int64) error {
	r, err := Open(ra, size)
	if err != nil {
		return err
	}
	fsys := r.FS()
	n := 0
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > 1<<16 || limit <= 0 {
			return fs.SkipAll
		}
		if !utf8.ValidString(p) { // listed, but not a valid io/fs path
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if _, err := fs.Stat(fsys, p); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			_, err := fs.ReadLink(fsys, p)
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		k, err := io.Copy(io.Discard, io.LimitReader(f, limit))
		limit -= k
		return err
	})
}
