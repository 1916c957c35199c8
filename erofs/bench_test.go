package erofs

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchImage builds a root-filesystem-like image: 3,000 small files in 30
// directories and 40 files of 256 KiB to 1 MiB (32 MiB in all), text-like
// and random data, with mkfs.erofs args.
func benchImage(b *testing.B, args ...string) (*Reader, int64) {
	b.Helper()
	needTools(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	rng := rand.New(rand.NewPCG(5, 6))
	var total int64
	for i := range 3000 {
		var buf bytes.Buffer
		for buf.Len() < 200+rng.IntN(6000) {
			fmt.Fprintf(&buf, "key%d=value %x\n", rng.IntN(1000), rng.Uint64()%4096)
		}
		p := filepath.Join(src, fmt.Sprintf("etc/d%02d/f%04d.conf", i%30, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(buf.Len())
	}
	for i := range 40 {
		n := 256<<10 + rng.IntN(768<<10)
		data := make([]byte, n)
		for j := 0; j < n; j += 8 {
			v := rng.Uint64()
			if i%3 != 0 {
				v %= 16 // compressible
			}
			for k := 0; k < 8 && j+k < n; k++ {
				data[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(src, fmt.Sprintf("usr/lib/lib%02d.so", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			b.Fatal(err)
		}
		total += int64(n)
	}
	img := filepath.Join(dir, "img")
	makeImage(b, src, img, args...)
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	r, err := Open(f, st.Size())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d bytes of files in an image of %d bytes", total, st.Size())
	return r, total
}

var benchConfigs = []struct {
	name string
	args []string
}{{"plain", nil}, {"lz4hc", []string{"-zlz4hc"}}, {"lz4-big-ztail", []string{"-zlz4", "-C65536", "-Eztailpacking"}}}

// BenchmarkWalk walks every node (inode, xattrs, directory listings).
func BenchmarkWalk(b *testing.B) {
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			r, _ := benchImage(b, c.args...)
			n := 0
			for b.Loop() {
				n = 0
				for _, err := range r.All() {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			b.ReportMetric(float64(n), "nodes")
		})
	}
}

// BenchmarkReadAll walks and reads every file's decoded bytes.
func BenchmarkReadAll(b *testing.B) {
	for _, c := range benchConfigs {
		b.Run(c.name, func(b *testing.B) {
			r, total := benchImage(b, c.args...)
			b.SetBytes(total)
			for b.Loop() {
				for e, err := range r.All() {
					if err != nil {
						b.Fatal(err)
					}
					if !e.IsRegular() {
						continue
					}
					f, err := r.Open(e)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
