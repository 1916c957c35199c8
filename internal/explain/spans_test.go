package explain

import (
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// countingAt counts the bytes read through it outside the ranges a test
// allows.
type countingAt struct {
	r       io.ReaderAt
	allowed []Range
	outside atomic.Int64
}

func (c *countingAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	for i := off; i < off+int64(n); i++ {
		in := false
		for _, a := range c.allowed {
			in = in || i >= a.Start && i < a.End
		}
		if !in {
			c.outside.Add(1)
		}
	}
	return n, err
}

func spanInputs(a, b []byte, allowed []Range) (Input, Input, *countingAt, *countingAt) {
	ca := &countingAt{r: bytes.NewReader(a), allowed: allowed}
	cb := &countingAt{r: bytes.NewReader(b), allowed: allowed}
	in := func(data []byte, at io.ReaderAt) Input {
		return Input{Name: "f", Size: int64(len(data)), At: at, Open: func() (io.Reader, error) { return bytes.NewReader(data), nil }}
	}
	return in(a, ca), in(b, cb), ca, cb
}

// TestSpansBoundBytes: with spans, a byte comparison reads only the spans
// (and the windows around what differs), and what lies outside them is
// taken as equal, as promised.
func TestSpansBoundBytes(t *testing.T) {
	a := bytes.Repeat([]byte("0123456789abcdef\x00\x01"), 60000) // about 1 MiB of data
	b := bytes.Clone(a)
	b[600000] ^= 1
	b[620000] ^= 1
	b[5] ^= 1 // outside the spans: a caller that lies is believed
	spans := []Range{{589824, 655360}}
	// The spans with the windows around them, and the head read for the
	// format's magic.
	window := []Range{{0, headSize}, {589824 - 2*strContext, 655360 + 2*strContext}}
	ia, ib, ca, cb := spanInputs(a, b, window)
	r, err := Explain(context.Background(), ia, ib, Options{TempDir: t.TempDir(), Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, r, "2 differing byte ranges", "first at byte 600000")
	if ca.outside.Load()+cb.outside.Load() != 0 {
		t.Errorf("read %d and %d bytes outside the spans", ca.outside.Load(), cb.outside.Load())
	}
	// Without spans the same pair shows all three differences.
	r, err = Explain(context.Background(), ia, ib, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, r, "3 differing byte ranges", "first at byte 5")
	// Spans that do not fit the inputs are ignored.
	r, err = Explain(context.Background(), ia, ib, Options{TempDir: t.TempDir(), Spans: []Range{{10, int64(len(a)) + 1}}})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, r, "3 differing byte ranges")
}

// TestSpansELFBuildID: the build-id-only verdict on two real binaries, given
// the one span holding the note, reads the ELF structure and that span
// only, not the code and data sections.
func TestSpansELFBuildID(t *testing.T) {
	testimg.Need(t, "gcc", "strip")
	root := t.TempDir()
	pa := buildELF(t, filepath.Join(root, "build-1"), true)
	pb := buildELF(t, filepath.Join(root, "build-2"), true)
	a, _ := os.ReadFile(pa)
	b, _ := os.ReadFile(pb)
	if len(a) != len(b) {
		t.Fatalf("sizes %d and %d", len(a), len(b))
	}
	first := -1
	last := -1
	for i := range a {
		if a[i] != b[i] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		t.Fatal("the two builds are identical")
	}
	// A 4 KiB "block" around the differences, as the content stage gives.
	span := Range{int64(first) &^ 4095, min(int64(last+4096)&^4095, int64(len(a)))}
	// Every byte may be read but those of .text outside the span: the code
	// lies outside it and must be taken as equal unread.
	f, err := elf.NewFile(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	text := f.Section(".text")
	if text == nil {
		t.Fatal("no .text")
	}
	lo, hi := int64(text.Offset), int64(text.Offset+text.Size)
	allowed := []Range{{0, lo}, {hi, int64(len(a))}, span}
	ia, ib, ca, cb := spanInputs(a, b, allowed)
	r, err := Explain(context.Background(), ia, ib, Options{TempDir: t.TempDir(), Spans: []Range{span}})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, r, "only the build id differs")
	if !r.Complete {
		t.Error("not complete")
	}
	if n := ca.outside.Load() + cb.outside.Load(); n != 0 {
		t.Errorf("read %d bytes of .text [%d, %d) outside the span %v: the spans were not used", n, lo, hi, span)
	}
	if strings.Contains(r.Summary, "sections") {
		t.Errorf("summary %q", r.Summary)
	}
}
