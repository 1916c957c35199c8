package iso9660

import (
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// TestWalkMatchesXorriso builds images of the source tree in each flavour
// and checks the walk against xorriso's own listing and the content against
// the source files.
func TestWalkMatchesXorriso(t *testing.T) {
	testimg.Need(t, "xorriso")
	src := sourceTree(t)
	cases := []struct {
		name      string
		args      []string
		hybrid    bool
		namespace string
		content   bool
	}{
		{"rockridge", []string{"-R"}, false, NamespaceRockRidge, true},
		{"rockridge-joliet", []string{"-R", "-J", "-joliet-long"}, false, NamespaceRockRidge, true},
		{"joliet", []string{"--norock", "-J", "-joliet-long"}, false, NamespaceJoliet, false},
		{"plain-level3", []string{"--norock", "-iso-level", "3"}, false, NamespaceISO9660, false},
		{"plain-level1", []string{"--norock", "-iso-level", "1"}, false, NamespaceISO9660, false},
		{"hybrid", nil, true, NamespaceRockRidge, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), c.name+".iso")
			if c.hybrid {
				testimg.MakeHybridISO(t, src, img, "-V", "HYBRID")
			} else {
				testimg.MakeISO(t, src, img, c.args...)
			}
			im, _ := openImage(t, img)
			if im.Namespace != c.namespace {
				t.Fatalf("namespace %q, want %q", im.Namespace, c.namespace)
			}
			entries := walkAll(t, im)
			compareLsdl(t, entries, xorrisoLsdl(t, img))
			if c.content {
				n := compareContent(t, im, entries, src)
				if n < 2000 {
					t.Errorf("only %d files compared", n)
				}
			}
		})
	}
}
