package sqfsdiff

import (
	"context"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/squashfs"
)

// slowReaderAt delays every read, so that comparing one file takes seconds.
type slowReaderAt struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// TestContentCancelWithinFile: cancelling the context stops the comparison
// of a long file pair in its middle, block by block or streamed, rather
// than after the file (a crafted image can claim terabytes of sparse or
// highly compressed data in one file, and Ctrl-C must still work).
func TestContentCancelWithinFile(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	// The same bytes but the last, compressed at different levels: every
	// block is decoded and compared, none is equal by its stored bytes.
	content := make([]byte, 2<<20) // 512 blocks: seconds at 2 ms per read
	rng := rand.New(rand.NewSource(1))
	for i := range content {
		content[i] = "abcdefgh"[rng.Intn(8)]
	}
	image := func(content []byte, level string) *squashfs.Reader {
		dir := t.TempDir()
		testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"f": string(content)})
		out := filepath.Join(dir, "img.sqfs")
		testimg.MakeSquashfs(t, filepath.Join(dir, "src"), out, "-b", "4K", "-noF", "-comp", "gzip", "-Xcompression-level", level)
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fi, _ := f.Stat()
		r, err := squashfs.Open(slowReaderAt{f, 2 * time.Millisecond}, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := image(content, "9")
	last := append([]byte(nil), content...)
	last[len(last)-1] = 'z'
	for _, c := range []struct {
		name string
		b    *squashfs.Reader
	}{
		{"blocks", image(last, "1")},               // equal sizes: block by block
		{"streams", image(append(last, 'z'), "1")}, // different sizes: streamed
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			res, _ := Content(ctx, a, c.b, Options{Workers: 1})
			if d := time.Since(start); d > time.Second {
				t.Errorf("Content returned after %v, though cancelled after 100ms", d)
			}
			if len(res.Problems) > 0 {
				t.Errorf("a cancelled comparison is not a problem: %v", res.Problems[0].Err)
			}
		})
	}
}
