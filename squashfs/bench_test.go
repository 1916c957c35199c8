package squashfs

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// benchSources is about 58 MB in 5,000 files: Go's own sources.
var benchSources = []string{"runtime", "net", "crypto", "internal", "vendor"}

var bench struct {
	sync.Mutex
	dir  string
	imgs map[string]string
}

// RemoveBenchImages deletes the images the benchmarks built. A test binary
// has one TestMain: the external test package's (example_test.go) calls
// this after the tests.
func RemoveBenchImages() {
	bench.Lock()
	defer bench.Unlock()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
		bench.dir, bench.imgs = "", nil
	}
}

// benchImage builds (once per process) an image of benchSources with
// compressor comp.
func benchImage(b *testing.B, comp string) *Reader {
	b.Helper()
	bench.Lock()
	defer bench.Unlock()
	if bench.imgs == nil {
		dir, err := os.MkdirTemp("", "squashfs-bench")
		if err != nil {
			b.Fatal(err)
		}
		bench.dir, bench.imgs = dir, map[string]string{}
	}
	img, ok := bench.imgs[comp]
	if !ok {
		goroot := filepath.Join(os.Getenv("GOROOT"), "src")
		if _, err := os.Stat(filepath.Join(goroot, "runtime")); err != nil {
			goroot = "/usr/local/go/src"
		}
		var srcs []string
		for _, s := range benchSources {
			srcs = append(srcs, filepath.Join(goroot, s))
		}
		img = filepath.Join(bench.dir, comp+".img")
		testimg.Need(b, "mksquashfs")
		args := append(srcs, img, "-noappend", "-quiet", "-no-progress", "-comp", comp, "-keep-as-directory")
		testimg.Run(b, bench.dir, "mksquashfs", args...)
		bench.imgs[comp] = img
	}
	return openImage(b, img)
}

func BenchmarkWalk(b *testing.B) {
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		b.Run(comp, func(b *testing.B) {
			r := benchImage(b, comp)
			nodes := 0
			b.ResetTimer()
			for range b.N {
				r = benchImage(b, comp) // a fresh Reader: cold caches
				w := r.Walk()
				for nodes = 0; ; nodes++ {
					if _, err := w.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(nodes)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}

func BenchmarkReadAll(b *testing.B) {
	for _, comp := range []string{"gzip", "xz", "lz4", "zstd"} {
		b.Run(comp, func(b *testing.B) {
			r := benchImage(b, comp)
			var total int64
			b.ResetTimer()
			for range b.N {
				total = 0
				w := r.Walk()
				for {
					e, err := w.Next()
					if err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
					if !e.IsRegular() {
						continue
					}
					f, err := r.Open(e)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, f)
					if err != nil {
						b.Fatal(err)
					}
					total += n
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MB/s")
		})
	}
}
