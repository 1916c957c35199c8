package iso9660_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

// The Rock Ridge amplifier of issue 10, through the whole comparison: 5,000
// symlink records whose continuation points at one shared, self-looping
// area made 3.7 GB and exit 1. The damage is now one problem of the toc
// stage at the area's offset, naming how many paths carry it, exit 2.
func TestSharedContinuationAreaIsTrouble(t *testing.T) {
	const n = 5000
	img, areaOff := iso9660.SharedAreaImage(n)
	other := bytes.Clone(img)
	copy(other[16*iso9660.SectorSize+40:], "OTHER") // a different volume id
	rep, err := isodiff.CompareInputs(context.Background(),
		isodiff.Input{Name: "a.iso", R: bytes.NewReader(other), Size: int64(len(other))},
		isodiff.Input{Name: "b.iso", R: bytes.NewReader(img), Size: int64(len(img))},
		isodiff.Options{NoDiffoscope: true, MemoryBudget: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit %d, want 2", rep.ExitCode())
	}
	toc := rep.Stage(report.StageTOC)
	var perSide [2]int
	for _, p := range toc.Problems {
		if p.Offset != areaOff || !strings.Contains(p.Message, "5000 paths (") {
			if len(toc.Problems) < 10 {
				t.Errorf("toc problem: %s", p)
			}
			continue
		}
		switch p.File {
		case "a.iso":
			perSide[0]++
		case "b.iso":
			perSide[1]++
		}
	}
	// A problem keeps its error: the reader's FormatError, with the offset.
	for _, p := range toc.Problems {
		var fe *iso9660.FormatError
		if !errors.As(p, &fe) || fe.Off != areaOff {
			t.Errorf("errors.As on the problem: %v (%+v)", fe, p.Err)
		}
	}
	if perSide != [2]int{1, 1} || len(toc.Problems) != 2 {
		t.Errorf("want one grouped problem per image, got %v of %d", perSide, len(toc.Problems))
	}
}
