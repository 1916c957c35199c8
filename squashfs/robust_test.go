package squashfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// smallImage builds a small image of the test tree with the given options
// and returns its bytes.
func smallImage(t testing.TB, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	buildTree(t, src, 4096, false)
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, src, img, append(append([]string{"-b", "4K"}, args...), pseudo...)...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exercise walks the whole image and reads every file, returning the first
// error. Reads stop after limit bytes in all, so corrupt sizes cannot make
// a test slow.
func exercise(ra io.ReaderAt, size int64, limit int64) error {
	r, err := Open(ra, size)
	if err != nil {
		return err
	}
	w := r.Walk()
	for n := 0; n < 1<<16; n++ {
		e, err := w.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !e.IsRegular() {
			continue
		}
		for range r.Blocks(e) {
		}
		f, err := r.Open(e)
		if err != nil {
			return err
		}
		k, err := io.Copy(io.Discard, io.LimitReader(f, limit))
		if err != nil {
			return err
		}
		if limit -= k; limit <= 0 {
			return nil
		}
	}
	return nil
}

// shortReader serves only the first n bytes of b, as a truncated or
// failing device would, while the caller believes the image is longer.
type shortReader struct {
	b []byte
	n int64
}

func (s shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.n {
		return 0, io.EOF
	}
	n := copy(p, s.b[off:s.n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestTruncated(t *testing.T) {
	img := smallImage(t)
	if err := exercise(bytes.NewReader(img), int64(len(img)), 1<<30); err != nil {
		t.Fatal(err)
	}
	used := int64(binary.LittleEndian.Uint64(img[40:]))
	cuts := []int64{0, 1, 4, 95, 96, 97, 98, 200, used - 1}
	for c := int64(300); c < used; c += used / 97 {
		cuts = append(cuts, c)
	}
	for _, cut := range cuts {
		// An image cut short is rejected by Open.
		_, err := Open(bytes.NewReader(img[:cut]), cut)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("cut at %d: Open: %v, want a FormatError", cut, err)
		}
		// A device that fails past the cut fails whatever reads there.
		err = exercise(shortReader{img, cut}, int64(len(img)), 1<<30)
		if err == nil {
			t.Errorf("cut at %d of %d used bytes: no error", cut, used)
		} else if !errors.As(err, &fe) {
			t.Errorf("cut at %d: %v is not a FormatError", cut, err)
		} else if !strings.HasPrefix(err.Error(), "squashfs: ") {
			t.Errorf("cut at %d: %q", cut, err)
		}
	}
}

func TestCorruptSuperblock(t *testing.T) {
	img := smallImage(t)
	cases := []struct {
		name  string
		off   int
		value uint64
		size  int // 2, 4 or 8 bytes
		want  string
		is    error
	}{
		{"inode table beyond end", 64, uint64(len(img)) + 100, 8, "inode_table_start", ErrCorrupt},
		{"dir table before inode table", 72, 96, 8, "directory table start", ErrCorrupt},
		{"bytes used beyond size", 40, 1 << 40, 8, "bytes_used", ErrCorrupt},
		{"magic", 0, 0x12345678, 4, "magic", ErrBadMagic},
		{"block log", 22, 13, 2, "block log", ErrCorrupt},
		{"compressor", 20, 9, 2, "compression id 9", ErrUnsupported},
		{"version", 28, 3, 2, "version 3.0", ErrUnsupported},
		{"id table", 48, 0, 8, "id_table_start", ErrCorrupt},
	}
	for _, c := range cases {
		b := bytes.Clone(img)
		switch c.size {
		case 2:
			binary.LittleEndian.PutUint16(b[c.off:], uint16(c.value))
		case 4:
			binary.LittleEndian.PutUint32(b[c.off:], uint32(c.value))
		case 8:
			binary.LittleEndian.PutUint64(b[c.off:], c.value)
		}
		_, err := Open(bytes.NewReader(b), int64(len(b)))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Off != 0 || fe.What != "superblock" || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestCorruptBytes overwrites bytes all over real images (with compressed
// and uncompressed metadata) and requires errors, never panics or hangs.
func TestCorruptBytes(t *testing.T) {
	for _, args := range [][]string{{"-noI", "-noD", "-noF", "-noX"}, {"-comp", "xz"}, {"-comp", "lz4"}, {"-comp", "zstd"}} {
		img := smallImage(t, args...)
		rng := rand.New(rand.NewPCG(uint64(len(img)), 1))
		bad := 0
		for i := range 150 {
			b := bytes.Clone(img)
			off := 96 + rng.IntN(len(b)-96)
			if i%3 == 0 { // aim at the metadata tables at the end
				off = len(b) - 1 - rng.IntN(min(len(b)-96, 3000))
			}
			for j := range 1 + rng.IntN(4) {
				if off+j < len(b) {
					b[off+j] = byte(rng.Uint32())
				}
			}
			err := exercise(bytes.NewReader(b), int64(len(b)), 1<<26)
			var fe *FormatError
			fsErr := exerciseFS(bytes.NewReader(b), int64(len(b)), 1<<26)
			if fsErr != nil {
				var pe *fs.PathError
				if !errors.As(fsErr, &fe) && (!errors.As(fsErr, &pe) || !strings.HasPrefix(pe.Err.Error(), "squashfs: ")) {
					t.Errorf("%v at %d: FS error without context: %v", args, off, fsErr)
				}
			}
			for _, err := range []error{err, fsErr} {
				if errors.As(err, &fe) && (fe.Off < 0 || fe.Off > int64(len(b))) {
					t.Errorf("%v at %d: error offset outside the image: %v", args, off, err)
				}
			}
			if err != nil {
				bad++
				if !errors.As(err, &fe) && !strings.HasPrefix(err.Error(), "squashfs: ") {
					t.Errorf("%v at %d: error without context: %v", args, off, err)
				}
			}
		}
		t.Logf("%v: %d of 150 corruptions detected", args, bad)
	}
}

// patchImage builds an image with uncompressed metadata, so that a test
// can patch its tables in place, and returns it with its entries by path.
func patchImage(t *testing.T, files map[string]string, dirs ...string) ([]byte, map[string]*Entry) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testimg.WriteFiles(t, src, files)
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, src, img, "-noI", "-no-xattrs")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*Entry{}
	for _, e := range walkAll(t, r) {
		m[e.Path] = e
	}
	return b, m
}

// listingAt returns the absolute offset of directory e's listing in an
// image whose metadata is stored uncompressed in one block.
func listingAt(t *testing.T, img []byte, e *Entry) int {
	dirStart := binary.LittleEndian.Uint64(img[72:])
	return int(dirStart) + int(e.dirBlock) + 2 + int(e.dirPos)
}

func TestDirectoryCycle(t *testing.T) {
	img, m := patchImage(t, nil, "a/b")
	// Point /a's entry "b" at /a itself: the first run header's inode block
	// and the entry's offset.
	at := listingAt(t, img, m["/a"])
	binary.LittleEndian.PutUint32(img[at+4:], uint32(m["/a"].ref>>16))
	binary.LittleEndian.PutUint16(img[at+12:], uint16(m["/a"].ref))
	err := exercise(bytes.NewReader(img), int64(len(img)), 1<<20)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "reached twice") || !strings.Contains(err.Error(), "/a/b") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	// Names of the same length as "ab", patched in place. ("" cannot be
	// encoded: the size is stored minus one.)
	for _, name := range []string{"..", "a/", "a\x00"} {
		img, m := patchImage(t, map[string]string{"d/ab": "x"})
		at := listingAt(t, img, m["/d"]) + 12 + 8 // the one entry's name
		copy(img[at:], name)
		err := exercise(bytes.NewReader(img), int64(len(img)), 1<<20)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestConcurrentOpen(t *testing.T) {
	img := smallImage(t, "-comp", "zstd")
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	var files []*Entry
	want := map[string][32]byte{}
	for _, e := range walkAll(t, r) {
		if e.IsRegular() {
			files = append(files, e)
			f, _ := r.Open(e)
			b, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			want[e.Path] = sha256.Sum256(b)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range files {
				e := files[(i*7+g*13)%len(files)]
				f, err := r.Open(e)
				if err != nil {
					t.Error(err)
					return
				}
				h := sha256.New()
				if _, err := io.Copy(h, f); err != nil {
					t.Error(err)
					return
				}
				if [32]byte(h.Sum(nil)) != want[e.Path] {
					t.Errorf("%s: concurrent read differs", e.Path)
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzReader feeds mutated images to Open, Walk and Open(e), and to the
// io/fs view (WalkDir, Stat of every path, ReadLink, reading every file):
// no panic, and every error is a *FormatError (so a name the view lists
// is never one its lookup cannot find). Seeds are real images; `go test`
// runs the seeds only.
func FuzzReader(f *testing.F) {
	f.Add(smallImage(f, "-noI", "-noD", "-noF", "-noX"))
	f.Add(smallImage(f, "-comp", "lz4"))
	f.Fuzz(func(t *testing.T, img []byte) {
		for what, err := range map[string]error{
			"walk":  exercise(bytes.NewReader(img), int64(len(img)), 1<<24),
			"io/fs": exerciseFS(bytes.NewReader(img), int64(len(img)), 1<<24),
		} {
			var fe *FormatError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("%s: error is not a *FormatError: %T %v", what, err, err)
			}
		}
	})
}

// TestUnsortedListing swaps two names in a listing, then makes them
// equal: each is damage named at the listing's offset, by Walk and by the
// io/fs view alike, and unsquashfs refuses the same bytes. (The kernel's
// lookup relies on the order; a reader that sorted the listing instead
// listed names that Stat could not find.)
func TestUnsortedListing(t *testing.T) {
	testimg.Need(t, "unsquashfs")
	img, m := patchImage(t, map[string]string{"d/ab": "first", "d/cd": "second"})
	at := listingAt(t, img, m["/d"]) + 12 // first entry; names are 2 bytes
	first, second := at+8, at+8+2+8
	if string(img[first:first+2]) != "ab" || string(img[second:second+2]) != "cd" {
		t.Fatalf("listing layout: %q %q", img[first:first+2], img[second:second+2])
	}
	for _, c := range []struct{ first, second, want string }{
		{"cd", "ab", `name "ab" listed after "cd": the listing is not sorted`},
		{"ab", "ab", `duplicate name "ab"`},
	} {
		patched := bytes.Clone(img)
		copy(patched[first:], c.first)
		copy(patched[second:], c.second)
		for what, err := range map[string]error{
			"walk":  exercise(bytes.NewReader(patched), int64(len(patched)), 1<<20),
			"io/fs": exerciseFS(bytes.NewReader(patched), int64(len(patched)), 1<<20),
		} {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "directory of /d") {
				t.Errorf("%s %s: %v, want ErrCorrupt: directory of /d: %s", c.first+c.second, what, err, c.want)
				continue
			}
			if dirStart := int64(binary.LittleEndian.Uint64(img[72:])); fe.Off != dirStart+int64(m["/d"].dirBlock) {
				t.Errorf("%s %s: at offset %d, want the listing's metadata block at %d", c.first+c.second, what, fe.Off, dirStart+int64(m["/d"].dirBlock))
			}
		}
		path := filepath.Join(t.TempDir(), "img")
		if err := os.WriteFile(path, patched, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("unsquashfs", "-lln", path).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "duplicate names or is unsorted") {
			t.Errorf("%s: unsquashfs does not refuse it (%v):\n%s", c.first+c.second, err, out)
		}
	}
}

// TestIndexContradictsListing gives the second entry of a large
// directory's index the first entry's name: a lookup of a name between the
// two, which the index sends past the name it seeks, is damage at the
// index entry, not "file does not exist". (The walk reads the listing,
// not the index.)
func TestIndexContradictsListing(t *testing.T) {
	pad := strings.Repeat("p", 60)
	files := map[string]string{}
	for i := range 2000 {
		files[fmt.Sprintf("big/n%05d-%s", 2*i, pad)] = ""
	}
	img, m := patchImage(t, files)
	big := m["/big"]
	if big.idxCount < 2 {
		t.Fatalf("/big has %d index entries", big.idxCount)
	}
	// Index entries: listing byte (4), block (4), name size-1 (4), name.
	at := int(big.idxBlock) + 2 + int(big.idxPos)
	first := at + 12 + int(binary.LittleEndian.Uint32(img[at+8:])) + 1 // entry 1
	size := int(binary.LittleEndian.Uint32(img[first+8:])) + 1
	if first+12+size > int(big.idxBlock)+2+8192 {
		t.Fatal("index entry 1 crosses a metadata block")
	}
	nameAt := first + 12
	real := string(img[nameAt : nameAt+size])
	fake := string(img[at+12 : first]) // entry 0's name
	var n int
	if _, err := fmt.Sscanf(fake, "n%05d-", &n); err != nil {
		t.Fatalf("index entry 0 names %q: %v", fake, err)
	}
	sought := fmt.Sprintf("big/n%05d-%s", n+2, pad) // listed after fake, before real
	if len(fake) != len(real) || real <= sought[len("big/"):] {
		t.Fatalf("index entries 0 and 1 name %q and %q", fake, real)
	}
	fsys := func(b []byte) fs.FS {
		r, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return r.FS()
	}
	if _, err := fs.Stat(fsys(img), sought); err != nil {
		t.Fatal(err)
	}
	patched := bytes.Clone(img)
	copy(patched[nameAt:], fake)
	_, err := fs.Stat(fsys(patched), sought)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || fe.Off != big.idxBlock || !strings.Contains(err.Error(), fmt.Sprintf("entry 1 names %q, the listing there starts with %q", fake, real)) {
		t.Errorf("stat %s through the contradicted index: %v, want ErrCorrupt at the index's block %d", sought, err, big.idxBlock)
	}
	if err := exercise(bytes.NewReader(patched), int64(len(patched)), 1<<20); err != nil {
		t.Errorf("walk: %v", err)
	}
}

// TestTailPastFragment: a tail said to lie past the end of its fragment
// block is an error at the fragment block's offset, from ReadTail, Open and
// OpenFile alike.
func TestTailPastFragment(t *testing.T) {
	img, m := patchImage(t, map[string]string{"a": "tail bytes\n", "b": "more tail bytes\n"})
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	bad := *m["/b"]
	bad.FragOffset = 1 << 20
	fi, err := r.Fragment(bad.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	check := func(how string, err error) {
		t.Helper()
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Off != int64(fi.Start) {
			t.Errorf("%s: %v, want a FormatError at the fragment block's offset %d", how, err, fi.Start)
		}
	}
	_, err = r.ReadTail(nil, &bad)
	check("ReadTail", err)
	fr, err := r.Open(&bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(fr)
	check("Open", err)
	f, err := r.OpenFile(&bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(make([]byte, 4), 0)
	check("OpenFile", err)
}
