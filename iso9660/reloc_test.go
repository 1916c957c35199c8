package iso9660

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// TestWalkOtherWriters reads images written by genisoimage (RRIP 1.10 PX
// without serial numbers; directories deeper than 8 levels relocated to
// rr_moved with CL/PL/RE) and by native xorriso with deep paths off (which
// relocates to the root), against xorriso's listing.
func TestWalkOtherWriters(t *testing.T) {
	testimg.Need(t, "xorriso", "genisoimage")
	src := sourceTree(t)
	dir := t.TempDir()

	t.Run("genisoimage", func(t *testing.T) {
		img := filepath.Join(dir, "geniso.iso")
		testimg.Run(t, dir, "genisoimage", "-quiet", "-R", "-J", "-joliet-long", "-hidden", "owned", "-o", img, src)
		im, _ := openImage(t, img)
		if im.Namespace != NamespaceRockRidge {
			t.Fatalf("namespace %q", im.Namespace)
		}
		entries := walkAll(t, im)
		want := xorrisoLsdl(t, img)
		// genisoimage records PN as the major and minor numbers in the
		// high and low words (as Linux reads them); libisofs joins the two
		// words into one 64-bit dev_t and splits that the glibc way, so
		// xorriso misreports every genisoimage device. Check that this is
		// what happened, and expect the true numbers.
		for path, dev := range map[string][2]uint64{"/cdev": {4, 5}, "/bdev": {8, 1}, "/bigdev": {259, 300}} {
			l := want[path]
			var xmaj, xmin uint64
			if _, err := fmt.Sscanf(l.size, "%d,%d", &xmaj, &xmin); err != nil {
				t.Fatalf("%s: xorriso size %q", path, l.size)
			}
			if glibcMakedev(xmaj, xmin) != dev[0]<<32|dev[1] {
				t.Errorf("%s: xorriso says %s, not the libisofs reading of %d,%d", path, l.size, dev[0], dev[1])
			}
			l.size = fmt.Sprintf("%d,%d", dev[0], dev[1])
			want[path] = l
		}
		compareLsdl(t, entries, want)
		compareContent(t, im, entries, src)
		checkHardLinks(t, entries)
		relocated := 0
		for _, e := range entries {
			if e.Relocated {
				relocated++
			}
			// genisoimage's SL entries for these targets are longer than
			// 255 bytes: the length byte wraps and the rest is garbage.
			if wantDamage := e.Path == "/link-long" || e.Path == "/link-bigcomp"; wantDamage != (e.Damage != nil) {
				t.Errorf("%s: damage %v", e.Path, e.Damage)
			}
			// -hidden sets the existence bit; the file is still listed.
			if hidden := e.Flags&FlagHidden != 0; hidden != (e.Path == "/owned") {
				t.Errorf("%s: hidden flag %v", e.Path, hidden)
			}
			if e.Path == "/rr_moved" || filepath.Dir(e.Path) == "/rr_moved" {
				if e.Path != "/rr_moved" {
					t.Errorf("%s: relocated directory shown in rr_moved", e.Path)
				}
			}
		}
		if relocated == 0 {
			t.Error("no relocated directory: genisoimage should have relocated deep/1/.../8")
		}
	})

	t.Run("xorriso-deep-paths-off", func(t *testing.T) {
		img := filepath.Join(dir, "reloc.iso")
		testimg.Run(t, dir, "xorriso", "-outdev", img, "-compliance", "deep_paths_off",
			"-rockridge", "on", "-map", src, "/", "-commit")
		im, _ := openImage(t, img)
		entries := walkAll(t, im)
		compareLsdl(t, entries, xorrisoLsdl(t, img))
		compareContent(t, im, entries, src)
		relocated := 0
		for _, e := range entries {
			if e.Relocated {
				relocated++
			}
		}
		if relocated == 0 {
			t.Error("no relocated directory")
		}
	})
}

func glibcMakedev(major, minor uint64) uint64 {
	return (major&0xfff)<<8 | (major&^0xfff)<<32 | minor&0xff | (minor&^0xff)<<12
}
