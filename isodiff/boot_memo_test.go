package isodiff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// An El Torito catalog whose entries all point at one boot image: the
// image is hashed once per side, not once per entry (issue 10: any
// reference an image can repeat is an amplifier).
func TestBootEntriesSharingAnImageHashItOnce(t *testing.T) {
	testimg.Need(t, "xorriso")
	const entries, imgSize = 24, 4 << 20
	src := t.TempDir()
	boot := bytes.Repeat([]byte{0xeb, 0x3c, 0x90}, imgSize/3+1)[:imgSize]
	if err := os.WriteFile(filepath.Join(src, "boot.img"), boot, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-R", "-V", "MANY"}
	for i := 0; i < entries; i++ {
		if i > 0 {
			args = append(args, "-eltorito-alt-boot")
		}
		args = append(args, "-e", "boot.img", "-no-emul-boot")
	}
	iso := testimg.MakeISO(t, src, filepath.Join(t.TempDir(), "many.iso"), args...)
	a, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(a)
	copy(b[16*2048+40:], "OTHER") // a different volume id: the images differ
	ca, cb := &countingReader{r: bytes.NewReader(a)}, &countingReader{r: bytes.NewReader(b)}
	rep, err := CompareInputs(context.Background(), Input{Name: "a", R: ca, Size: int64(len(a))},
		Input{Name: "b", R: cb, Size: int64(len(b))}, Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Stage(report.StageHeader); len(st.Problems) > 0 {
		t.Fatalf("header problems: %v", st.Problems)
	}
	// One hashing pass of the image, one read of the boot image for its
	// hash, one by the content stage comparing /boot.img, a few small
	// reads; without the memo, 24 reads of the boot image (about 100 MB).
	for i, c := range []*countingReader{ca, cb} {
		if got, limit := c.n.Load(), int64(len(a))+2*imgSize+(2<<20); got > limit {
			t.Errorf("side %d read %d bytes for a %d-byte image with %d entries on one %d-byte boot image (limit %d)",
				i, got, len(a), entries, imgSize, limit)
		}
	}
}
