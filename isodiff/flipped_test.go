package isodiff

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/report"
)

// Issue 10: 16 bytes flipped inside the squashfs's data made the squashfs
// stage say "same" and the short answer "no difference found", while the
// content stage had found where the images differ; and a damaged fragment
// block was one problem per file stored in it.
func TestFlippedSquashfsDataIsShown(t *testing.T) {
	a, err := os.ReadFile("../testdata/demo/a.iso")
	if err != nil {
		t.Fatal(err)
	}
	probe, err := CompareInputs(context.Background(), input("a", a), input("b", a), Options{})
	if err != nil || !probe.Identical {
		t.Fatalf("a against itself: %v", err)
	}
	// Find the squashfs the way the report gives it, then flip its data.
	rep, err := CompareInputs(context.Background(), input("a", a), input("b", flipAt(a, 0, 1)), Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Containers) == 0 || rep.Containers[0].A == nil {
		t.Fatalf("no squashfs found: %+v", rep.Containers)
	}
	off := rep.Containers[0].A.Offset + 100
	b := flipAt(a, off, 16)
	rep, err = CompareInputs(context.Background(), input("a", a), input("b", b), Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Stage(report.StageSquashfs); st.Status == report.StatusSame {
		t.Errorf("squashfs stage says same although the squashfs images differ")
	}
	content := rep.Stage(report.StageContent)
	if len(content.Problems) != 1 || !strings.Contains(content.Problems[0].Message, "and 44 more") ||
		content.Problems[0].Offset != rep.Containers[0].B.Offset+96 {
		t.Errorf("content problems, want one naming the fragment block at its offset: %+v", content.Problems)
	}
	var sum bytes.Buffer
	if err := report.WriteSummary(&sum, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sum.String(), "no difference found") || !strings.Contains(sum.String(), "/live/filesystem.squashfs") {
		t.Errorf("the short answer hides the difference:\n%s", sum.String())
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d, want 2 (damaged data)", rep.ExitCode())
	}
}

func input(name string, b []byte) Input {
	return Input{Name: name, R: bytes.NewReader(b), Size: int64(len(b))}
}

// flipAt returns a copy of b with n bytes at off inverted.
func flipAt(b []byte, off int64, n int) []byte {
	c := bytes.Clone(b)
	for i := range n {
		c[off+int64(i)] ^= 0xff
	}
	return c
}

// A departure from ISO 9660 that Linux and xorriso tolerate (a root
// directory record whose size is absurd: they read the root's "." record)
// is read as they read it, and said first: it is not hidden, and it is not
// trouble (the comparison is complete).
func TestRepairIsSaidFirst(t *testing.T) {
	a, err := os.ReadFile("../testdata/demo/a.iso")
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(a)
	const rootSize = 16*2048 + 156 + 10 // the PVD's root record's data length, both-endian
	copy(b[rootSize:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	rep, err := CompareInputs(context.Background(), input("a.iso", a), input("b.iso", b), Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode() != 1 || rep.Failed() {
		t.Errorf("exit %d, failed %v; want 1, a complete comparison", rep.ExitCode(), rep.Failed())
	}
	var sum bytes.Buffer
	if err := report.WriteSummary(&sum, rep); err != nil {
		t.Fatal(err)
	}
	_, answer, _ := strings.Cut(sum.String(), "\n\n")
	_, answer, _ = strings.Cut(answer, "\n\n") // after the images and the stages
	if !strings.HasPrefix(answer, "image B (b.iso) departs from the standard: root directory size") ||
		!strings.Contains(answer, "offset 32934") {
		t.Errorf("the answer does not start with the repair:\n%s", answer)
	}
}
