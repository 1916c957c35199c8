package erofsdiff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompare compares two lz4hc images of a 2,000-file, 24 MiB tree
// whose only difference is 8 bytes in the middle of one 1 MiB file: the
// other files are proven equal by their stored bytes.
func BenchmarkCompare(b *testing.B) {
	needMkfs(b)
	dir := b.TempDir()
	a := filepath.Join(dir, "a")
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 2000 {
		buf := fmt.Appendf(nil, "file %d\n", i)
		for len(buf) < 100+rng.IntN(4000) {
			buf = fmt.Appendf(buf, "setting_%d = %d\n", rng.IntN(500), rng.IntN(100000))
		}
		p := filepath.Join(a, fmt.Sprintf("etc/d%02d/f%04d", i%20, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, buf, 0o644)
	}
	for i := range 20 {
		buf := make([]byte, 1<<20)
		for j := range buf {
			buf[j] = byte(rng.IntN(16) + 'a')
		}
		p := filepath.Join(a, fmt.Sprintf("usr/lib/lib%02d.so", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, buf, 0o755)
	}
	settle(b, a)
	bdir := filepath.Join(dir, "b")
	copyTree(b, a, bdir)
	p := filepath.Join(bdir, "usr/lib/lib07.so")
	buf, _ := os.ReadFile(p)
	copy(buf[500000:], "CHANGED!")
	os.WriteFile(p, buf, 0o755)
	settle(b, bdir)
	ra := mkfs(b, a, a+".img", "-zlz4hc")
	rb := mkfs(b, bdir, bdir+".img", "-zlz4hc")
	var content *ContentResult
	for b.Loop() {
		var err error
		_, content, err = Compare(context.Background(), ra, rb, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	if len(content.Findings) != 1 {
		b.Fatalf("%d findings", len(content.Findings))
	}
	b.ReportMetric(float64(content.SameByRaw), "same-by-stored-bytes")
	b.ReportMetric(float64(content.Compared), "pairs")
}
