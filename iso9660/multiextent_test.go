package iso9660

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// TestMultiExtent checks a file recorded in several extents (directory
// records flagged 0x80, ECMA-119 9.1.6). A real one needs a file over 4 GiB,
// which takes xorriso over a minute to write here; so the test patches a
// small real image instead: the root directory record of "multi" (10000
// bytes in 5 blocks at L) is replaced by three records with the same name
// and system use, pointing at L+2 (4096 bytes), L (4096) and L+4 (1808), so
// that the file's content becomes a known permutation of the original.
// xorriso, which reads multi-extent files, is the oracle for the listing and
// for the extracted content.
func TestMultiExtent(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i / 2048 * 7)
		if i%2048 == 0 {
			data[i] = byte(0xA0 + i/2048)
		}
	}
	dir := t.TempDir()
	patched, want := multiExtentImage(t, dir, data)
	im, _ := openImage(t, patched)
	entries := walkAll(t, im)
	compareLsdl(t, entries, xorrisoLsdl(t, patched))
	var multi *Entry
	for _, e := range entries {
		if e.Path == "/multi" {
			multi = e
		}
	}
	if multi == nil || len(multi.Extents) != 3 || multi.Size != int64(len(data)) {
		t.Fatalf("multi: %+v", multi)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(im.Open(multi)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Error("content is not the three extents in order")
	}
	ext := filepath.Join(dir, "extracted")
	testimg.Run(t, dir, "xorriso", "-osirrox", "on", "-indev", patched, "-extract", "/multi", ext)
	if x, _ := os.ReadFile(ext); !bytes.Equal(x, want) {
		t.Error("xorriso extracts other content than the walk reads")
	}
}

// multiExtentImage writes, in dir, the image of TestMultiExtent: the root
// holds "a", "z" and "multi", whose 10000 bytes (data) are recorded in
// three extents, at L+2 (4096 bytes), L (4096) and L+4 (1808), where L is
// the first block xorriso wrote the file at. It returns the image's path
// and the content the file then has.
func multiExtentImage(t *testing.T, dir string, data []byte) (string, []byte) {
	t.Helper()
	testimg.Need(t, "xorriso")
	if len(data) != 10000 {
		t.Fatalf("multiExtentImage: %d bytes of data, want 10000", len(data))
	}
	src := filepath.Join(dir, "src")
	testimg.WriteFiles(t, src, map[string]string{"a": "a", "multi": string(data), "z": "z"})
	img := testimg.MakeISO(t, src, filepath.Join(dir, "m.iso"), "-R")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	root := int64(im.Primary.Root.Extent) * SectorSize
	sector := b[root : root+SectorSize]
	var out []byte
	found := false
	for p := 0; p < SectorSize && sector[p] != 0; {
		rec, err := parseDirRecord(sector[p:])
		if err != nil {
			t.Fatal(err)
		}
		raw := sector[p : p+int(rec.Len)]
		p += int(rec.Len)
		if rec.DataLength != uint32(len(data)) {
			out = append(out, raw...)
			continue
		}
		found = true
		l := rec.Extent
		for _, x := range []struct {
			lba   uint32
			n     uint32
			flags byte
		}{{l + 2, 4096, FlagMultiExtent}, {l, 4096, FlagMultiExtent}, {l + 4, 1808, 0}} {
			r := bytes.Clone(raw)
			binary.LittleEndian.PutUint32(r[2:], x.lba)
			binary.BigEndian.PutUint32(r[6:], x.lba)
			binary.LittleEndian.PutUint32(r[10:], x.n)
			binary.BigEndian.PutUint32(r[14:], x.n)
			r[25] = x.flags
			out = append(out, r...)
		}
	}
	if !found || len(out) > SectorSize {
		t.Fatalf("patch: found %v, %d bytes of records", found, len(out))
	}
	copy(sector, make([]byte, SectorSize))
	copy(sector, out)
	want := append(append(bytes.Clone(data[4096:8192]), data[:4096]...), data[8192:]...)
	patched := filepath.Join(dir, "patched.iso")
	if err := os.WriteFile(patched, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return patched, want
}
