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
func sharedPair(t *testing.T) (a, b string) { return sharedPairOf(t, 16384, sizes(16384, 40)) }

// sizes returns the sizes of n files for blocks of bs bytes: one to three
// blocks and a bit, and every fifth small (in a fragment).
func sizes(bs, n int) []int {
	var s []int
	for i := range n {
		if i%5 == 0 {
			s = append(s, bs/16*(1+i%3))
		} else {
			s = append(s, bs*(1+i%3)+bs/100*i)
		}
	}
	return s
}

// sharedPairOf is sharedPair with blocks of bs bytes and files of the
// sizes given.
func sharedPairOf(t *testing.T, bs int, sizes []int) (a, b string) {
	t.Helper()
	testimg.Need(t, "mksquashfs")
	dir := t.TempDir()
	for _, side := range []string{"a", "b"} {
		root := filepath.Join(dir, side)
		for i, n := range sizes {
			p := filepath.Join(root, fmt.Sprintf("d%d/f%02d", i%4, i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, fill(uint64(i), n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if side == "b" {
			noise := make([]byte, 2*bs) // whole blocks: no tail in a fragment
			for i := range noise {
				noise[i] = byte(i*7919>>3 ^ i*31)
			}
			if err := os.WriteFile(filepath.Join(root, "aaa"), noise, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img := filepath.Join(dir, side+".sqfs")
		testimg.Run(t, dir, "mksquashfs", root, img, "-comp", "xz", "-b", fmt.Sprint(bs), "-noappend", "-no-progress", "-quiet", "-all-root", "-mkfs-time", "0", "-all-time", "0")
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
	t.Run("16KiB", func(t *testing.T) { testDecodeCacheShared(t, 16384, sizes(16384, 40), 90) })
	// 1 MiB blocks (Arch's -b 1M): two fit the default cache at once.
	t.Run("1MiB", func(t *testing.T) { testDecodeCacheShared(t, 1<<20, []int{100 << 10, 1<<20 + 5000, 200 << 10}, 4) })
}

// wantHits is how many blocks B at least copies: those it stores as A does
// (all of A's: its data block, fragment blocks and metadata blocks before
// the one recording where B's extra file is).
func testDecodeCacheShared(t *testing.T, bs int, sizes []int, wantHits int64) {
	a, b := sharedPairOf(t, bs, sizes)
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
	if hits < wantHits {
		t.Errorf("%d hits for %d decodes, want at least %d: the images' common blocks were decoded twice", hits, misses, wantHits)
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
