package importer

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks read a bigger tree than the table's: a copy of
// /usr/share/doc and of the largest /usr/bin programs (about 160 MB), as an
// ISO and as squashfs images per compressor, built once per run in
// os.TempDir() and removed by TestMain; or, when ISODIFF_BENCH_DIR names a
// directory, built there once and kept for later runs.

var (
	benchOnce sync.Once
	benchDir  string
	benchImgs []*benchImage
	benchErr  error
	benchSkip string
)

type benchImage struct {
	name, format, path string
	files              int
	bytes              int64 // regular file bytes in the tree
}

// benchSquashfs are the compressors benchmarked: the table's, and xz
// without BCJ, which every library can read.
var benchSquashfs = []struct {
	name string
	args []string
}{
	{"gzip", []string{"-comp", "gzip"}},
	{"xz", []string{"-comp", "xz"}},
	{"xz-bcj", []string{"-comp", "xz", "-Xbcj", "x86"}},
	{"lz4", []string{"-comp", "lz4"}},
	{"zstd", []string{"-comp", "zstd"}},
}

func removeBenchData() {
	if benchDir != "" && os.Getenv("ISODIFF_BENCH_DIR") == "" {
		os.RemoveAll(benchDir)
	}
}

// benchData builds the benchmark images once.
func benchData(b *testing.B) []*benchImage {
	b.Helper()
	for _, tool := range []string{"xorriso", "mksquashfs", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipped: tool missing: %s", tool)
		}
	}
	benchOnce.Do(func() {
		kept := os.Getenv("ISODIFF_BENCH_DIR")
		if kept != "" {
			benchDir, benchErr = kept, os.MkdirAll(kept, 0o755)
		} else {
			benchDir, benchErr = os.MkdirTemp("", "importer-bench-")
		}
		if benchErr != nil {
			return
		}
		src := filepath.Join(benchDir, "src")
		done := filepath.Join(benchDir, "complete")
		if _, err := os.Stat(done); err != nil {
			if err := os.RemoveAll(src); err != nil {
				benchErr = err
				return
			}
			if benchErr = os.MkdirAll(filepath.Join(src, "usr/share"), 0o755); benchErr != nil {
				return
			}
			if _, err := os.Stat("/usr/share/doc"); err != nil {
				benchSkip = "no /usr/share/doc to copy"
				return
			}
			if out, err := exec.Command("cp", "-a", "/usr/share/doc", filepath.Join(src, "usr/share/doc")).CombinedOutput(); err != nil {
				benchErr = fmt.Errorf("cp: %v: %s", err, out)
				return
			}
			if benchErr = copyLargestPrograms(filepath.Join(src, "usr/bin"), 40<<20); benchErr != nil {
				return
			}
		}
		var files int
		var bytes int64
		benchErr = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				files++
				bytes += fi.Size()
			}
			return nil
		})
		if benchErr != nil {
			return
		}
		start := time.Now()
		_, err := os.Stat(done)
		build := err != nil
		iso := &benchImage{name: "ISO (Rock Ridge + Joliet)", format: "iso9660", path: filepath.Join(benchDir, "bench.iso"), files: files, bytes: bytes}
		if build {
			makeISO(b, src, iso.path, "-R", "-J")
		}
		benchImgs = append(benchImgs, iso)
		for _, v := range benchSquashfs {
			img := &benchImage{name: "squashfs " + v.name, format: "squashfs", path: filepath.Join(benchDir, v.name+".squashfs"), files: files, bytes: bytes}
			if build {
				makeSquashfs(b, src, img.path, v.args...)
			}
			benchImgs = append(benchImgs, img)
		}
		if build {
			benchErr = os.WriteFile(done, nil, 0o644)
		}
		b.Logf("benchmark tree: %d files, %.1f MB; images built in %v", files, float64(bytes)/1e6, time.Since(start).Round(time.Second))
		for _, img := range benchImgs {
			if fi, err := os.Stat(img.path); err == nil {
				b.Logf("  %s: %.1f MB", img.name, float64(fi.Size())/1e6)
			}
		}
	})
	if benchSkip != "" {
		b.Skip("skipped: " + benchSkip)
	}
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchImgs
}

// copyLargestPrograms copies the largest ELF files of /usr/bin into dir, up
// to max bytes in all.
func copyLargestPrograms(dir string, max int64) error {
	ents, err := os.ReadDir("/usr/bin")
	if err != nil {
		return err
	}
	type prog struct {
		name string
		size int64
	}
	var progs []prog
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		progs = append(progs, prog{e.Name(), fi.Size()})
	}
	sort.Slice(progs, func(i, j int) bool { return progs[i].size > progs[j].size })
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var total int64
	for _, p := range progs {
		if total+p.size > max {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/usr/bin", p.name))
		if err != nil || len(data) < 4 || string(data[:4]) != "\x7fELF" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, p.name), data, 0o755); err != nil {
			return err
		}
		total += p.size
	}
	return nil
}

// readEverything lists the image and reads every regular file's bytes
// into io.Discard. CalebQ42's files are read through Read alone: its
// WriteTo, which io.Copy would pick, deadlocks on multi-block files.
// It returns the bytes read and the files that failed.
func readEverything(lib library, path string) (int64, int, error) {
	o, err := lib.open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open: %w", err)
	}
	defer o.close()
	nodes, err := o.list()
	if err != nil {
		return 0, 0, fmt.Errorf("walk: %w", err)
	}
	var total int64
	failed := 0
	for _, n := range nodes {
		if n.Type != "-" {
			continue
		}
		r, err := o.content(n)
		if err != nil {
			failed++
			continue
		}
		if lib.name == "CalebQ42" {
			r = readerOnly{r}
		}
		k, err := io.Copy(io.Discard, r)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		total += k
		if err != nil {
			failed++
		}
	}
	return total, failed, nil
}

// BenchmarkReadAll walks every entry and reads every byte of the benchmark
// images with each library: MB/s of file content, allocations, and the
// files a library failed to read (failed-files/op; its MB/s then counts
// only what it read).
func BenchmarkReadAll(b *testing.B) {
	imgs := benchData(b)
	for _, img := range imgs {
		for _, lib := range libraries {
			if lib.format != img.format {
				continue
			}
			b.Run(img.name+"/"+lib.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(img.bytes)
				var failed int
				var cpu time.Duration
				for b.Loop() {
					before := cpuTime()
					type res struct {
						n      int64
						failed int
					}
					r, err := guard(10*time.Minute, func() (res, error) {
						n, f, err := readEverything(lib, img.path)
						return res{n, f}, err
					})
					if err != nil {
						b.Skipf("%s cannot read %s: %v", lib.name, img.name, err)
					}
					failed = r.failed
					cpu += cpuTime() - before
				}
				// CPU time is what the machine (2 cores, shared) cannot
				// blur as it blurs wall time.
				b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(float64(img.bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
				b.ReportMetric(float64(failed), "failed-files/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
