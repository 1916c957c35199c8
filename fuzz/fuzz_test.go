package fuzz

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/internal/parttable"
	"github.com/isodiff/isodiff/internal/squashfs"
	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

// maxAlloc bounds the bytes one input may allocate: a few block-sized
// buffers and caches, never anything proportional to a length read from
// the input.
const maxAlloc = 256 << 20

// maxRead bounds how much content a target reads per input, so a legal but
// huge sparse file does not make one input slow.
const maxRead = 8 << 20

func seeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s (run testdata/make-seeds.sh)", pattern)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocated() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// bounded runs fn and fails when it allocated more than maxAlloc bytes.
func bounded(t *testing.T, fn func()) {
	before := allocated()
	fn()
	if n := allocated() - before; n > maxAlloc {
		t.Fatalf("allocated %d bytes for a %d-byte input", n, maxAlloc)
	}
}

func FuzzISO(f *testing.F) {
	seeds(f, "*.iso")
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func() {
			im, err := iso9660.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				mustBeFormatError(t, err)
				return
			}
			for _, v := range append([]*iso9660.VolumeDescriptor{im.Primary}, im.Supplementary...) {
				if v != nil {
					v.Fields()
				}
			}
			w := im.Walk()
			for n := 0; n < 100000; n++ {
				e, err := w.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					mustBeFormatError(t, err)
					break
				}
				io.Copy(io.Discard, io.LimitReader(im.Open(e), maxRead))
			}
			if c, err := im.BootCatalog(); err == nil {
				c.Fields()
				for _, e := range c.Entries {
					e.Fields()
					if sec, err := im.BootImage(e); err == nil {
						io.Copy(io.Discard, io.LimitReader(sec, maxRead))
					}
				}
			}
		})
	})
}

func mustBeFormatError(t *testing.T, err error) {
	t.Helper()
	var ie *iso9660.FormatError
	var se *squashfs.FormatError
	var pe *parttable.FormatError
	if !errors.As(err, &ie) && !errors.As(err, &se) && !errors.As(err, &pe) &&
		!errors.Is(err, parttable.ErrNoMBR) && !errors.Is(err, iso9660.ErrNoBootCatalog) {
		t.Fatalf("error without offset: %v", err)
	}
}

func FuzzPartitionTables(f *testing.F) {
	for _, p := range []string{"../testdata/demo/a.iso", "../testdata/demo/b.iso"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:32768]) // the system area: MBR, GPT header and entries
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func() {
			if m, err := parttable.ParseMBR(b); err == nil {
				m.Fields()
				for i := range m.Partitions {
					m.Partitions[i].Fields()
				}
			} else {
				mustBeFormatError(t, err)
			}
			g, err := parttable.ReadGPT(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				mustBeFormatError(t, err)
				return
			}
			if g != nil {
				g.Fields()
				for i := range g.Partitions {
					g.Partitions[i].Fields()
				}
			}
		})
	})
}

func FuzzSquashfs(f *testing.F) {
	seeds(f, "*.sqfs")
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func() {
			r, err := squashfs.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				mustBeFormatError(t, err)
				return
			}
			r.Super.Fields()
			r.Options.Fields()
			w := r.Walk()
			for n := 0; n < 100000; n++ {
				e, err := w.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					mustBeFormatError(t, err)
					break
				}
				if !e.IsRegular() {
					continue
				}
				if fr, err := r.Open(e); err == nil {
					io.Copy(io.Discard, io.LimitReader(fr, maxRead))
				}
				for blk := range r.Blocks(e) {
					if blk.Index > 64 {
						break
					}
					r.ReadBlock(nil, blk)
				}
				r.ReadTail(nil, e)
			}
		})
	})
}

// FuzzCompare runs the whole staged comparison of a real image against a
// mutated copy (or the seed pair): every stage must run, a panic in any of
// them (which the pipeline records as an internal error) fails the target,
// and every problem must name its file and stage.
func FuzzCompare(f *testing.F) {
	a, err := os.ReadFile("testdata/seeds/boot.iso")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a)
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func() {
			rep, err := isodiff.CompareInputs(context.Background(),
				isodiff.Input{Name: "a.iso", R: bytes.NewReader(a), Size: int64(len(a))},
				isodiff.Input{Name: "b.iso", R: bytes.NewReader(b), Size: int64(len(b))},
				isodiff.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Stages) < 5 || rep.Stage(report.StageContent) == nil {
				t.Fatalf("stages missing: %+v", rep.Stages)
			}
			for _, s := range rep.Stages {
				for _, p := range s.Problems {
					if strings.Contains(p.Message, "internal error") {
						t.Fatalf("stage %s panicked: %s", s.Name, p.Message)
					}
					if p.File == "" || p.Stage == "" {
						t.Fatalf("problem without file or stage: %+v", p)
					}
				}
			}
			if err := report.WriteSummary(io.Discard, rep); err != nil {
				t.Fatal(err)
			}
			if err := report.WriteJSON(io.Discard, rep); err != nil {
				t.Fatal(err)
			}
		})
	})
}
