package explain

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
)

// FuzzExplain feeds mutated archives, compressed streams and headers to
// Explain, against the same input with one byte changed: it must neither
// panic nor run away, whatever the lengths inside say. Each input runs
// under a fixed budget of fuzzBudget, which must be all released after,
// allocates at most fuzzMaxAlloc in all, and leaves no temporary file.
func FuzzExplain(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Name = "x.txt"
	zw.Write([]byte("hello\nworld\n"))
	zw.Close()
	f.Add(gz.Bytes(), uint16(3))
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("abc"))
	tw.Close()
	f.Add(tb.Bytes(), uint16(600))
	var zb bytes.Buffer
	zz := zip.NewWriter(&zb)
	w, _ := zz.Create("META-INF/MANIFEST.MF")
	w.Write([]byte("Manifest-Version: 1.0\n"))
	zz.Close()
	f.Add(zb.Bytes(), uint16(40))
	f.Add([]byte("070701000000010000816400000000000000000000000100000000000000030000000000000000000000000000000000000002000000006100\x00\x00abc\x00070701000000000000000000000000000000000000000100000000000000000000000000000000000000000000000b00000000TRAILER!!!\x00\x00\x00\x00"), uint16(112))
	f.Add([]byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"), uint16(70))
	f.Add(append([]byte{0xcb, 0x0d, '\r', '\n', 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0}, []byte("\xe3code object bytes")...), uint16(9))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00\x01\x00\x00\x00"), uint16(20))
	f.Fuzz(func(t *testing.T, data []byte, pos uint16) {
		if len(data) == 0 || len(data) > 1<<16 {
			return
		}
		b := append([]byte(nil), data...)
		b[int(pos)%len(b)] ^= 0x41
		in := func(d []byte) Input {
			return Input{Name: "f", Size: int64(len(d)), Open: func() (io.Reader, error) { return bytes.NewReader(d), nil }}
		}
		// A fixed budget and a fixed allocation bound, whatever the input
		// says (not a bound growing with its size).
		bud := budget.New(fuzzBudget)
		ctx, cancel := context.WithTimeout(budget.NewContext(context.Background(), bud), 20*time.Second)
		defer cancel()
		tmp := t.TempDir()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := Explain(ctx, in(data), in(b), Options{TempDir: tmp, MaxStreamBytes: 1 << 22, MaxTotalBytes: 1 << 26, MaxSpoolBytes: 1 << 22})
		runtime.ReadMemStats(&after)
		var ee *budget.ExceededError
		if err != nil && !(errors.As(err, &ee) && r != nil && r.Err == err && !r.Complete) {
			t.Fatalf("Explain: %v", err)
		}
		if r.Summary == "" {
			t.Fatal("empty summary")
		}
		if bud.Peak() > fuzzBudget {
			t.Fatalf("budget peak %d over %d", bud.Peak(), fuzzBudget)
		}
		if bud.Used() != 0 {
			t.Fatalf("%d bytes still charged after Explain returned", bud.Used())
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fuzzMaxAlloc {
			t.Fatalf("allocated %d bytes for a %d-byte input, want at most %d", alloc, len(data), fuzzMaxAlloc)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	})
}

// FuzzExplain's fixed bounds: the budget, and what one input may allocate
// in all (the decoders' windows, the budget's worth of structures, and
// the buffers of the comparisons).
const (
	fuzzBudget   = 64 << 20
	fuzzMaxAlloc = 256 << 20
)
