package squashfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
)

// sharedPair builds two xz images of one tree, B with an incompressible
// file added in front, so that every block after it lies at another
// offset in B, stored with the same bytes.
func sharedPair(t *testing.T) (a, b string) {
	t.Helper()
	testimg.Need(t, "mksquashfs")
	dir := t.TempDir()
	for _, side := range []string{"a", "b"} {
		root := filepath.Join(dir, side)
		for i := range 40 {
			p := filepath.Join(root, fmt.Sprintf("d%d/f%02d", i%4, i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			// Files of one to three blocks, and small ones in fragments.
			n := 1024 * (1 + i%3)
			if i%5 != 0 {
				n = 16384*(1+i%3) + 100*i
			}
			if err := os.WriteFile(p, fill(uint64(i), n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if side == "b" {
			noise := make([]byte, 40_000)
			for i := range noise {
				noise[i] = byte(i*7919>>3 ^ i*31)
			}
			if err := os.WriteFile(filepath.Join(root, "aaa"), noise, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img := filepath.Join(dir, side+".sqfs")
		testimg.Run(t, dir, "mksquashfs", root, img, "-comp", "xz", "-b", "16384", "-noappend", "-no-progress", "-quiet", "-all-root", "-mkfs-time", "0", "-all-time", "0")
		if side == "a" {
			a = img
		} else {
			b = img
		}
	}
	return a, b
}

func openWith(t *testing.T, img string, o Options) *Reader {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	r, err := OpenOptions(f, st.Size(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// contents reads every regular file of r: path -> bytes.
func contents(t *testing.T, r *Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, e := range walkAll(t, r) {
		if !e.Mode.IsRegular() {
			continue
		}
		rd, err := r.Open(e)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatalf("%s: %v", e.Path, err)
		}
		out[e.Path] = b
	}
	return out
}

// Two readers sharing a DecodeCache, read side by side, decode each block
// the images store alike once, and read exactly what readers without it
// read.
func TestDecodeCacheShared(t *testing.T) {
	a, b := sharedPair(t)
	want := [2]map[string][]byte{contents(t, openWith(t, a, Options{})), contents(t, openWith(t, b, Options{}))}

	bud := budget.New(64 << 20)
	cache, err := NewDecodeCache(0, bud)
	if err != nil {
		t.Fatal(err)
	}
	if bud.Used() < DefaultDecodeCacheBytes {
		t.Errorf("budget holds %d bytes, want the cache's %d", bud.Used(), DefaultDecodeCacheBytes)
	}
	rs := [2]*Reader{openWith(t, a, Options{Shared: cache, Budget: bud}), openWith(t, b, Options{Shared: cache, Budget: bud})}
	var got [2]map[string][]byte
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { got[i] = contents(t, rs[i]) })
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("side %d: %d files, want %d", i, len(got[i]), len(want[i]))
		}
		for p, w := range want[i] {
			if !bytes.Equal(got[i][p], w) {
				t.Errorf("side %d: %s differs from an unshared reader's", i, p)
			}
		}
	}
	hits, misses := cache.Stats()
	t.Logf("%d blocks decoded, %d copied", misses, hits)
	// B stores all of A's blocks (at other offsets) plus its own; each
	// shared one is decoded by one side and copied by the other, as long
	// as it stays in the cache (the two walks go side by side).
	if hits == 0 || hits < misses/3 {
		t.Errorf("%d hits for %d decodes: the images' common blocks were decoded twice", hits, misses)
	}
}

// A cache never answers for bytes it has not seen: a block whose stored
// bytes differ in one byte is decoded (and here fails), whatever the other
// image's block at the same place decoded to.
func TestDecodeCacheChecksBytes(t *testing.T) {
	a, _ := sharedPair(t)
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	ra := openWith(t, a, Options{})
	var blk Block
	for _, e := range walkAll(t, ra) {
		if e.Mode.IsRegular() && len(e.BlockSizes) > 0 {
			for b := range ra.Blocks(e) {
				if b.Compressed && b.Size > 64 {
					blk = b
					break
				}
			}
			break
		}
	}
	if blk.Size == 0 {
		t.Fatal("no compressed data block")
	}
	bad := bytes.Clone(data)
	bad[blk.Off+int64(blk.Size)/2] ^= 0xff
	badPath := filepath.Join(t.TempDir(), "bad.sqfs")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	cache, err := NewDecodeCache(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := openWith(t, a, Options{Shared: cache})
	broken := openWith(t, badPath, Options{Shared: cache})
	if _, err := good.ReadBlock(nil, blk); err != nil {
		t.Fatal(err)
	}
	if _, err := broken.ReadBlock(nil, blk); err == nil {
		t.Fatal("a damaged block read as the intact one the cache holds")
	}
	if hits, _ := cache.Stats(); hits != 0 {
		t.Fatalf("%d hits for bytes that differ", hits)
	}
	// The intact block, read again by either, is a hit.
	if _, err := broken.ReadBlock(nil, Block{Off: blk.Off, Size: blk.Size, Len: blk.Len, Compressed: true, Index: blk.Index}); err == nil {
		t.Fatal("damaged block read")
	}
	if _, err := good.ReadBlock(nil, blk); err != nil {
		t.Fatal(err)
	}
	if hits, _ := cache.Stats(); hits != 1 {
		t.Fatalf("%d hits, want 1", hits)
	}
}

// A cache the budget cannot spare is an error, and no cache, but not a
// refusal of the budget (which isodiff reports as a problem).
func TestDecodeCacheBudget(t *testing.T) {
	bud := budget.New(1 << 20)
	if c, err := NewDecodeCache(0, bud); err == nil || c != nil {
		t.Fatalf("a 4 MiB cache under a 1 MiB budget: %v", err)
	}
	if n, _ := bud.Refusals(); n != 0 {
		t.Fatalf("the budget counts %d refusals for an optional cache", n)
	}
	c, err := NewDecodeCache(512<<10, bud)
	if err != nil {
		t.Fatal(err)
	}
	if bud.Used() != 512<<10 {
		t.Fatalf("budget holds %d", bud.Used())
	}
	_ = c
}
