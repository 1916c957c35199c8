package explain

import (
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want string
	}{
		{"built 2024-03-01 12:00:00", "built 2024-03-02 09:13:07", hintTextTimestamp},
		{"Bench Live 2024030112000000", "Bench Live 2024030212000000", hintTextTimestamp}, // xorriso's --modification-date form
		{"stamp 20240301T120000Z", "stamp 20240302T101010Z", hintTextTimestamp},
		{"id 3f2a9c41e8b07d55", "id 91cc04ad7e2b6f13", hintRandomID},
		{"src /build/pkg-a1/x.c", "src /build/pkg-b2/x.c", hintBuildPath},
	} {
		if got := classify(tc.a, tc.b, hintTextTimestamp); !slices.Contains(got, tc.want) {
			t.Errorf("classify(%q, %q) = %v, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}
