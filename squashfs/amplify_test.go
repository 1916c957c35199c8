package squashfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
)

// The xattr amplifier of issue 10: 4,096 keys sharing one out-of-line
// 64 KiB value made 3.1 GB of a reader that held whole values. Now each
// value is an excerpt and the shared value is decoded once.
func TestXattrSharedValueIsNotAmplified(t *testing.T) {
	img := filepath.Join(t.TempDir(), "bomb.sqfs")
	testimg.XattrBombSquashfs(t, img, 4096, 1<<16, 'A')
	if fi, _ := os.Stat(img); fi.Size() > 1<<20 {
		t.Fatalf("crafted image is %d bytes, want under 1 MiB", fi.Size())
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := budget.New(32 << 20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := OpenOptions(f, fi.Size(), Options{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	w := r.Walk()
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == "/f" {
			seen = len(e.Xattrs)
			for _, x := range e.Xattrs {
				if x.Size != 1<<16 || !x.Excerpted() || len(x.Value) > 64 {
					t.Fatalf("%s: size %d, %d bytes held", x.Name, x.Size, len(x.Value))
				}
			}
			if !e.Xattrs[0].SameValue(e.Xattrs[4095]) {
				t.Fatal("shared value read differently")
			}
		}
	}
	runtime.ReadMemStats(&after)
	if seen != 4096 {
		t.Fatalf("/f has %d xattrs, want 4096", seen)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("walk allocated %d MiB", alloc>>20)
	}
	if b.Peak() > 32<<20 {
		t.Errorf("budget peak %d", b.Peak())
	}
}

// A budget too small for what an image makes the reader hold is an error
// naming the structure, not an allocation.
func TestBudgetRefusalIsAnError(t *testing.T) {
	img := filepath.Join(t.TempDir(), "bomb.sqfs")
	testimg.XattrBombSquashfs(t, img, 4096, 1<<16, 'A')
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := budget.New(4 << 20) // less than the caches alone
	_, err = OpenOptions(f, fi.Size(), Options{Budget: b})
	var ee *budget.ExceededError
	if !errors.As(err, &ee) || ee.What != "squashfs caches" {
		t.Fatalf("open under a 4 MiB budget: %v", err)
	}
	// The caches fit, the 4,096 excerpted xattrs (about 600 KiB) do not.
	b = budget.New(metaCacheBlocks*metaSize + (fragCacheBlocks+4)*(128<<10) + xattrMemoBytes + 100<<10)
	r, err := OpenOptions(f, fi.Size(), Options{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	w := r.Walk()
	for {
		_, err = w.Next()
		if err != nil {
			break
		}
	}
	if !errors.As(err, &ee) || ee.Off <= 0 {
		t.Fatalf("walk under a tight budget ended with %v", err)
	}
}

// A cancelled context stops a walk at the next block it would decode.
func TestContextStopsWalk(t *testing.T) {
	img := filepath.Join(t.TempDir(), "bomb.sqfs")
	testimg.XattrBombSquashfs(t, img, 4096, 1<<16, 'A')
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := OpenOptions(f, fi.Size(), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	w := r.Walk()
	for {
		if _, err = w.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("walk after cancel ended with %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("walk took %v after cancel", d)
	}
}

// SkipDir leaves a directory's subtree out of the walk.
func TestWalkerSkipDir(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	src := filepath.Join(t.TempDir(), "root")
	testimg.WriteFiles(t, src, map[string]string{"a/x": "1", "a/y/z": "2", "b/c": "3", "d": "4"})
	img := filepath.Join(t.TempDir(), "s.sqfs")
	testimg.MakeSquashfs(t, src, img)
	f, _ := os.Open(img)
	defer f.Close()
	fi, _ := f.Stat()
	r, err := Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	w := r.Walk()
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Path)
		if e.Path == "/a" || e.Path == "/d" { // a directory, and a file (no effect)
			w.SkipDir()
		}
	}
	if want := "/ /a /b /b/c /d"; strings.Join(got, " ") != want {
		t.Errorf("walk %q, want %q", strings.Join(got, " "), want)
	}
}
