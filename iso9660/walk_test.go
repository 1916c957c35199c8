package iso9660

import (
	"path/filepath"
	"strconv"
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
		{"plain-level2", []string{"--norock", "-iso-level", "2"}, false, NamespaceISO9660, false},
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
			for _, e := range entries {
				if e.Damage != nil {
					t.Errorf("%s: %v", e.Path, e.Damage)
				}
			}
			compareLsdl(t, entries, xorrisoLsdl(t, img))
			if c.namespace == NamespaceRockRidge {
				checkNlink(t, entries, isoinfoNlink(t, img))
				checkHardLinks(t, entries)
			}
			if c.content {
				n := compareContent(t, im, entries, src)
				if n < 2000 {
					t.Errorf("only %d files compared", n)
				}
			}
		})
	}
}

func checkNlink(t *testing.T, entries []*Entry, want map[string]string) {
	t.Helper()
	for _, e := range entries {
		if e.Path == "/" {
			continue
		}
		w, ok := want[e.Path]
		if !ok {
			t.Errorf("%s: not listed by isoinfo", e.Path)
			continue
		}
		if got := strconv.Itoa(int(e.Nlink)); got != w {
			t.Errorf("%s: nlink %s, isoinfo says %s", e.Path, got, w)
		}
	}
	if len(want) != len(entries)-1 {
		t.Errorf("isoinfo lists %d nodes, walk %d", len(want), len(entries)-1)
	}
}

// checkHardLinks: the three names of one file share an inode number that no
// other node has.
func checkHardLinks(t *testing.T, entries []*Entry) {
	t.Helper()
	byPath := map[string]*Entry{}
	for _, e := range entries {
		byPath[e.Path] = e
	}
	h1, h2, h3 := byPath["/hard1"], byPath["/hard2"], byPath["/dir/hard3"]
	if h1 == nil || h2 == nil || h3 == nil {
		t.Fatal("hard links missing")
	}
	if h1.Nlink != 3 || h1.Inode != h2.Inode || h1.Inode != h3.Inode {
		t.Errorf("hard links: nlink %d, inodes %d %d %d", h1.Nlink, h1.Inode, h2.Inode, h3.Inode)
	}
	for _, e := range entries {
		if e.Inode == h1.Inode && e != h1 && e != h2 && e != h3 {
			t.Errorf("%s shares inode %d with the hard links", e.Path, e.Inode)
		}
	}
}
