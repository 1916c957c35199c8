package iso9660

import (
	"testing"
)

// FuzzWalk opens, walks and reads any input: no panic, no hang, errors are
// FormatErrors. Seeds are real images built at test time.
func FuzzWalk(f *testing.F) {
	f.Add(smallImage(f, "-R", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-iso-level", "1", "-no-pad"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := walkBytes(b); err != nil && !isFormatError(err) {
			t.Fatalf("%v is not a FormatError", err)
		}
	})
}
