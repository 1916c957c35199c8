package iso9660

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// oddTargets are symlink targets whose empty components xorriso records as
// ROOT components in the middle of the target.
var oddTargets = map[string]string{
	"double":       "usr//lib/x",
	"dot-slashes":  ".///file",
	"abs-dotdot":   "/usr//..",
	"lead-double":  "//x",
	"triple":       "a///b",
	"up-then-abs":  "../..//c",
	"trailing-dbl": "a/b//",
	"root":         "/",
	"plain":        "usr/lib/x",
}

// TestSymlinkTargetsMatchXorriso: targets with "//" and ROOT components
// in the middle read back as xorriso lists them, from images written by
// xorriso and by genisoimage, with no damage.
func TestSymlinkTargetsMatchXorriso(t *testing.T) {
	testimg.Need(t, "xorriso", "genisoimage")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range oddTargets {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	xorrisoImg := testimg.MakeISO(t, src, filepath.Join(dir, "x.iso"), "-R")
	genisoImg := filepath.Join(dir, "g.iso")
	testimg.Run(t, dir, "genisoimage", "-quiet", "-R", "-o", genisoImg, src)
	for _, img := range []string{xorrisoImg, genisoImg} {
		t.Run(filepath.Base(img), func(t *testing.T) {
			im, _ := openImage(t, img)
			entries := walkAll(t, im)
			want := xorrisoLsdl(t, img)
			compareLsdl(t, entries, want)
			doubles := 0
			for _, e := range entries {
				if e.Damage != nil {
					t.Errorf("%s: damage %v", e.Path, e.Damage)
				}
				if bytes.Contains([]byte(e.Link), []byte("//")) {
					doubles++
				}
			}
			if doubles < 5 {
				t.Errorf("only %d targets with // read: the oracle's listing lost them too?", doubles)
			}
		})
	}
}

// TestSymlinkComponentsAsLibisofs: component sequences no writer here
// produces, read as libisofs reads them.
func TestSymlinkComponentsAsLibisofs(t *testing.T) {
	for _, c := range []struct {
		name   string
		su     []byte
		want   string
		damage bool
	}{
		{"root mid-target adds a slash", slEntry(0, byte(slCurrent), "", byte(slRoot), "", byte(slRoot), "", byte(0), "file"), ".///file", false},
		{"root after a continued component", slEntry(0, byte(slContinue), "ab", byte(slRoot), "", byte(0), "c"), "ab/c", false},
		{"NUL ends a component", slEntry(0, byte(0), "ab\x00cd", byte(0), "e"), "ab/e", false},
		{"second SL without CONTINUE is ignored", append(slEntry(0, byte(0), "a"), slEntry(0, byte(0), "b")...), "a", true},
		{"SL entries joined by CONTINUE", append(slEntry(slContinue, byte(0), "a"), slEntry(0, byte(0), "b")...), "a/b", false},
		{"last SL continues", slEntry(slContinue, byte(0), "a"), "a", true},
		{"host component refused", slEntry(0, byte(0), "a", byte(slHost), "", byte(0), "b"), "a", true},
	} {
		info := decode(t, &Image{}, c.su)
		if string(info.link) != c.want || (info.damage != nil) != c.damage {
			t.Errorf("%s: %q (damage %v), want %q (damage %v)", c.name, info.link, info.damage, c.want, c.damage)
		}
	}
}

// TestFakeBlockNotDamage: empty files and symlinks with block numbers past
// the end of the image (writers put arbitrary ones there) are listed as
// xorriso lists them, without damage.
func TestFakeBlockNotDamage(t *testing.T) {
	testimg.Need(t, "xorriso")
	c := &crafted{}
	sl := append(px(0o120777), slEntry(0, byte(0), "usr", byte(slRoot), "", byte(0), "lib")...)
	c.records = append(c.records,
		dirRecord([]byte("EMPTY;1"), 0xFFFFFF00, 0, 0, append(px(0o100644), susp("NM", append([]byte{0}, "empty"...)...)...)),
		dirRecord([]byte("LINK;1"), 0xFFFFFF00, 0, 0, append(sl, susp("NM", append([]byte{0}, "link"...)...)...)),
	)
	img := filepath.Join(t.TempDir(), "fake.iso")
	if err := os.WriteFile(img, c.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	im, _ := openImage(t, img)
	entries := walkAll(t, im)
	compareLsdl(t, entries, xorrisoLsdl(t, img))
	if len(entries) != 3 {
		t.Fatalf("%d entries", len(entries))
	}
	for _, e := range entries {
		if e.Damage != nil {
			t.Errorf("%s: damage %v", e.Path, e.Damage)
		}
		if e.Path == "/link" && e.Link != "usr//lib" {
			t.Errorf("link target %q", e.Link)
		}
	}
}

// TestRootRecordLengthRepaired: a primary descriptor whose root directory
// record has length byte 68 (as on the CSRG discs, and libarchive's
// test_read_format_iso_3) is read as xorriso reads it, and the repair is
// reported at the record's offset.
func TestRootRecordLengthRepaired(t *testing.T) {
	testimg.Need(t, "xorriso")
	for _, lengthByte := range []byte{68, 33, 0} {
		b := smallImage(t, "-R", "-J")
		b[16*SectorSize+156] = lengthByte
		img := filepath.Join(t.TempDir(), "root68.iso")
		if err := os.WriteFile(img, b, 0o644); err != nil {
			t.Fatal(err)
		}
		im, _ := openImage(t, img)
		r := im.Repairs()
		if len(r) != 1 || r[0].Off != 16*SectorSize+156 {
			t.Fatalf("length %d: repairs %v", lengthByte, r)
		}
		t.Log(r[0])
		compareLsdl(t, walkAll(t, im), xorrisoLsdl(t, img))
	}
}

// TestRootSizeRepaired: a descriptor's root directory size of 0 or past
// the end of the image is read as the root's "." record says, as xorriso
// lists it, and the repair is reported at the size field's offset.
func TestRootSizeRepaired(t *testing.T) {
	testimg.Need(t, "xorriso")
	for _, size := range []uint32{0, 0x7fffffff} {
		b := smallImage(t, "-R", "-J")
		putBoth32(b[16*SectorSize+156+10:], size)
		img := filepath.Join(t.TempDir(), "rootsize.iso")
		if err := os.WriteFile(img, b, 0o644); err != nil {
			t.Fatal(err)
		}
		im, _ := openImage(t, img)
		r := im.Repairs()
		if len(r) != 1 || r[0].Off != 16*SectorSize+156+10 {
			t.Fatalf("size %d: repairs %v", size, r)
		}
		t.Log(r[0])
		entries := walkAll(t, im)
		compareLsdl(t, entries, xorrisoLsdl(t, img))
		if len(entries) < 5 {
			t.Errorf("size %d: %d entries", size, len(entries))
		}
	}
}

// failingReader fails every read that touches [from, to).
type failingReader struct {
	r        io.ReaderAt
	from, to int64
}

var errMedium = errors.New("medium error")

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off < f.to && off+int64(len(p)) > f.from {
		n := max(0, int(f.from-off))
		copy(p[:n], make([]byte, n))
		return n, errMedium
	}
	return f.r.ReadAt(p, off)
}

// TestDataErrorOffsets: errors about a file's data name the data's offset,
// not its directory record's: data recorded past the end of the image, and
// a read that fails in the middle of the data.
func TestDataErrorOffsets(t *testing.T) {
	b := smallImage(t, "-R")
	var recOff int64
	patchRootChild(t, b, ".DOT;1", func(r []byte) {
		putBoth32(r[2:], 1<<20)
		recOff = int64(bytes.Index(b, r))
	})
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	for _, e := range walkAll(t, im) {
		if e.Path != "/.dot" {
			continue
		}
		if !errors.As(e.Damage, &fe) || fe.Off != (1<<20)*SectorSize {
			t.Errorf("damage %v, want one at the data's offset %d (the record is at %d)", e.Damage, (1<<20)*SectorSize, recOff)
		}
		_, err := io.Copy(io.Discard, im.Open(e))
		if !errors.As(err, &fe) || fe.Off != (1<<20)*SectorSize {
			t.Errorf("reading: %v, want an error at offset %d", err, (1<<20)*SectorSize)
		}
	}

	// A medium error 100 bytes into a file's data.
	b = smallImage(t, "-R")
	im, err = Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var file *Entry
	for _, e := range walkAll(t, im) {
		if e.Mode.IsRegular() && e.Size > 0 && e.Path == "/a/b/c/file" {
			file = e
		}
	}
	if file == nil {
		t.Fatal("no /a/b/c/file")
	}
	bad := file.Extents[0].Offset + 5
	im.r = failingReader{bytes.NewReader(b), bad, bad + 1}
	_, err = io.Copy(io.Discard, im.Open(file))
	if !errors.As(err, &fe) || fe.Off != bad || !errors.Is(err, errMedium) {
		t.Errorf("reading: %v, want a FormatError at offset %d wrapping the medium error", err, bad)
	}
}
