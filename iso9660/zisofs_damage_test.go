package iso9660

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// zisofsTarget is the file the damage tests rewrite: 300,000 bytes of text
// that xorriso compresses to far more room than the crafted forms need.
const zisofsTargetSize = 300000

var (
	zisofsBaseOnce sync.Once
	zisofsBase     [2][]byte // images of the damage tests: zisofs, zisofs2
	zisofsBaseErr  error
)

// zisofsBaseImages builds, once, two images holding /target through the
// zisofs filter: version 1 with 32 KiB blocks and version 2 with 32 KiB
// blocks.
func zisofsBaseImages(t *testing.T) [2][]byte {
	t.Helper()
	testimg.Need(t, "xorriso")
	zisofsBaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iso9660-zisofs-")
		if err != nil {
			zisofsBaseErr = err
			return
		}
		defer os.RemoveAll(dir)
		// Hex digits: compressed to about half, leaving room for the
		// crafted forms.
		raw := make([]byte, zisofsTargetSize/2)
		rand.New(rand.NewSource(1)).Read(raw)
		src := filepath.Join(dir, "src")
		testimg.WriteFiles(t, src, map[string]string{"target": hex.EncodeToString(raw), "other": "other\n"})
		for i, s := range []string{"level=9:block_size=32k", "level=9:version_2=on:block_size_v2=32k"} {
			img := zisofsISO(t, src, filepath.Join(dir, "z.iso"), s)
			zisofsBase[i], zisofsBaseErr = os.ReadFile(img)
			os.Remove(img)
			if zisofsBaseErr != nil {
				return
			}
		}
	})
	if zisofsBaseErr != nil {
		t.Fatal(zisofsBaseErr)
	}
	return zisofsBase
}

// findTarget walks an image in memory and returns /target.
func findTarget(t *testing.T, b []byte) (*Image, *Entry) {
	t.Helper()
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	w := im.Walk()
	defer w.Close()
	for {
		e, err := w.Next()
		if err != nil {
			t.Fatalf("no /target: %v", err)
		}
		if e.Path == "/target" {
			return im, e
		}
	}
}

// zfBlocks builds the recorded form of a zisofs file (version 1 or 2, 32
// KiB blocks) of size bytes from the given stored blocks (nil: empty).
func zfBlocks(version byte, size int64, blocks [][]byte) []byte {
	var b []byte
	ps := 4
	if version == 1 {
		b = append(b, zfMagicV1[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(size))
		b = append(b, 4, 15, 0, 0)
	} else {
		ps = 8
		b = append(b, zfMagicV2[:]...)
		b = append(b, 0, 6, 1, 15)
		b = binary.LittleEndian.AppendUint64(b, uint64(size))
		b = append(b, 0, 0, 0, 0)
	}
	p := uint64(len(b) + (len(blocks)+1)*ps)
	put := func(v uint64) {
		if ps == 4 {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		} else {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	for _, blk := range blocks {
		put(p)
		p += uint64(len(blk))
	}
	put(p)
	for _, blk := range blocks {
		b = append(b, blk...)
	}
	return b
}

func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// TestZisofsDamage rewrites the recorded bytes of a zisofs file in a real
// image with crafted ones: each fault is a FormatError at the offset of the
// bytes at fault, reading allocates a bounded amount whatever the header
// says, and nothing panics. A sound crafted form reads back right, so that
// the faults are the only difference.
func TestZisofsDamage(t *testing.T) {
	base := zisofsBaseImages(t)
	const bs = 32768
	n := (zisofsTargetSize + bs - 1) / bs
	text := func(k int) []byte { return bytes.Repeat([]byte{'a' + byte(k)}, bs) }
	sound := func(t *testing.T) [][]byte { // block k holds bs bytes of 'a'+k; the last is shorter
		var blocks [][]byte
		for k := 0; k < n; k++ {
			d := text(k)
			if k == n-1 {
				d = d[:zisofsTargetSize-(n-1)*bs]
			}
			blocks = append(blocks, deflate(t, d))
		}
		return blocks
	}
	want := func() []byte {
		var w []byte
		for k := 0; k < n; k++ {
			w = append(w, text(k)...)
		}
		return w[:zisofsTargetSize]
	}()
	type fault struct {
		name string
		v    byte // zisofs version
		// craft returns the recorded bytes and the offset in them where
		// the fault must be reported (-1: none).
		craft func(t *testing.T, v byte) ([]byte, int64)
		is    error // wrapped cause, when there is one
	}
	ptrAt := func(v byte, i int) int64 { // offset of pointer i
		if v == 1 {
			return 16 + 4*int64(i)
		}
		return 24 + 8*int64(i)
	}
	setPtr := func(b []byte, v byte, i int, x uint64) {
		if v == 1 {
			binary.LittleEndian.PutUint32(b[ptrAt(v, i):], uint32(x))
		} else {
			binary.LittleEndian.PutUint64(b[ptrAt(v, i):], x)
		}
	}
	getPtr := func(b []byte, v byte, i int) uint64 {
		if v == 1 {
			return uint64(binary.LittleEndian.Uint32(b[ptrAt(v, i):]))
		}
		return binary.LittleEndian.Uint64(b[ptrAt(v, i):])
	}
	var faults []fault
	for _, v := range []byte{1, 2} {
		faults = append(faults,
			fault{"sound", v, func(t *testing.T, v byte) ([]byte, int64) {
				return zfBlocks(v, zisofsTargetSize, sound(t)), -1
			}, nil},
			fault{"bad magic", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize, sound(t))
				b[3] ^= 0xff
				return b, 0
			}, nil},
			fault{"size mismatch", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize+1, sound(t))
				return b, 8
			}, nil},
			fault{"header block size differs from ZF", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize, sound(t))
				if v == 1 {
					b[13] = 16
				} else {
					b[11] = 16
				}
				return b, 8
			}, nil},
			fault{"pointer past the extent", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize, sound(t))
				setPtr(b, v, 5, 1<<31)
				return b, ptrAt(v, 5) // the end of block 4
			}, ErrTruncated},
			fault{"decreasing pointers", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize, sound(t))
				setPtr(b, v, 3, getPtr(b, v, 2)-1)
				return b, ptrAt(v, 3)
			}, nil},
			fault{"block inside the pointer table", v, func(t *testing.T, v byte) ([]byte, int64) {
				b := zfBlocks(v, zisofsTargetSize, sound(t))
				setPtr(b, v, 0, 4)
				return b, ptrAt(v, 0)
			}, nil},
			fault{"oversize block", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[2] = deflate(t, append(text(2), 'x'))
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 2))
			}, nil},
			fault{"bomb: the block and 4 MiB of zeros in one block", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[1] = deflate(t, append(text(1), make([]byte, 4<<20)...))
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 1))
			}, nil},
			fault{"last block longer than the file", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[n-1] = deflate(t, text(n-1))
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, n-1))
			}, nil},
			fault{"short block", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[4] = deflate(t, text(4)[:1000])
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 4))
			}, nil},
			fault{"cut stream", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[4] = blocks[4][:len(blocks[4])/2]
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 4))
			}, nil},
			fault{"bad checksum", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[6][len(blocks[6])-1] ^= 1
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 6))
			}, nil},
			fault{"not zlib", v, func(t *testing.T, v byte) ([]byte, int64) {
				blocks := sound(t)
				blocks[0] = bytes.Repeat([]byte{0xff}, 100)
				b := zfBlocks(v, zisofsTargetSize, blocks)
				return b, int64(getPtr(b, v, 0))
			}, nil},
			fault{"header longer than the data", v, func(t *testing.T, v byte) ([]byte, int64) {
				return nil, -2 // handled below: the recorded size is cut
			}, nil},
		)
	}
	for _, f := range faults {
		t.Run(f.name+"/v"+string('0'+f.v), func(t *testing.T) {
			img := bytes.Clone(base[f.v-1])
			_, e := findTarget(t, base[f.v-1])
			if !e.Zisofs || e.zf.version != f.v || e.Size != zisofsTargetSize {
				t.Fatalf("base image: /target zisofs %v version %d size %d", e.Zisofs, e.zf.version, e.Size)
			}
			ext := e.Extents[0]
			stored, at := f.craft(t, f.v)
			if at == -2 {
				// Shrink the recorded size in the directory record to 10
				// bytes: the header does not fit.
				rec := bytes.Index(img, binary.LittleEndian.AppendUint32(binary.BigEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(ext.Offset/SectorSize)), uint32(ext.Offset/SectorSize)), uint32(ext.Size)))
				if rec < 0 {
					t.Fatal("directory record of /target not found")
				}
				binary.LittleEndian.PutUint32(img[rec+8:], 10)
				binary.BigEndian.PutUint32(img[rec+12:], 10)
				at = 0
			} else {
				if int64(len(stored)) > ext.Size {
					t.Fatalf("crafted form of %d bytes, room for %d", len(stored), ext.Size)
				}
				copy(img[ext.Offset:], stored)
			}
			im, e := findTarget(t, img)
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			got, err := io.ReadAll(io.LimitReader(im.Open(e), 64<<20))
			runtime.ReadMemStats(&m1)
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 3<<20 {
				t.Errorf("reading allocated %d bytes", alloc)
			}
			if at == -1 {
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("sound form: %d bytes, %v", len(got), err)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%d bytes read), want a FormatError", err, len(got))
			}
			if fe.Off != ext.Offset+at {
				t.Errorf("error at offset %d (file data +%d), want +%d: %v", fe.Off, fe.Off-ext.Offset, at, err)
			}
			if f.is != nil && !errors.Is(err, f.is) {
				t.Errorf("%v does not wrap %v", err, f.is)
			}
			if int64(len(got)) > e.Size || !bytes.Equal(got, want[:len(got)]) {
				t.Errorf("%d bytes read before the error, not a prefix of the file", len(got))
			}
			t.Logf("%v", err)
		})
	}
}

// TestZisofsZFDamage: a ZF entry with values this package does not read is
// damage at the entry's offset, and the file is then read as recorded.
func TestZisofsZFDamage(t *testing.T) {
	base := zisofsBaseImages(t)
	for _, c := range []struct {
		name  string
		v     byte
		patch func(zf []byte)
	}{
		{"block size 2^18 in zisofs", 1, func(zf []byte) { zf[7] = 18 }},
		{"block size 2^14", 1, func(zf []byte) { zf[7] = 14 }},
		{"block size 2^21 in zisofs2", 2, func(zf []byte) { zf[7] = 21 }},
		{"header smaller than its fields", 1, func(zf []byte) { zf[6] = 3 }},
		{"unknown algorithm", 2, func(zf []byte) { zf[4], zf[5] = 'X', 'Z' }},
		{"zisofs2 algorithm in version 1", 1, func(zf []byte) { zf[4], zf[5] = 'P', 'Z' }},
		{"size byte orders disagree", 1, func(zf []byte) { zf[15] ^= 1 }},
		{"zisofs2 size beyond int64", 2, func(zf []byte) { zf[15] = 0x80 }},
		{"short entry", 1, func(zf []byte) { zf[2] = 12; copy(zf[12:], "ST\x04\x01") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := bytes.Clone(base[c.v-1])
			_, e := findTarget(t, img)
			zfOff := e.zf.off
			if string(img[zfOff:zfOff+2]) != "ZF" {
				t.Fatalf("no ZF entry at %d", zfOff)
			}
			c.patch(img[zfOff : zfOff+16])
			im, e := findTarget(t, img)
			var fe *FormatError
			if !errors.As(e.Damage, &fe) || fe.Off != zfOff {
				t.Fatalf("damage %v, want a FormatError at the ZF entry's offset %d", e.Damage, zfOff)
			}
			t.Logf("%v", e.Damage)
			if e.Zisofs || e.Filter != "" || e.Size != e.StoredSize {
				t.Errorf("zisofs %v, filter %q, size %d, recorded %d: want the file as recorded", e.Zisofs, e.Filter, e.Size, e.StoredSize)
			}
			got, err := io.ReadAll(im.Open(e))
			if err != nil || int64(len(got)) != e.StoredSize || !bytes.Equal(got[:8], zfMagicV1[:]) && !bytes.Equal(got[:8], zfMagicV2[:]) {
				t.Errorf("read %d bytes, %v: want the recorded bytes", len(got), err)
			}
		})
	}
}

// TestZisofsContext: a cancelled context stops a zisofs read before the
// next block, with the context's error.
func TestZisofsContext(t *testing.T) {
	base := zisofsBaseImages(t)
	ctx, cancel := context.WithCancel(context.Background())
	im, err := OpenOptions(bytes.NewReader(base[0]), int64(len(base[0])), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	w := im.Walk()
	var e *Entry
	for e == nil || e.Path != "/target" {
		if e, err = w.Next(); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	r := im.Open(e)
	buf := make([]byte, 40000)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	n, err := io.ReadFull(r, buf)
	if !errors.Is(err, context.Canceled) || n > 32768 {
		t.Errorf("after cancel: %d bytes, %v", n, err)
	}
}

// TestZisofsExtents: a zisofs file recorded in several extents (as a
// zisofs2 file over 4 GiB would be) decodes across their boundaries, and a
// fault in a later extent is reported at its offset in the image.
func TestZisofsExtents(t *testing.T) {
	const bs = 32768
	var want []byte
	var blocks [][]byte
	for k := 0; k < 5; k++ {
		d := bytes.Repeat([]byte{byte('A' + k), byte(k)}, bs/2)
		if k == 2 {
			d = make([]byte, bs) // an empty block
			blocks = append(blocks, nil)
		} else {
			blocks = append(blocks, deflate(t, d))
		}
		want = append(want, d...)
	}
	want = want[:4*bs+100]
	blocks[4] = deflate(t, want[4*bs:])
	for _, v := range []byte{1, 2} {
		stored := zfBlocks(v, int64(len(want)), blocks)
		// Three extents of the recorded bytes, laid out in the image in
		// the order 2, 0, 1 after a gap; the first cut falls inside the
		// pointer table.
		cut1, cut2 := int64(20), int64(len(stored))/2
		parts := [][2]int64{{0, cut1}, {cut1, cut2}, {cut2, int64(len(stored))}}
		img := make([]byte, 4096)
		at := make([]int64, 3)
		for _, i := range []int{2, 0, 1} {
			at[i] = int64(len(img))
			img = append(img, stored[parts[i][0]:parts[i][1]]...)
			img = append(img, make([]byte, 777)...)
		}
		zf := zfParams{version: v, alg: map[byte]string{1: "pz", 2: "PZ"}[v], hdrWords: map[byte]byte{1: 4, 2: 6}[v], log2: 15, size: int64(len(want))}
		e := &Entry{Zisofs: true, StoredSize: int64(len(stored)), zf: zf}
		e.Mode = 0o644
		e.Size = zf.size
		for i, p := range parts {
			e.Extents = append(e.Extents, Extent{Offset: at[i], Size: p[1] - p[0]})
		}
		im := &Image{r: bytes.NewReader(img), size: int64(len(img)), ctx: context.Background()}
		got, err := io.ReadAll(im.Open(e))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("v%d: %d bytes, %v", v, len(got), err)
		}
		// Corrupt the first byte of block 3, which lies in the third
		// extent.
		p3 := int64(binary.LittleEndian.Uint32(stored[16+4*3:]))
		if v == 2 {
			p3 = int64(binary.LittleEndian.Uint64(stored[24+8*3:]))
		}
		if p3 < cut2 {
			t.Fatalf("block 3 at %d is not in the third extent (from %d)", p3, cut2)
		}
		img[at[2]+p3-cut2] ^= 0xff
		_, err = io.ReadAll(im.Open(e))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Off != at[2]+p3-cut2 {
			t.Errorf("v%d: %v, want a FormatError at %d", v, err, at[2]+p3-cut2)
		}
		// A read of the image that fails inside the third extent is a
		// FormatError at the first byte not read, wrapping the cause.
		img[at[2]+p3-cut2] ^= 0xff
		failAt := at[2] + p3 - cut2 + 10 // in block 3
		im.r = failingReaderAt{bytes.NewReader(img), failAt, errDisk}
		got, err = io.ReadAll(im.Open(e))
		if !errors.As(err, &fe) || fe.Off != failAt || !errors.Is(err, errDisk) || !bytes.Equal(got, want[:len(got)]) {
			t.Errorf("v%d: %v after %d bytes, want a FormatError at %d wrapping %v", v, err, len(got), failAt, errDisk)
		}
		// A cancelled read comes back as the context's error.
		im.r = failingReaderAt{bytes.NewReader(img), at[0], context.Canceled}
		if _, err := io.ReadAll(im.Open(e)); err != context.Canceled {
			t.Errorf("v%d: %v, want context.Canceled as it came", v, err)
		}
	}
}

var errDisk = errors.New("disk error")

// failingReaderAt fails every read of byte at with err, after the bytes
// before it.
type failingReaderAt struct {
	r   *bytes.Reader
	at  int64
	err error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if f.at < off || f.at >= off+int64(len(p)) {
		return f.r.ReadAt(p, off)
	}
	n, _ := f.r.ReadAt(p[:max(0, f.at-off)], off)
	return n, f.err
}
