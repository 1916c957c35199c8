package iso9660

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/tree"
)

// fsWalk walks fsys with fs.WalkDir and returns, in walk order, each node
// as io/fs shows it (path, FileInfo's mode, size and time, ReadLink's
// target; owners and device numbers from Sys), and the *Entry Sys gives.
func fsWalk(t *testing.T, fsys fs.FS) (shown, sys []*Entry) {
	t.Helper()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode() != d.Type()|info.Mode().Perm()|info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) {
			t.Errorf("%s: DirEntry type %v, FileInfo mode %v", p, d.Type(), info.Mode())
		}
		e, ok := info.Sys().(*Entry)
		if !ok {
			t.Fatalf("%s: Sys() is %T", p, info.Sys())
		}
		n := &Entry{Node: tree.Node{Path: "/" + p, Mode: info.Mode(), Size: info.Size(), ModTime: info.ModTime(),
			UID: e.UID, GID: e.GID, DevMajor: e.DevMajor, DevMinor: e.DevMinor}}
		if p == "." {
			n.Path = "/"
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if n.Link, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
		}
		shown, sys = append(shown, n), append(sys, e)
		return nil
	})
	if err != nil {
		t.Fatalf("WalkDir: %v", err)
	}
	return shown, sys
}

// checkFSAgainstWalk: the FS shows the walk's nodes in the walk's order,
// Sys being an equal *Entry, and fs.ReadFile reads what Open reads (and
// what the source holds, when src is not "").
func checkFSAgainstWalk(t *testing.T, im *Image, src string) (shown, sys []*Entry) {
	t.Helper()
	fsys := im.FS()
	shown, sys = fsWalk(t, fsys)
	walked := walkAll(t, im)
	if len(walked) != len(sys) {
		t.Errorf("FS shows %d nodes, the walk yields %d", len(sys), len(walked))
	}
	for i := range min(len(walked), len(sys)) {
		if !reflect.DeepEqual(walked[i], sys[i]) {
			t.Errorf("node %d: FS\n %+v\nwalk\n %+v", i, sys[i], walked[i])
		}
	}
	files := 0
	for _, e := range walked {
		if !e.Mode.IsRegular() {
			continue
		}
		got, err := fs.ReadFile(fsys, e.Path[1:])
		if err != nil {
			t.Errorf("ReadFile %s: %v", e.Path, err)
			continue
		}
		want, err := io.ReadAll(im.Open(e))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || int64(len(got)) != e.Size {
			t.Errorf("%s: fs.ReadFile gives %d bytes, Open %d, size %d", e.Path, len(got), len(want), e.Size)
		}
		if src != "" {
			if b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(e.Path))); err == nil && !bytes.Equal(got, b) {
				t.Errorf("%s: fs.ReadFile differs from the source", e.Path)
			}
		}
		files++
	}
	if files == 0 {
		t.Error("no regular file read")
	}
	return shown, sys
}

// TestFSMatchesXorriso: on images of the oracle source tree (dot names, a
// 499-byte symlink target in several SL entries, setuid, setgid, sticky,
// devices, a fifo, hard links, nesting of 14 levels, 2000 entries in a
// directory), fs.WalkDir over FS shows what xorriso's lsdl lists, node for
// node (type and permissions with s/S/t letters, owners, sizes, device
// numbers, times, link targets), the Walker's nodes in the Walker's order,
// and fs.ReadFile reads every regular file as the source holds it; the
// genisoimage image relocates deep directories (CL/RE), which FS follows
// as the walk does. testing/fstest checks the io/fs contract.
func TestFSMatchesXorriso(t *testing.T) {
	testimg.Need(t, "xorriso", "genisoimage")
	src := sourceTree(t)
	for _, c := range []struct {
		name string
		args []string
		geniso,
		rr bool
	}{
		{"rockridge", []string{"-R", "-J"}, false, true},
		{"joliet", []string{"--norock", "-J", "-joliet-long"}, false, false},
		{"genisoimage", nil, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, c.name+".iso")
			if c.geniso {
				testimg.Run(t, dir, "genisoimage", "-quiet", "-R", "-o", img, src)
			} else {
				testimg.MakeISO(t, src, img, c.args...)
			}
			im, _ := openImage(t, img)
			shown, sys := checkFSAgainstWalk(t, im, map[bool]string{true: src}[c.rr])
			if !c.rr {
				compareLsdl(t, shown, xorrisoLsdl(t, img))
				return
			}
			if !c.geniso { // xorriso misreads genisoimage's device numbers: TestWalkOtherWriters
				compareLsdl(t, shown, xorrisoLsdl(t, img))
			}
			checkHardLinks(t, sys)
			fsys := im.FS()
			if err := fstest.TestFS(fsys, ".hidden", ".dotdir/.inner", "end.", "setuid", "sticky", "cdev", "fifo",
				"link-long", "dir/link-dangling", "deep/1/2/3/4/5/6/7/8/9/10/11/12/leaf", "many/entry-1999", "hard2"); err != nil {
				t.Fatal(err)
			}
			relocated := 0
			for _, e := range sys {
				if e.Relocated {
					relocated++
				}
			}
			if c.geniso != (relocated > 0) {
				t.Errorf("%d relocated directories", relocated)
			}
			for _, name := range []string{"setuid", "setgid", "setuidnox", "sticky", "cdev", "bdev", "fifo", "link-rel", "dir/sub"} {
				st, err := os.Lstat(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|fs.ModeDevice|fs.ModeNamedPipe) == 0 && name != "link-rel" && name != "dir/sub" {
					t.Fatalf("%s: source mode %v", name, st.Mode())
				}
				info, err := fs.Stat(fsys, name)
				if err != nil || info.Mode() != st.Mode() || info.Name() != filepath.Base(name) {
					t.Errorf("Stat %s: %v %v, want mode %v", name, info, err, st.Mode())
				}
			}
			if e, _ := fs.Stat(fsys, "bigdev"); e.Sys().(*Entry).DevMajor != 259 || e.Sys().(*Entry).DevMinor != 300 {
				t.Errorf("bigdev: %+v", e.Sys())
			}
			for _, name := range []string{"link-rel", "link-abs", "link-up", "link-dot", "link-dotdot", "link-long", "link-bigcomp", "dir/link-dangling"} {
				want, err := os.Readlink(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				got, err := fs.ReadLink(fsys, name)
				if c.geniso && (name == "link-long" || name == "link-bigcomp") {
					continue // damaged by genisoimage: TestWalkOtherWriters
				}
				if err != nil || got != want {
					t.Errorf("ReadLink %s: %q %v, want %q", name, got, err, want)
				}
				if name == "link-long" && len(got) <= 255 {
					t.Errorf("link-long is %d bytes: not split over SL entries", len(got))
				}
			}
			// Stat describes the link, Lstat too; nothing goes through one.
			for _, f := range []func(fs.FS, string) (fs.FileInfo, error){fs.Stat, fs.Lstat} {
				if info, err := f(fsys, "link-rel"); err != nil || info.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("link-rel: %v %v", info, err)
				}
			}
			if _, err := fs.Stat(fsys, "link-dot/setuid"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a path through a symlink: %v", err)
			}
			if !c.geniso {
				checkLookupReads(t, img, sys, "deep/1/2/3/4/5/6/7/8/9/10/11/12/leaf")
			}
		})
	}
}

// checkLookupReads: a lookup of p in a fresh Image reads the directories
// on the path (and the root's "." record, and continuation areas), not the
// others; a second lookup of it reads nothing (the listings are kept).
func checkLookupReads(t *testing.T, img string, sys []*Entry, p string) {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(b)}
	im, err := Open(cr, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	onPath, all := int64(0), int64(0)
	for _, e := range sys {
		if !e.Mode.IsDir() {
			continue
		}
		all += e.Extents[0].Size
		if e.Path == "/" || strings.HasPrefix(p+"/", e.Path[1:]+"/") {
			onPath += e.Extents[0].Size
		}
	}
	cr.take()
	if _, err := fs.Stat(im.FS(), p); err != nil {
		t.Fatal(err)
	}
	if n := cr.take(); n < onPath || n > onPath+4*SectorSize || all < 4*onPath {
		t.Errorf("Stat %s read %d bytes; the directories on the path hold %d, all directories %d", p, n, onPath, all)
	}
	if _, err := fs.Stat(im.FS(), p); err != nil {
		t.Fatal(err)
	}
	if n := cr.take(); n != 0 {
		t.Errorf("Stat %s again read %d bytes", p, n)
	}
}

// TestFSZisofs: files through xorriso's zisofs filter (zisofs and
// zisofs2) read through FS as their own bytes, with their uncompressed
// sizes and the filter named on the entry.
func TestFSZisofs(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := zisofsSource(t, src)
	for _, settings := range []string{"level=9:block_size=32k", "level=6:version_2=on:block_size_v2=128k"} {
		img := zisofsISO(t, src, filepath.Join(t.TempDir(), "z.iso"), settings)
		im, _ := openImage(t, img)
		checkFSAgainstWalk(t, im, src)
		fsys := im.FS()
		compressed := 0
		for name, want := range files {
			info, err := fs.Stat(fsys, name)
			if err != nil || info.Size() != int64(len(want)) {
				t.Fatalf("%s: %v %v, want size %d", name, info, err, len(want))
			}
			if info.Sys().(*Entry).Zisofs {
				compressed++
			}
			got, err := fs.ReadFile(fsys, name)
			if err != nil || string(got) != want {
				t.Errorf("%s: %d bytes, %v", name, len(got), err)
			}
		}
		if compressed != 6 {
			t.Errorf("%s: %d zisofs files, want 6", settings, compressed)
		}
	}
}

// entryAt walks im to the node at path p.
func entryAt(t *testing.T, im *Image, p string) *Entry {
	t.Helper()
	for e, err := range im.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == p {
			return e
		}
	}
	t.Fatalf("no %s", p)
	return nil
}

// checkReadAt reads f at random offsets and lengths (and at each offset
// in cuts, across it) and compares with want.
func checkReadAt(t *testing.T, f io.ReaderAt, want []byte, rounds, maxLen int, cuts ...int) {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(len(want))))
	type span struct{ off, n int }
	var spans []span
	for _, c := range cuts {
		spans = append(spans, span{c - 1, 2}, span{c - 100, 300}, span{c, 1}, span{c - 1, 1})
	}
	for range rounds {
		spans = append(spans, span{rng.Intn(len(want)), rng.Intn(maxLen) + 1})
	}
	spans = append(spans, span{0, len(want)}, span{len(want) - 1, 10}, span{len(want), 5}, span{len(want) + 10, 1})
	for _, s := range spans {
		p := make([]byte, s.n)
		n, err := f.ReadAt(p, int64(s.off))
		end := min(s.off+s.n, len(want))
		wantN := max(0, end-s.off)
		if n != wantN || !bytes.Equal(p[:n], want[min(s.off, len(want)):end]) {
			t.Fatalf("ReadAt(%d bytes at %d): %d bytes, %v; want %d bytes equal to the content", s.n, s.off, n, err, wantN)
		}
		if (wantN < s.n) != (err == io.EOF) || err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes at %d): %d bytes, error %v", s.n, s.off, n, err)
		}
	}
}

// TestOpenFileMultiExtent: ReadAt on the file of TestMultiExtent, whose
// three extents are neither contiguous nor in order in the image, reads
// what xorriso extracts, at random offsets and lengths and across each
// extent boundary; so do fs.ReadFile and a Seek and Read through the
// fs.File; Section reads each extent as recorded.
func TestOpenFileMultiExtent(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 10000)
	rand.New(rand.NewSource(3)).Read(data)
	img, want := multiExtentImage(t, dir, data)
	extracted := filepath.Join(dir, "extracted")
	testimg.Run(t, dir, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/multi", extracted)
	if x, err := os.ReadFile(extracted); err != nil || !bytes.Equal(x, want) {
		t.Fatalf("xorriso extracts %d bytes, %v, not the permuted content", len(x), err)
	}
	im, _ := openImage(t, img)
	e := entryAt(t, im, "/multi")
	if len(e.Extents) != 3 || e.Extents[0].Offset != e.Extents[1].Offset+2*SectorSize || e.Extents[2].Offset != e.Extents[1].Offset+4*SectorSize {
		t.Fatalf("extents %v: not the crafted layout", e.Extents)
	}
	f, err := im.OpenFile(e)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size() != 10000 {
		t.Fatalf("size %d", f.Size())
	}
	checkReadAt(t, f, want, 500, 5000, 4096, 8192)
	at := 0
	for _, x := range e.Extents {
		raw, err := io.ReadAll(im.Section(x))
		if err != nil || !bytes.Equal(raw, want[at:at+int(x.Size)]) {
			t.Errorf("Section %v: %d bytes, %v", x, len(raw), err)
		}
		at += int(x.Size)
	}

	fsys := im.FS()
	if got, err := fs.ReadFile(fsys, "multi"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("fs.ReadFile: %d bytes, %v", len(got), err)
	}
	file, err := fsys.Open("multi")
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := file.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		t.Fatalf("%T is not an io.ReaderAt and io.Seeker", file)
	}
	if _, err := rs.Seek(4000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 200)
	if _, err := io.ReadFull(file, p); err != nil || !bytes.Equal(p, want[4000:4200]) {
		t.Errorf("Seek and Read across the first boundary: %v", err)
	}
	checkReadAt(t, rs, want, 50, 3000, 4096, 8192)
}

// TestOpenFileErrors: a read of bytes past the end of a truncated image,
// or one the image's reader fails, is a *FormatError at the offset of the
// first byte not read, after the bytes before it; so in the middle of a
// multi-extent file's third extent, at the start of an extent wholly past
// the end, and on a medium error in the second extent.
func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 10000)
	rand.New(rand.NewSource(4)).Read(data)
	img, want := multiExtentImage(t, dir, data)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := openImage(t, img)
	x := entryAt(t, im, "/multi").Extents
	for _, c := range []struct {
		name   string
		size   int64 // of the image
		r      io.ReaderAt
		off    int // of the read in the file
		failAt int // of the failing byte in the file
		cause  error
	}{
		{"cut in the third extent", x[2].Offset + 100, nil, 8000, 8192 + 100, ErrTruncated},
		{"third extent past the end", x[2].Offset, nil, 8100, 8192, ErrTruncated},
		{"reader shorter than the size given", int64(len(b)), bytes.NewReader(b[:x[2].Offset+50]), 7000, 8192 + 50, ErrTruncated},
		{"medium error in the second extent", int64(len(b)), failingReader{bytes.NewReader(b), x[1].Offset + 77, x[1].Offset + 78}, 3000, 4096 + 77, errMedium},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			if r == nil {
				r = bytes.NewReader(b[:c.size])
			}
			im, err := Open(r, c.size)
			if err != nil {
				t.Fatal(err)
			}
			var e *Entry
			for n, err := range im.All() {
				if err != nil {
					t.Fatal(err)
				}
				if n.Path == "/multi" {
					e = n
				}
			}
			f, err := im.OpenFile(e)
			if err != nil {
				t.Fatal(err)
			}
			wantOff := x[0].Offset
			for i, at := 0, 0; i < len(x); i++ {
				if c.failAt < at+int(x[i].Size) {
					wantOff = x[i].Offset + int64(c.failAt-at)
					break
				}
				at += int(x[i].Size)
			}
			p := make([]byte, 2000)
			n, err := f.ReadAt(p, int64(c.off))
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Off != wantOff || !errors.Is(err, c.cause) {
				t.Fatalf("ReadAt: %v, want a FormatError at offset %d wrapping %v", err, wantOff, c.cause)
			}
			if n != c.failAt-c.off || c.cause != errMedium && !bytes.Equal(p[:n], want[c.off:c.failAt]) { // failingReader zeroes what it reads
				t.Errorf("%d bytes before the error, want the %d before it", n, c.failAt-c.off)
			}
			// The bytes before the fault read.
			checkReadAt(t, io.NewSectionReader(f, 0, int64(c.failAt)), want[:c.failAt], 100, 2000)
			// Through io/fs, the same error, wrapped in nothing else.
			_, err = fs.ReadFile(im.FS(), "multi")
			if !errors.As(err, &fe) || fe.Off != wantOff {
				t.Errorf("fs.ReadFile: %v", err)
			}
			// Section of the extent at fault: the same offset.
			for _, y := range x {
				if wantOff >= y.Offset && wantOff < y.Offset+y.Size {
					_, err := io.ReadAll(im.Section(y))
					if !errors.As(err, &fe) || fe.Off != wantOff {
						t.Errorf("Section %v: %v, want an error at %d", y, err, wantOff)
					}
				}
			}
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r  io.ReaderAt
	mu sync.Mutex
	n  int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) take() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// TestOpenFileZisofs: ReadAt on zisofs files (zisofs with 32 KiB blocks,
// zisofs2 with 128 KiB) reads the source's bytes at random offsets and
// lengths and across block boundaries, forwards, backwards and from
// several goroutines at once; a read within one block reads from the
// image only that block's two pointers and its compressed bytes.
func TestOpenFileZisofs(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := zisofsSource(t, src)
	for _, c := range []struct {
		settings string
		bs       int
	}{{"level=9:block_size=32k", 32 << 10}, {"level=6:version_2=on:block_size_v2=128k", 128 << 10}} {
		t.Run(c.settings, func(t *testing.T) {
			img := zisofsISO(t, src, filepath.Join(t.TempDir(), "z.iso"), c.settings)
			b, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			cr := &countingReader{r: bytes.NewReader(b)}
			im, err := Open(cr, int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			for e, err := range im.All() {
				if err != nil {
					t.Fatal(err)
				}
				if !e.Zisofs {
					continue
				}
				want := []byte(files[e.Path[1:]])
				f, err := im.OpenFile(e)
				if err != nil {
					t.Fatal(err)
				}
				var cuts []int
				for at := c.bs; at < len(want); at += c.bs {
					cuts = append(cuts, at)
				}
				checkReadAt(t, f, want, 100, 2*c.bs, cuts...)
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Go(func() {
						rng := rand.New(rand.NewSource(int64(g)))
						for range 20 {
							off := rng.Intn(len(want))
							p := make([]byte, min(rng.Intn(5000)+1, len(want)-off))
							if n, err := f.ReadAt(p, int64(off)); n != len(p) || err != nil || !bytes.Equal(p, want[off:off+n]) {
								t.Errorf("%s: concurrent ReadAt at %d: %d bytes, %v", e.Path, off, n, err)
								return
							}
						}
					})
				}
				wg.Wait()

				// One block's worth: only its pointers and its bytes.
				z := e.zf
				raw, err := io.ReadAll(im.Section(e.Extents[0]))
				if err != nil || len(e.Extents) != 1 {
					t.Fatal(err, e.Extents)
				}
				last := int(z.blocks()) - 1
				ptr := func(i int) int64 {
					at := int(z.hdrWords)*4 + i*int(z.ptrSize())
					if z.ptrSize() == 4 {
						return int64(uint32(raw[at]) | uint32(raw[at+1])<<8 | uint32(raw[at+2])<<16 | uint32(raw[at+3])<<24)
					}
					var v int64
					for k := 7; k >= 0; k-- {
						v = v<<8 | int64(raw[at+k])
					}
					return v
				}
				f, err = im.OpenFile(e)
				if err != nil {
					t.Fatal(err)
				}
				cr.take()
				p := make([]byte, 100)
				if _, err := f.ReadAt(p, int64(last*c.bs+7)); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if !bytes.Equal(p[:min(100, len(want)-last*c.bs-7)], want[last*c.bs+7:min(len(want), last*c.bs+107)]) {
					t.Errorf("%s: last block read wrong", e.Path)
				}
				if n, max := cr.take(), 2*z.ptrSize()+ptr(last+1)-ptr(last); n > max {
					t.Errorf("%s: a read in block %d of %d read %d bytes of the image, more than its pointers and its %d compressed bytes", e.Path, last, last+1, n, ptr(last+1)-ptr(last))
				}
			}
		})
	}
}

// TestFSErrors: what io/fs callers test for. A missing path, or one
// through a regular file or a symlink, is fs.ErrNotExist in an
// *fs.PathError naming the operation and the path, for every method; an
// invalid path is fs.ErrInvalid; ReadLink of a non-link is fs.ErrInvalid;
// ReadDir of a file fails; a cancelled context, a refused budget charge
// and a loop come through as themselves.
func TestFSErrors(t *testing.T) {
	b := smallImage(t, "-R")
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	fsys := im.FS().(interface {
		fs.ReadDirFS
		fs.StatFS
		fs.ReadLinkFS
	})
	type op struct {
		name string
		f    func(string) error
	}
	ops := []op{
		{"open", func(p string) error { _, err := fsys.Open(p); return err }},
		{"stat", func(p string) error { _, err := fsys.Stat(p); return err }},
		{"lstat", func(p string) error { _, err := fsys.Lstat(p); return err }},
		{"readlink", func(p string) error { _, err := fsys.ReadLink(p); return err }},
		{"readdir", func(p string) error { _, err := fsys.ReadDir(p); return err }},
	}
	for _, p := range []string{"missing", "a/missing", "a/b/c/file/x", "a/b/c/file/", ".dot/x", "link/x", "link/c/file"} {
		for _, o := range ops {
			err := o.f(p)
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != o.name || pe.Path != p {
				t.Errorf("%s %q: %v, want an *fs.PathError naming both", o.name, p, err)
				continue
			}
			want := fs.ErrNotExist
			if strings.HasSuffix(p, "/") {
				want = fs.ErrInvalid
			}
			if !errors.Is(err, want) {
				t.Errorf("%s %q: %v, want %v", o.name, p, err, want)
			}
		}
	}
	for _, p := range []string{"/a", "a/../a", "./a", ""} {
		if _, err := fsys.Stat(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Stat %q: %v", p, err)
		}
	}
	if _, err := fsys.ReadLink("a"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink of a directory: %v", err)
	}
	if _, err := fsys.ReadDir("a/b/c/file"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of a file: %v", err)
	}
	if _, err := fsys.Stat("a/b/c/file"); err != nil {
		t.Fatal(err)
	}

	// A cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	im, err = OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := fs.Stat(im.FS(), "a/b"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat after cancel: %v", err)
	}

	// A budget too small for the root's listing.
	bud := budget.New(40 << 10)
	im, err = OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	if _, err := fs.ReadDir(im.FS(), "."); !errors.Is(err, budget.ErrExceeded) || !errors.As(err, &fe) {
		t.Errorf("ReadDir with a small budget: %v", err)
	}
	im.Close()
	if bud.Used() != 0 {
		t.Errorf("%d bytes charged after Close", bud.Used())
	}

	// Loops, as TestCorruptions makes them: a/b's records are a's.
	rootLBA := im.Primary.Root.Extent
	for _, c := range []struct {
		name  string
		dir   string // whose listing fails
		patch func(b []byte)
	}{
		{"dir points at root", "a", func(b []byte) {
			patchRootChild(t, b, "A", func(r []byte) { putBoth32(r[2:], rootLBA) })
		}},
		{"dir points at itself", "a/b", func(b []byte) {
			patchRootChild(t, b, "A", func(r []byte) {
				lba := binary32(r[2:])
				p := int(lba) * SectorSize
				p += int(b[p])
				p += int(b[p])
				for ; b[p] != 0; p += int(b[p]) {
					if b[p+33] == 'B' && b[p+32] == 1 {
						putBoth32(b[p+2:], lba)
						return
					}
				}
				t.Fatal("no B")
			})
		}},
	} {
		bb := bytes.Clone(b)
		c.patch(bb)
		im, err := Open(bytes.NewReader(bb), int64(len(bb)))
		if err != nil {
			t.Fatal(err)
		}
		fsys := im.FS()
		if _, err := fs.Stat(fsys, c.dir); err != nil {
			t.Errorf("%s: Stat %s: %v", c.name, c.dir, err)
		}
		_, err = fs.ReadDir(fsys, c.dir)
		if !errors.Is(err, ErrLoop) || !errors.As(err, &fe) {
			t.Errorf("%s: ReadDir %s: %v, want ErrLoop", c.name, c.dir, err)
		}
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error { return err })
		if !errors.Is(err, ErrLoop) {
			t.Errorf("%s: WalkDir: %v, want ErrLoop", c.name, err)
		}
	}
}

func binary32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// TestFSDepth: on a real tree nested beyond MaxDepth, the directory at
// MaxDepth lists its child, whose own listing is ErrTooDeep, as the walk
// refuses it.
func TestFSDepth(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	p := filepath.Join(dir, "src")
	for i := 0; i < MaxDepth+2; i++ {
		p = filepath.Join(p, "d")
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	img := testimg.MakeISO(t, filepath.Join(dir, "src"), filepath.Join(dir, "deep.iso"), "-R")
	im, _ := openImage(t, img)
	fsys := im.FS()
	deep := strings.Repeat("d/", MaxDepth)
	if ents, err := fs.ReadDir(fsys, deep[:len(deep)-1]); err != nil || len(ents) != 1 {
		t.Fatalf("ReadDir at depth %d: %v %v", MaxDepth, ents, err)
	}
	if _, err := fs.ReadDir(fsys, deep+"d"); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("ReadDir at depth %d: %v", MaxDepth+1, err)
	}
}

// TestFSConcurrent: walks, reads and lookups from several goroutines at
// once on one image with a budget; all of it is given back at Close.
func TestFSConcurrent(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := zisofsSource(t, src)
	img := zisofsISO(t, src, filepath.Join(dir, "z.iso"), "level=9:block_size=32k")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	bud := budget.New(fuzzBudget)
	im, err := OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	fsys := im.FS()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				got, err := fs.ReadFile(fsys, p)
				if err == nil && string(got) != files[p] {
					t.Errorf("%s: other bytes", p)
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if bud.Used() == 0 {
		t.Error("nothing charged for the listings kept")
	}
	im.Close()
	if bud.Used() != 0 {
		t.Errorf("%d bytes charged after Close", bud.Used())
	}
}

// TestAll: All yields what Walk's Next does, and a loop left early closes
// the walk (its charges given back).
func TestAll(t *testing.T) {
	b := smallImage(t, "-R", "-J")
	bud := budget.New(fuzzBudget)
	im, err := OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	held := bud.Used() // the descriptors, until Close
	walked := walkAll(t, im)
	var all []*Entry
	for e, err := range im.All() {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	if !reflect.DeepEqual(all, walked) {
		t.Error("All yields other nodes than Next")
	}
	for e := range im.All() {
		if e.Mode.IsDir() && e.Path != "/" {
			break
		}
	}
	if bud.Used() != held {
		t.Errorf("%d bytes still charged after leaving the loop", bud.Used()-held)
	}
	// The first error ends the loop: a cancelled walk yields it once.
	ctx, cancel := context.WithCancel(context.Background())
	im2, err := OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	n := 0
	for e, err := range im2.All() {
		n++
		if e != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("%v %v", e, err)
		}
	}
	if n != 1 {
		t.Errorf("%d iterations after the error", n)
	}
}
