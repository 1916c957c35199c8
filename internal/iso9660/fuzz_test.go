package iso9660

import (
	"errors"
	"testing"

	"github.com/isodiff/isodiff/internal/budget"
)

// fuzzBudget is the fixed budget FuzzWalk gives every input of up to
// fuzzMaxInput bytes: what a walk holds is linear in the image (at most
// one child list per open directory, each child charged about 600 bytes
// for a record of at least 34, names and targets no longer than the SUSP
// bytes they come from, continuation areas decoded once), so no input may
// need more.
const (
	fuzzBudget   = 32 << 20
	fuzzMaxInput = 1 << 20
)

// FuzzWalk opens, walks and reads any input with a fixed budget: no panic,
// no hang, errors are FormatErrors, the budget is never exceeded, and all
// of it is given back at the end. Seeds are real images built at test time
// and the crafted image of a shared, self-looping continuation area.
func FuzzWalk(f *testing.F) {
	f.Add(smallImage(f, "-R", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-iso-level", "1", "-no-pad"))
	shared, _ := sharedAreaImage(200)
	f.Add(shared)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > fuzzMaxInput {
			return
		}
		bud := budget.New(fuzzBudget)
		_, err := walkBytesOptions(b, Options{Budget: bud})
		if err != nil && !isFormatError(err) {
			t.Fatalf("%v is not a FormatError", err)
		}
		if errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("an input of %d bytes needed more than the fixed %s: %v", len(b), budget.Size(fuzzBudget), err)
		}
		if bud.Used() != 0 {
			t.Fatalf("%d bytes still charged after the walk and Close", bud.Used())
		}
	})
}

// TestWalkBudgetReleased: walking real images with a budget gives every
// byte back, and the peak stays far below the fuzz budget.
func TestWalkBudgetReleased(t *testing.T) {
	for _, args := range [][]string{{"-R", "-J"}, {"--norock", "-J"}, {"--norock"}} {
		b := smallImage(t, args...)
		bud := budget.New(fuzzBudget)
		n, err := walkBytesOptions(b, Options{Budget: bud})
		if err != nil {
			t.Fatal(err)
		}
		if bud.Used() != 0 || bud.Peak() == 0 || bud.Peak() > 1<<20 {
			t.Errorf("%v: %d nodes, used %d, peak %d", args, n, bud.Used(), bud.Peak())
		}
	}
}
