package guard

import (
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	want := errors.New("plain")
	if err := Run(func() error { return want }); err != want {
		t.Errorf("Run returned %v, want f's own error", err)
	}
	err := Run(func() error {
		var m map[string]int
		m["x"] = 1 // a bug
		return nil
	})
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "internal error (please report): assignment to entry in nil map") ||
		!strings.Contains(string(pe.Stack), "guard.TestRun") {
		t.Errorf("Run of a panicking f: %v", err)
	}
}
