package iso9660

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
)

// elToritoReport is what "xorriso -report_el_torito plain" says.
type elToritoReport struct {
	catalogLBA string
	images     []string       // "BIOS y none 0x0000 0x00 4 759" per image
	paths      map[int]string // image number -> path of the file at its LBA
	hdsiz      map[int]int64  // image number -> hard disk size in 512-byte blocks
}

func reportElTorito(t *testing.T, img string) elToritoReport {
	t.Helper()
	out := testimg.Run(t, filepath.Dir(img), "xorriso", "-indev", img, "-report_el_torito", "plain")
	r := elToritoReport{paths: map[int]string{}, hdsiz: map[int]int64{}}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		switch strings.TrimSpace(k) {
		case "El Torito catalog":
			r.catalogLBA = f[0]
		case "El Torito boot img":
			r.images = append(r.images, strings.Join(f[1:], " "))
		case "El Torito img path":
			n, _ := strconv.Atoi(f[0])
			r.paths[n] = strings.Join(f[1:], " ")
		case "El Torito hdsiz/512":
			n, _ := strconv.Atoi(f[0])
			r.hdsiz[n], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return r
}

// checkElTorito compares the catalog with xorriso's report and checks each
// boot image's size and bytes; it returns the catalog.
func checkElTorito(t *testing.T, img string) *BootCatalog {
	t.Helper()
	im, f := openImage(t, img)
	c, err := im.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rep := reportElTorito(t, img)
	if got := strconv.Itoa(int(c.LBA)); got != rep.catalogLBA {
		t.Errorf("catalog LBA %s, xorriso %s", got, rep.catalogLBA)
	}
	if !c.Validation.ChecksumOK {
		t.Error("validation checksum does not verify")
	}
	var got []string
	for _, e := range c.Entries {
		b := "n"
		if e.Bootable() {
			b = "y"
		}
		got = append(got, fmt.Sprintf("%s %s %s 0x%04x 0x%02x %d %d", PlatformName(e.PlatformID), b,
			MediaName(e.MediaType()), e.LoadSegment, e.SystemType, e.SectorCount, e.LoadRBA))
	}
	if strings.Join(got, "\n") != strings.Join(rep.images, "\n") {
		t.Errorf("entries:\n%s\nxorriso:\n%s", strings.Join(got, "\n"), strings.Join(rep.images, "\n"))
	}
	files := map[string]*Entry{}
	for _, e := range walkAll(t, im) {
		files[e.Path] = e
	}
	for _, e := range c.Entries {
		sr, err := im.BootImage(e)
		if err != nil {
			t.Fatalf("entry %d: %v", e.Index, err)
		}
		data, err := io.ReadAll(sr)
		if err != nil {
			t.Fatal(err)
		}
		n := e.Index + 1
		var want int64
		switch {
		case e.MediaType() == MediaHardDisk:
			want = rep.hdsiz[n] * 512
		case e.MediaType() != MediaNoEmulation:
			want = floppySize[e.MediaType()]
		case rep.paths[n] != "":
			fe := files[rep.paths[n]]
			want = fe.Size
			h := sha256.New()
			io.Copy(h, im.Open(fe))
			if [32]byte(h.Sum(nil)) != sha256.Sum256(data) {
				t.Errorf("entry %d: bytes differ from %s", e.Index, fe.Path)
			}
		default:
			want = int64(e.SectorCount) * 512
		}
		if int64(len(data)) != want {
			t.Errorf("entry %d (%s): boot image %d bytes, want %d", e.Index, MediaName(e.MediaType()), len(data), want)
		}
		raw := make([]byte, len(data))
		f.ReadAt(raw, int64(e.LoadRBA)*SectorSize)
		if !bytes.Equal(raw, data) {
			t.Errorf("entry %d: bytes are not those at the load RBA", e.Index)
		}
	}
	return c
}

func TestElToritoHybrid(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"live/filesystem.squashfs": "not really"})
	img := testimg.MakeHybridISO(t, filepath.Join(dir, "src"), filepath.Join(dir, "h.iso"))
	c := checkElTorito(t, img)
	if len(c.Entries) != 2 || len(c.Sections) != 1 || c.Sections[0].PlatformID != PlatformEFI || c.Sections[0].Indicator != 0x91 {
		t.Errorf("catalog layout: %d entries, sections %+v", len(c.Entries), c.Sections)
	}
	// The isolinux entry loads 4 sectors of a larger file.
	if e := c.Entries[0]; e.SectorCount != 4 {
		t.Errorf("isolinux sector count %d", e.SectorCount)
	}
	im, _ := openImage(t, img)
	sr, _ := im.BootImage(c.Entries[0])
	if st, _ := os.Stat(testimg.IsolinuxBin); sr.Size() != st.Size() {
		t.Errorf("isolinux boot image %d bytes, isolinux.bin is %d", sr.Size(), st.Size())
	}
	fm := fieldMap(c.Entries[1].Fields())
	if fm["platform_id"] != "UEFI" || fm["media_type"] != "none" || fm["bootable"] != "true" {
		t.Errorf("EFI entry fields %v", fm)
	}
	fieldMap(c.Fields())
}

// TestElToritoEmulation: floppy and hard disk emulation, and a no-emulation
// entry of 7 sectors into a file.
func TestElToritoEmulation(t *testing.T) {
	testimg.Need(t, "xorriso", "mkfs.vfat")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "b"), 0o755)
	testimg.Run(t, dir, "mkfs.vfat", "-C", filepath.Join(src, "b", "floppy.img"), "1440")
	// A 1 MiB hard disk image with one FAT partition from sector 32.
	hd := make([]byte, 1<<20)
	p := hd[446:]
	p[0], p[4] = 0x80, 0x01
	binary.LittleEndian.PutUint32(p[8:], 32)
	binary.LittleEndian.PutUint32(p[12:], 2000)
	hd[510], hd[511] = 0x55, 0xAA
	os.WriteFile(filepath.Join(src, "b", "hd.img"), hd, 0o644)
	img := testimg.MakeISO(t, src, filepath.Join(dir, "e.iso"),
		"-b", "b/floppy.img", "-c", "b/boot.cat",
		"-eltorito-alt-boot", "-b", "b/hd.img", "-hard-disk-boot",
		"-eltorito-alt-boot", "-b", "b/floppy.img", "-no-emul-boot", "-boot-load-size", "7")
	c := checkElTorito(t, img)
	var media []string
	for _, e := range c.Entries {
		media = append(media, MediaName(e.MediaType()))
	}
	if got := strings.Join(media, " "); got != "fd1.4 hd none" {
		t.Errorf("media %s", got)
	}
}

func TestNoBootCatalog(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"f": "x"})
	im, _ := openImage(t, testimg.MakeISO(t, filepath.Join(dir, "src"), filepath.Join(dir, "n.iso")))
	if _, err := im.BootCatalog(); !errors.Is(err, ErrNoBootCatalog) {
		t.Errorf("err %v", err)
	}
}

// TestHybridReproducible: with SOURCE_DATE_EPOCH, MakeHybridISO writes the
// same bytes twice, and one injected option changes the image only where
// expected (the volume id).
func TestHybridReproducible(t *testing.T) {
	testimg.Need(t, "xorriso")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testimg.WriteFiles(t, src, map[string]string{"live/filesystem.squashfs": "squash"})
	stamp := time.Unix(1700000000, 0)
	for _, p := range []string{"live/filesystem.squashfs", "live", "."} {
		if err := os.Chtimes(filepath.Join(src, p), stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	a := testimg.MakeHybridISO(t, src, filepath.Join(dir, "a.iso"), "-V", "LIVE")
	time.Sleep(1100 * time.Millisecond) // a different second
	b := testimg.MakeHybridISO(t, src, filepath.Join(dir, "b.iso"), "-V", "LIVE")
	c := testimg.MakeHybridISO(t, src, filepath.Join(dir, "c.iso"), "-V", "OTHER")
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	cb, _ := os.ReadFile(c)
	if !bytes.Equal(ab, bb) {
		for i := range ab {
			if i < len(bb) && ab[i] != bb[i] {
				t.Fatalf("two builds of the same source differ, first at byte %d (sector %d)", i, i/2048)
			}
		}
		t.Fatal("two builds of the same source differ in size")
	}
	ia, _ := openImage(t, a)
	ic, _ := openImage(t, c)
	if ia.Primary.VolumeID != "LIVE" || ic.Primary.VolumeID != "OTHER" {
		t.Errorf("volume ids %q %q", ia.Primary.VolumeID, ic.Primary.VolumeID)
	}
	if want := "2023-11-14T22:13:20.00+00:00"; ia.Primary.Created.String() != want {
		t.Errorf("creation date %s, want %s", ia.Primary.Created, want)
	}
	if bytes.Equal(ab, cb) {
		t.Error("-V changed nothing")
	}
}

// TestBootImageAfterTreeDamage: a directory loop in the tree after the EFI
// image's file and before isolinux.bin's still lets the EFI entry be sized
// from its file; the isolinux entry, whose file the walk never reached, gets
// the walk's error.
func TestBootImageAfterTreeDamage(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testimg.WriteFiles(t, src, map[string]string{"d/sub/f": "x"}) // /boot < /d < /isolinux
	img := testimg.MakeHybridISO(t, src, filepath.Join(dir, "h.iso"))
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := Open(bytes.NewReader(b), int64(len(b)))
	rootLBA := im.Primary.Root.Extent
	patchRootChild(t, b, "D", func(r []byte) {
		p := int(binary.LittleEndian.Uint32(r[2:])) * SectorSize
		p += int(b[p]) // "."
		p += int(b[p]) // ".."
		if string(b[p+33:p+33+int(b[p+32])]) != "SUB" {
			t.Fatalf("first record of /d is %q", b[p+33:p+33+int(b[p+32])])
		}
		putBoth32(b[p+2:], rootLBA) // /d/sub is the root again
	})
	im, err = Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := im.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.BootImage(c.Entries[0]); !errors.Is(err, ErrLoop) {
		t.Errorf("isolinux entry after the loop: %v, want ErrLoop", err)
	}
	sr, err := im.BootImage(c.Entries[1])
	if err != nil {
		t.Fatalf("EFI entry before the loop: %v", err)
	}
	if sr.Size() != 1440<<10 {
		t.Errorf("EFI boot image %d bytes, want the file's %d", sr.Size(), 1440<<10)
	}
}

// TestElToritoCounts: a section header claiming 65535 entries is refused
// at the header's offset before any entry is read (the catalog has room
// for 2048 at most); the catalog is decoded once per image, charged to
// the budget until Close.
func TestElToritoCounts(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"f": "x"})
	path := testimg.MakeHybridISO(t, filepath.Join(dir, "src"), filepath.Join(dir, "h.iso"))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bud := budget.New(1 << 20)
	im, err := OpenOptions(bytes.NewReader(orig), int64(len(orig)), Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	held := bud.Used()
	c, err := im.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := im.BootCatalog(); again != c {
		t.Error("the catalog was decoded twice")
	}
	if bud.Used() <= held {
		t.Error("the catalog is not charged")
	}
	im.Close()
	if bud.Used() != 0 {
		t.Errorf("%d bytes held after Close", bud.Used())
	}

	b := bytes.Clone(orig)
	header := int64(c.LBA)*SectorSize + 2*catalogEntrySize
	if b[header] != 0x91 {
		t.Fatalf("no section header at %d: %#x", header, b[header])
	}
	binary.LittleEndian.PutUint16(b[header+2:], 65535)
	im, err = Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = im.BootCatalog()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Off != header {
		t.Errorf("%v, want a FormatError at the section header's offset %d", err, header)
	}
}
