package iso9660

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// BenchmarkWalk walks a Rock Ridge + Joliet image of 5000 files and 500
// symlinks in 50 directories, held in memory, so that the number is the
// parser's cost, not the disk's.
func BenchmarkWalk(b *testing.B) {
	testimg.Need(b, "xorriso")
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	for d := 0; d < 50; d++ {
		for f := 0; f < 100; f++ {
			p := filepath.Join(src, fmt.Sprintf("dir%02d", d), fmt.Sprintf("file-with-a-longer-name-%03d.txt", f))
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("x"), 0o644)
			if f%10 == 0 {
				os.Symlink("../some/where/else/"+filepath.Base(p), p+".link")
			}
		}
	}
	img := testimg.MakeISO(b, src, filepath.Join(dir, "bench.iso"), "-R", "-J")
	data, err := os.ReadFile(img)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		im, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		w := im.Walk()
		n = 0
		for {
			_, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n), "nodes/op")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}
