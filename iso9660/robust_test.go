package iso9660

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
)

// smallImage is a real Rock Ridge + Joliet image with a few directories,
// a symlink and a long name, as bytes.
func smallImage(t testing.TB, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testimg.WriteFiles(t, src, map[string]string{
		"a/b/c/file": "content\n", "a/other": "x", ".dot": "d",
		"long-" + string(bytes.Repeat([]byte("n"), 180)): "l",
	})
	if err := os.Symlink("a/b/c/file", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	img := testimg.MakeISO(t, src, filepath.Join(dir, "s.iso"), args...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walkBytes opens and walks an image held in memory, reading every file,
// and returns the first error (nil at a clean end).
func walkBytes(b []byte) (n int, err error) {
	return walkBytesOptions(b, Options{})
}

// walkBytesOptions is walkBytes with options; it closes the image.
func walkBytesOptions(b []byte, o Options) (n int, err error) {
	im, err := OpenOptions(bytes.NewReader(b), int64(len(b)), o)
	if err != nil {
		return 0, err
	}
	defer im.Close()
	w := im.Walk()
	defer w.Close()
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		n++
		// At most 64 MiB a file: a zisofs file may declare gigabytes of
		// zeros in empty blocks, 8 recorded bytes each.
		if _, err := io.Copy(io.Discard, io.LimitReader(im.Open(e), 64<<20)); err != nil {
			return n, err
		}
	}
	if c, err := im.BootCatalog(); err == nil {
		for _, e := range c.Entries {
			if _, err := im.BootImage(e); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func isFormatError(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe)
}

// TestTruncated cuts a real image at many offsets: every cut is either read
// cleanly (the cut fell in data no one reads) or fails with a FormatError.
func TestTruncated(t *testing.T) {
	b := smallImage(t, "-R", "-J")
	for _, n := range []int{0, 100, 16 * 2048, 16*2048 + 100, 17 * 2048, 18 * 2048, 19*2048 + 7, 20 * 2048, 21 * 2048, 22*2048 + 1000, 24 * 2048, 30 * 2048, len(b) / 2, len(b) - 2048, len(b) - 1} {
		if n > len(b) {
			continue
		}
		_, err := walkBytes(b[:n])
		if err != nil && !isFormatError(err) {
			t.Errorf("cut at %d: %v is not a FormatError", n, err)
		}
		for _, err := range fsBytes(b[:n], Options{}) {
			if !isFormatError(err) {
				t.Errorf("cut at %d: FS: %v is not a FormatError", n, err)
			}
		}
		if n < 17*2048 && err == nil {
			t.Errorf("cut at %d: no error", n)
		}
	}
}

// patchRootChild rewrites the first record of the root directory that is
// not "." or ".." with fn.
func patchRootChild(t *testing.T, b []byte, name string, fn func(rec []byte)) {
	t.Helper()
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	root := int(im.Primary.Root.Extent) * SectorSize
	for p := root; b[p] != 0; p += int(b[p]) {
		rec, err := parseDirRecord(b[p:])
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Identifier) == name {
			fn(b[p : p+int(rec.Len)])
			return
		}
	}
	t.Fatalf("no root record %q", name)
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func TestCorruptions(t *testing.T) {
	orig := smallImage(t, "-R")
	im, _ := Open(bytes.NewReader(orig), int64(len(orig)))
	rootLBA := im.Primary.Root.Extent
	cases := []struct {
		name  string
		patch func(t *testing.T, b []byte)
		want  error
	}{
		{"root extent past end", func(t *testing.T, b []byte) { putBoth32(b[16*2048+156+2:], 1<<30) }, ErrTruncated},
		// (past the end in the descriptor only is repaired: TestRootSizeRepaired)
		{"root size past end", func(t *testing.T, b []byte) {
			putBoth32(b[16*2048+156+10:], 1<<31)
			putBoth32(b[int(rootLBA)*SectorSize+10:], 1<<31)
		}, ErrTruncated},
		{"dir points at root", func(t *testing.T, b []byte) {
			patchRootChild(t, b, "A", func(r []byte) { putBoth32(r[2:], rootLBA) })
		}, ErrLoop},
		{"dir points at itself", func(t *testing.T, b []byte) {
			patchRootChild(t, b, "A", func(r []byte) {
				// a's "." record: make a/b point at a.
				lba := binary.LittleEndian.Uint32(r[2:])
				p := int(lba) * SectorSize
				p += int(b[p]) // skip "."
				p += int(b[p]) // skip ".."
				for ; b[p] != 0; p += int(b[p]) {
					if b[p+33] == 'B' && b[p+32] == 1 {
						putBoth32(b[p+2:], lba)
						return
					}
				}
				panic("no B")
			})
		}, ErrLoop},
		{"slash in NM", func(t *testing.T, b []byte) {
			patchRootChild(t, b, ".DOT;1", func(r []byte) {
				i := bytes.Index(r, []byte("NM"))
				r[i+5] = '/'
			})
		}, ErrBadName},
		{"NUL in NM", func(t *testing.T, b []byte) {
			patchRootChild(t, b, ".DOT;1", func(r []byte) {
				i := bytes.Index(r, []byte("NM"))
				r[i+5] = 0
			})
		}, ErrBadName},
		{"NM is ..", func(t *testing.T, b []byte) {
			patchRootChild(t, b, ".DOT;1", func(r []byte) {
				i := bytes.Index(r, []byte("NM"))
				r[i+4] = nmParent
			})
		}, ErrBadName},
		{"record crosses sector", func(t *testing.T, b []byte) {
			patchRootChild(t, b, ".DOT;1", func(r []byte) { r[0] = 255 })
		}, nil},
		{"not ISO", func(t *testing.T, b []byte) { copy(b[16*2048+1:], "XXXXX") }, ErrNotISO},
		{"block size", func(t *testing.T, b []byte) { binary.LittleEndian.PutUint16(b[16*2048+128:], 512) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			c.patch(t, b)
			_, err := walkBytes(b)
			if err == nil {
				t.Fatal("no error")
			}
			if !isFormatError(err) {
				t.Fatalf("%v is not a FormatError", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("%v is not %v", err, c.want)
			}
			t.Log(err)
		})
	}
}

// TestFilePastEnd: a file whose data is recorded past the end of the image
// (as in a truncated image) is still listed, with the damage noted, and
// reading it fails with a FormatError; the walk goes on to the end.
func TestFilePastEnd(t *testing.T) {
	b := smallImage(t, "-R")
	patchRootChild(t, b, ".DOT;1", func(r []byte) { putBoth32(r[2:], 1<<30) })
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	w := im.Walk()
	seen := 0
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("walk must go on past a damaged file: %v", err)
		}
		seen++
		if e.Path != "/.dot" {
			continue
		}
		if !errors.Is(e.Damage, ErrTruncated) {
			t.Errorf("damage %v, want ErrTruncated", e.Damage)
		}
		_, err = io.Copy(io.Discard, im.Open(e))
		if !isFormatError(err) || !errors.Is(err, ErrTruncated) {
			t.Errorf("reading it: %v, want a FormatError wrapping ErrTruncated", err)
		}
	}
	if seen < 8 {
		t.Errorf("walked %d nodes, want all of them", seen)
	}
}

// TestDamagedSUSP: a bad SUSP entry length is damage noted on the entry,
// not a failed walk.
func TestDamagedSUSP(t *testing.T) {
	b := smallImage(t, "-R")
	patchRootChild(t, b, "LINK.;1", func(r []byte) {
		i := bytes.Index(r, []byte("SL"))
		r[i+2] = 250
	})
	im, _ := Open(bytes.NewReader(b), int64(len(b)))
	w := im.Walk()
	damaged := 0
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Damage != nil {
			damaged++
			if !isFormatError(e.Damage) {
				t.Errorf("damage %v", e.Damage)
			}
		}
	}
	if damaged != 1 {
		t.Errorf("%d damaged entries", damaged)
	}
}

// TestRandomCorruption flips bytes in the metadata of real images (plain,
// Rock Ridge, Joliet, bootable) and walks them and their io/fs view
// (fsBytes): no panic, no hang, only FormatErrors.
func TestRandomCorruption(t *testing.T) {
	images := [][]byte{smallImage(t, "-R", "-J"), smallImage(t, "--norock", "-J"), smallImage(t, "--norock")}
	rng := rand.New(rand.NewSource(1))
	rounds := 400
	if testing.Short() {
		rounds = 50
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < rounds && time.Now().Before(deadline); i++ {
		orig := images[i%len(images)]
		b := bytes.Clone(orig)
		// metadata lives in the first blocks: descriptors, path tables,
		// directories, CE areas.
		hi := min(len(b), 40*SectorSize)
		for k := 0; k < 1+rng.Intn(8); k++ {
			p := 16*SectorSize + rng.Intn(hi-16*SectorSize)
			b[p] = byte(rng.Intn(256))
		}
		done := make(chan error, 1)
		go func() {
			_, err := walkBytes(b)
			if err != nil && !isFormatError(err) {
				done <- err
				return
			}
			for _, err := range fsBytes(b, Options{}) {
				if !fsImageError(err) {
					done <- fmt.Errorf("FS: %w", err)
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: %v is not a FormatError", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: walk hangs", i)
		}
	}
}

// TestTooDeep: a real tree nested beyond MaxDepth is refused with
// ErrTooDeep, after yielding the levels above.
func TestTooDeep(t *testing.T) {
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
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	n, err := walkBytes(b)
	if !errors.Is(err, ErrTooDeep) || !isFormatError(err) {
		t.Fatalf("after %d nodes: %v", n, err)
	}
	if n != MaxDepth+1 {
		t.Errorf("%d nodes before the error, want %d", n, MaxDepth+1)
	}
}
