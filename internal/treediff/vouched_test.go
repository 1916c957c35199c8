package treediff

import (
	"testing"

	"github.com/isodiff/isodiff/budget"
)

// TestVouched: a range counts once by its start (a longer one at the same
// start counts its extra bytes), a nil Vouched counts every time, and when
// the budget cannot hold more entries the rest count every time, without
// a refusal being recorded.
func TestVouched(t *testing.T) {
	var none *Vouched
	if none.add(0, 10) != 10 || none.add(0, 10) != 10 {
		t.Error("a nil Vouched must count every time")
	}
	v := &Vouched{}
	for _, tc := range []struct{ off, n, want int64 }{
		{0, 100, 100}, {0, 100, 0}, {0, 60, 0}, {0, 150, 50}, {100, 100, 100}, {100, 100, 0},
	} {
		if got := v.add(tc.off, tc.n); got != tc.want {
			t.Errorf("add(%d, %d) = %d, want %d", tc.off, tc.n, got, tc.want)
		}
	}
	b := budget.New(vouchedCharge + vouchedCharge/2)
	v = &Vouched{Budget: b}
	total := int64(0)
	for i := range int64(3 * vouchedBatch) {
		total += v.add(i*10, 10)
		total += v.add(i*10, 10) // again: counted only while there was room
	}
	if want := int64(vouchedBatch*10 + 2*2*vouchedBatch*10); total != want {
		t.Errorf("counted %d bytes, want %d (one batch held, the rest counted each time)", total, want)
	}
	if n, _ := b.Refusals(); n != 0 {
		t.Errorf("%d refusals recorded for memory the count can do without", n)
	}
}
