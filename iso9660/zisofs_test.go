package iso9660

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// zisofsSource writes files that xorriso's zisofs filter compresses, of
// every shape the decoder must get right: below one block, exactly two
// blocks, several blocks, blocks of zeros (recorded as empty blocks)
// around data, and an empty file and random data, which xorriso leaves
// uncompressed.
func zisofsSource(t testing.TB, dir string) map[string]string {
	t.Helper()
	rng := rand.New(rand.NewSource(15))
	random := func(n int) string {
		b := make([]byte, n)
		rng.Read(b)
		return string(b)
	}
	var text strings.Builder
	for i := 0; text.Len() < 600000; i++ {
		fmt.Fprintf(&text, "line %d of the text\n", i)
	}
	files := map[string]string{
		"below":        text.String()[:20000],
		"twoblocks":    text.String()[:65536],
		"d/several":    text.String(),
		"sparse":       strings.Repeat("\x00", 100000) + random(1000) + strings.Repeat("\x00", 200000),
		"zeros":        strings.Repeat("\x00", 300000),
		"empty":        "",
		"random":       random(300000),
		"d/e/deep.txt": text.String()[1000:250000],
	}
	testimg.WriteFiles(t, dir, files)
	return files
}

// zisofsISO writes an image of src with every file through xorriso's
// zisofs filter with the given -zisofs settings.
func zisofsISO(t testing.TB, src, out, settings string) string {
	t.Helper()
	testimg.Need(t, "xorriso")
	testimg.Run(t, filepath.Dir(out), "xorriso", "-abort_on", "FAILURE", "-outdev", out,
		"-zisofs", settings, "-map", src, "/", "-set_filter_r", "--zisofs", "/", "--")
	return out
}

// TestZisofsOracle: on images written with xorriso's zisofs filter (zisofs
// and zisofs2, 32 KiB to 1 MiB blocks, ZF and Z2 entries) and on a tree
// compressed by mkzftree (zisofs-tools) imaged with mkisofs -z, the walk's
// sizes and Open's bytes equal what osirrox extracts, for each file; the
// compressed files are named with their filter and keep their recorded
// size and extents.
func TestZisofsOracle(t *testing.T) {
	testimg.Need(t, "xorriso", "osirrox")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := zisofsSource(t, src)
	for _, c := range []struct {
		settings, filter string
	}{
		{"level=9:block_size=32k", "zisofs:pz:32k"},
		{"level=6:block_size=128k", "zisofs:pz:128k"},
		{"level=9:version_2=on:block_size_v2=1024k", "zisofs:PZ:1024k"},
		{"level=1:version_2=on:block_size_v2=64k:susp_z2=on", "zisofs:PZ:64k"},
		{"mkzftree", "zisofs:pz:32k"}, // a tree compressed by mkzftree, imaged with -as mkisofs -z
	} {
		t.Run(c.settings, func(t *testing.T) {
			sub := t.TempDir()
			img := filepath.Join(sub, "z.iso")
			if c.settings == "mkzftree" {
				testimg.Need(t, "mkzftree")
				testimg.Run(t, sub, "mkzftree", src, filepath.Join(sub, "zsrc"))
				testimg.MakeISO(t, filepath.Join(sub, "zsrc"), img, "-R", "-z")
			} else {
				zisofsISO(t, src, img, c.settings)
			}
			out := filepath.Join(sub, "out")
			testimg.Run(t, sub, "osirrox", "-abort_on", "FAILURE", "-indev", img, "-extract", "/", out)
			if strings.Contains(c.settings, "susp_z2=on") {
				b, err := os.ReadFile(img)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(b, []byte("Z2\x10\x02PZ")) || bytes.Contains(b, []byte("ZF\x10\x02PZ")) {
					t.Fatal("susp_z2=on wrote no Z2 entries, or ZF ones")
				}
			}
			im, _ := openImage(t, img)
			entries := walkAll(t, im)
			compressed := 0
			for _, e := range entries {
				if !e.Mode.IsRegular() {
					continue
				}
				if e.Damage != nil {
					t.Errorf("%s: damage %v", e.Path, e.Damage)
				}
				want, err := os.ReadFile(filepath.Join(out, e.Path))
				if err != nil {
					t.Fatal(err)
				}
				if string(want) != files[e.Path[1:]] {
					t.Fatalf("%s: osirrox extracted something else than the source", e.Path)
				}
				h := sha256.New()
				n, err := io.Copy(h, im.Open(e))
				if err != nil {
					t.Errorf("%s: %v", e.Path, err)
					continue
				}
				if e.Size != int64(len(want)) || n != e.Size || [32]byte(h.Sum(nil)) != sha256.Sum256(want) {
					t.Errorf("%s: size %d, %d bytes read, osirrox extracts %d bytes (sha256 equal: %v)", e.Path, e.Size, n, len(want), [32]byte(h.Sum(nil)) == sha256.Sum256(want))
				}
				var recorded int64
				for _, x := range e.Extents {
					recorded += x.Size
				}
				if e.StoredSize != recorded {
					t.Errorf("%s: StoredSize %d, extents hold %d", e.Path, e.StoredSize, recorded)
				}
				switch e.Path {
				case "/empty", "/random":
					if e.Zisofs || e.Filter != "" || e.StoredSize != e.Size {
						t.Errorf("%s: read as zisofs (%q), xorriso leaves it as is", e.Path, e.Filter)
					}
					continue
				}
				if !e.Zisofs || e.Filter != c.filter {
					t.Errorf("%s: filter %q, zisofs %v, want %q", e.Path, e.Filter, e.Zisofs, c.filter)
					continue
				}
				compressed++
				if e.StoredSize >= e.Size {
					t.Errorf("%s: recorded %d bytes for %d", e.Path, e.StoredSize, e.Size)
				}
				raw, err := io.ReadAll(io.NewSectionReader(im.r, e.Extents[0].Offset, e.StoredSize))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw[:8], zfMagicV1[:]) && !bytes.Equal(raw[:8], zfMagicV2[:]) {
					t.Errorf("%s: recorded bytes do not start with a zisofs magic", e.Path)
				}
				if e.Path == "/zeros" || e.Path == "/sparse" && e.zf.log2 <= 17 { // else /sparse is one block
					if k := emptyBlocks(t, raw, e.zf); k == 0 {
						t.Errorf("%s: no empty block recorded: the zero-block path is not exercised", e.Path)
					}
				}
			}
			if compressed != 6 {
				t.Errorf("%d files read as zisofs, want 6", compressed)
			}
		})
	}
}

// emptyBlocks counts the blocks of a zisofs file recorded as empty (equal
// pointers), reading the table itself.
func emptyBlocks(t *testing.T, raw []byte, z zfParams) int {
	t.Helper()
	ps := int(z.ptrSize())
	at := int(z.hdrWords) * 4
	ptr := func(i int) uint64 {
		if ps == 4 {
			return uint64(binary.LittleEndian.Uint32(raw[at+4*i:]))
		}
		return binary.LittleEndian.Uint64(raw[at+8*i:])
	}
	n := 0
	for i := 0; i < int(z.blocks()); i++ {
		if ptr(i) == ptr(i+1) {
			n++
		}
	}
	return n
}
