package erofs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
)

// microLZMAEncode encodes data as mkfs.erofs does for an lzma pcluster:
// a classic LZMA stream without end marker, its 13-byte header dropped
// and the range coder's first (zero) byte replaced by the NOT of the
// properties byte.
func microLZMAEncode(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := lzma.WriterConfig{Size: int64(len(data)), DictCap: 1 << 20}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if b[lzma.HeaderLen] != 0 {
		t.Fatalf("range coder's first byte %#x", b[lzma.HeaderLen])
	}
	out := append([]byte{^b[0]}, b[lzma.HeaderLen+1:]...)
	return out
}

func textData(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString("a line of text that compresses, number ")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString("\n")
	}
	return b.Bytes()[:n]
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestCodecs decodes streams of each codec exactly, partially, with bytes
// after the end, short and corrupt, and as bombs: a stream that decodes
// to 64 MiB given a 100-byte extent fails without allocating the 64 MiB.
func TestCodecs(t *testing.T) {
	data := textData(200000)
	enc := map[Algorithm][]byte{LZMA: microLZMAEncode(t, data)}
	var fb bytes.Buffer
	fw, _ := flate.NewWriter(&fb, 6)
	fw.Write(data)
	fw.Close()
	enc[Deflate] = bytes.Clone(fb.Bytes())
	zw, _ := zstd.NewWriter(nil)
	enc[Zstd] = zw.EncodeAll(data, nil)
	decode := func(a Algorithm, dst, in []byte, partial bool) error {
		switch a {
		case LZMA:
			return decodeMicroLZMA(dst, in, 1<<20, partial)
		case Deflate:
			return decodeDeflate(dst, in, partial)
		}
		return decodeZstd(dst, in, partial)
	}
	bomb := make([]byte, 64<<20)
	bombs := map[Algorithm][]byte{LZMA: microLZMAEncode(t, bomb), Zstd: zw.EncodeAll(bomb, nil)}
	fb.Reset()
	fw.Reset(&fb)
	fw.Write(bomb)
	fw.Close()
	bombs[Deflate] = fb.Bytes()
	for _, a := range []Algorithm{LZMA, Deflate, Zstd} {
		in := enc[a]
		dst := make([]byte, len(data))
		if err := decode(a, dst, in, false); err != nil || !bytes.Equal(dst, data) {
			t.Fatalf("%v: exact: %v", a, err)
		}
		for _, n := range []int{1, 4095, 65536, len(data) - 1} {
			dst := make([]byte, n)
			if err := decode(a, dst, in, true); err != nil || !bytes.Equal(dst, data[:n]) {
				t.Errorf("%v: partial %d: %v", a, n, err)
			}
			if err := decode(a, dst, in, false); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: %d bytes of %d, not partial: %v", a, n, len(data), err)
			}
		}
		if err := decode(a, make([]byte, len(data)+1), in, false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: one byte more than the stream holds: %v", a, err)
		}
		if err := decode(a, make([]byte, len(data)), in[:len(in)-1], false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: stream cut by a byte: %v", a, err)
		}
		if a == LZMA {
			// MicroLZMA records no end: the encoded bytes must end with
			// the pcluster.
			if err := decode(a, make([]byte, len(data)), append(bytes.Clone(in), 0x55), false); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: a byte after the stream: %v", a, err)
			}
			bad := bytes.Clone(in)
			bad[0] = 0 // properties 255
			if err := decode(a, make([]byte, len(data)), bad, false); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: bad properties: %v", a, err)
			}
		}
		// Corrupt bytes: errors or (codecs without checksums) other data,
		// never a panic or more output.
		detected := 0
		for i := 1; i < len(in); i += len(in)/50 + 1 {
			bad := bytes.Clone(in)
			bad[i] ^= 0x5a
			dst := make([]byte, len(data))
			if err := decode(a, dst, bad, false); err != nil {
				detected++
			}
		}
		if detected == 0 {
			t.Errorf("%v: no corruption detected", a)
		}
		var err error
		got := allocated(func() { err = decode(a, make([]byte, 100), bombs[a], false) })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: bomb: %v", a, err)
		}
		if got > 8<<20 {
			t.Errorf("%v: a bomb of 64 MiB into 100 bytes allocated %d bytes", a, got)
		}
		t.Logf("%v: %d of 50 corruptions detected; bomb allocated %d bytes", a, detected, got)
	}
}

// fixtureBytes returns a fixture's image and its reader.
func fixtureBytes(t testing.TB, name string) ([]byte, *Reader) {
	r, img := openFixture(t, name)
	return img, r
}

// readAllFiles reads every regular file of img and returns the first
// error.
func readAllFiles(t testing.TB, img []byte, b *budget.Budget) (*Reader, error) {
	r, err := OpenOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: b})
	if err != nil {
		return nil, err
	}
	for e, err := range r.All() {
		if err != nil {
			return r, err
		}
		if !e.IsRegular() {
			continue
		}
		f, err := r.Open(e)
		if err != nil {
			return r, err
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			return r, err
		}
	}
	return r, nil
}

// TestSharedFragmentDecodedOnce reads the 54 files of a Fedora-like image
// (lzma, all-fragments, 1 MiB pclusters), whose bytes are all in one
// pcluster of the packed inode: it is decoded once, and the budget holds
// it once.
func TestSharedFragmentDecodedOnce(t *testing.T) {
	img, r0 := fixtureBytes(t, "lzma-fragments-fedora")
	p, err := r0.packedInode()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, err := range r0.Extents(p) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("the packed inode has %d extents, want the fixture's 1", n)
	}
	b := budget.New(64 << 20)
	r, err := readAllFiles(t, img, b)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for e, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.IsRegular() && e.Size > 0 {
			files++
		}
	}
	if d := r.packed.decodes.Load(); d != 1 {
		t.Errorf("%d files sharing one packed pcluster: decoded %d times", files, d)
	}
	if b.Peak() > packedCacheBytes+2*p.Size+2<<20 {
		t.Errorf("budget peak %d for a packed inode of %d bytes", b.Peak(), p.Size)
	}
	t.Logf("%d files, one packed pcluster of %d bytes decoded once, budget peak %d", files, p.Size, b.Peak())
}

// wholeFragmentFile returns a file of r that is all in the packed inode
// and the offset of its map header.
func wholeFragmentFile(t testing.TB, r *Reader, path string) (*Entry, int64) {
	t.Helper()
	for e, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == path {
			hpos := align(e.DataOff(), 8)
			var h [8]byte
			if err := r.readAt(h[:], hpos, "test"); err != nil {
				t.Fatal(err)
			}
			if h[7]&0x80 == 0 {
				t.Fatalf("%s is not all in the packed inode", path)
			}
			return e, hpos
		}
	}
	t.Fatalf("%s not found", path)
	return nil, 0
}

// TestHostileFragments: a fragment offset past the packed inode, a
// packed inode that is damaged (its data, its mode, its nid) and a packed
// inode that claims fragments itself are errors naming the structure,
// for the files that need it only; the walk goes on.
func TestHostileFragments(t *testing.T) {
	img, r := fixtureBytes(t, "lzma-fragments-fedora")
	e, hpos := wholeFragmentFile(t, r, "/usr/lib/mixed")
	p, err := r.packedInode()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, b []byte, want error, wantOff int64) {
		t.Helper()
		r, err := readAllFiles(t, b, budget.New(64<<20))
		checkErr(t, err)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, want) {
			t.Errorf("%s: got %v, want a *FormatError of %v", name, err, want)
			return
		}
		if wantOff >= 0 && fe.Off != wantOff {
			t.Errorf("%s: error at %d, want %d: %v", name, fe.Off, wantOff, err)
		}
		if r != nil {
			// The metadata is still walked.
			n := 0
			for _, err := range r.All() {
				if err != nil {
					t.Errorf("%s: walk: %v", name, err)
					break
				}
				n++
			}
			if n < 50 {
				t.Errorf("%s: walked %d nodes", name, n)
			}
		}
		t.Logf("%s: %v", name, err)
	}
	le := binary.LittleEndian

	// The fragment offset: past the packed inode, and just so far that
	// the file's last byte is past it.
	b := bytes.Clone(img)
	le.PutUint64(b[hpos:], 1<<63|uint64(p.Size))
	check("fragment past the packed inode", b, ErrBounds, hpos)
	b = bytes.Clone(img)
	le.PutUint64(b[hpos:], 1<<63|uint64(p.Size-e.Size+1))
	check("fragment's end past the packed inode", b, ErrBounds, hpos)
	b = bytes.Clone(img)
	le.PutUint64(b[hpos:], 1<<63|(1<<62))
	check("fragment offset 2^62", b, ErrBounds, hpos)

	// The packed inode's one pcluster: its first block zeroed, and bytes
	// of its lzma stream changed.
	var px Extent
	for x, err := range r.Extents(p) {
		if err != nil {
			t.Fatal(err)
		}
		px = x
	}
	b = bytes.Clone(img)
	clear(b[px.Phys : px.Phys+r.bs])
	check("packed pcluster's first block zero", b, ErrCorrupt, px.Phys)
	b = bytes.Clone(img)
	for i := px.Phys + px.Stored - 16; i < px.Phys+px.Stored; i++ {
		b[i] ^= 0xa5
	}
	check("packed pcluster's last bytes changed", b, ErrCorrupt, px.Phys)

	// The packed inode itself: a directory, its nid out of range, a
	// packed inode that says its whole data is a fragment.
	b = bytes.Clone(img)
	pm := le.Uint16(b[p.iloc+4:])
	le.PutUint16(b[p.iloc+4:], pm&^0o170000|0o040000)
	check("packed inode a directory", b, ErrCorrupt, p.iloc)
	b = bytes.Clone(img)
	le.PutUint64(b[SuperblockOffset+96:], uint64(len(img)))
	check("packed nid out of range", b, ErrBounds, SuperblockOffset+96)
	b = bytes.Clone(img)
	ph := align(p.DataOff(), 8)
	le.PutUint64(b[ph:], 1<<63)
	check("packed inode with a fragment", b, ErrCorrupt, ph)
	b = bytes.Clone(img)
	le.PutUint64(b[SuperblockOffset+96:], 0)
	check("no packed inode", b, ErrCorrupt, SuperblockOffset+96)
}

// TestHostilePclusters corrupts the lzma, deflate and zstd pclusters of
// real images: each read fails with a *FormatError at the pcluster or
// returns bytes of the right length; none panics, hangs or passes the
// budget.
func TestHostilePclusters(t *testing.T) {
	for _, name := range []string{"lzma", "deflate", "zstd", "zstd-dedupe", "lzma-tail-fragments"} {
		img, r := fixtureBytes(t, name)
		var xs []Extent
		for e, err := range r.All() {
			if err != nil {
				t.Fatal(err)
			}
			if !e.IsRegular() {
				continue
			}
			for x, err := range r.Extents(e) {
				if err != nil {
					t.Fatal(err)
				}
				if x.Compressed && !x.Inline {
					xs = append(xs, x)
				}
			}
		}
		if p, _ := r.packedInode(); p != nil && r.Super.PackedNid != 0 {
			for x, err := range r.Extents(p) {
				if err != nil {
					t.Fatal(err)
				}
				if x.Compressed {
					xs = append(xs, x)
				}
			}
		}
		if len(xs) == 0 {
			t.Fatalf("%s: no compressed extents", name)
		}
		detected, total := 0, 0
		for _, x := range xs {
			for _, at := range []int64{x.Stored - 1, x.Stored - 2, x.Stored / 2, x.Stored - 200} {
				if at < 0 {
					continue
				}
				b := bytes.Clone(img)
				b[x.Phys+at] ^= 0x5a
				total++
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				bud := budget.New(16 << 20)
				rb, err := OpenOptions(bytes.NewReader(b), int64(len(b)), Options{Budget: bud, Context: ctx})
				if err != nil {
					t.Fatal(err)
				}
				d, err := rb.ReadExtent(nil, x)
				cancel()
				checkErr(t, err)
				if err != nil {
					detected++
					var fe *FormatError
					if errors.As(err, &fe) && fe.Off != x.Phys {
						t.Errorf("%s: error at %d, pcluster at %d: %v", name, fe.Off, x.Phys, err)
					}
				} else if int64(len(d)) != x.Len {
					t.Errorf("%s: %d bytes decoded for an extent of %d", name, len(d), x.Len)
				}
				if bud.Peak() > bud.Limit() {
					t.Fatalf("budget peak %d", bud.Peak())
				}
			}
		}
		if detected == 0 {
			t.Errorf("%s: none of %d corruptions detected", name, total)
		}
		t.Logf("%s: %d of %d corrupted pclusters refused", name, detected, total)
	}
}

// TestCompressionConfigs checks the configurations read from the
// fixtures and that bad ones are refused.
func TestCompressionConfigs(t *testing.T) {
	_, r := fixtureBytes(t, "lzma-dict-coreos")
	if !r.Super.Configs.Has(LZMA) || r.Super.Configs.LZMADictSize != 524288 {
		t.Errorf("lzma-dict-coreos: configs %+v, want a 512 KiB lzma dictionary", r.Super.Configs)
	}
	found := false
	for _, f := range r.Super.Fields() {
		if f.Name == "lzma_dict_size" && f.Value == "524288" {
			found = true
		}
	}
	if !found {
		t.Errorf("superblock fields lack lzma_dict_size 524288: %v", r.Super.Fields())
	}
	_, rz := fixtureBytes(t, "zstd")
	if !rz.Super.Configs.Has(Zstd) {
		t.Errorf("zstd: configs %+v", rz.Super.Configs)
	}
	img, _ := fixtureBytes(t, "lzma")
	cfg := int64(SuperblockOffset + superblockSize) // lzma's record: the only one
	for _, c := range []struct {
		name string
		set  func(b []byte)
		want error
	}{
		{"zero length", func(b []byte) { binary.LittleEndian.PutUint16(b[cfg:], 0) }, ErrCorrupt},
		{"dictionary over 8 MiB", func(b []byte) { binary.LittleEndian.PutUint32(b[cfg+2:], 8<<20+1) }, ErrCorrupt},
		{"unknown lzma format", func(b []byte) { binary.LittleEndian.PutUint16(b[cfg+6:], 1) }, ErrUnsupported},
		{"unknown algorithm", func(b []byte) { binary.LittleEndian.PutUint16(b[SuperblockOffset+84:], 1<<5) }, ErrUnsupported},
	} {
		b := bytes.Clone(img)
		c.set(b)
		_, err := Open(bytes.NewReader(b), int64(len(b)))
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// A pcluster of an algorithm the superblock does not declare.
	b := bytes.Clone(img)
	binary.LittleEndian.PutUint16(b[SuperblockOffset+84:], 1<<LZ4)
	binary.LittleEndian.PutUint16(b[cfg:], 14)
	if _, err := readAllFiles(t, b, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("lzma pclusters in an lz4 image: %v", err)
	}
}

// TestFragmentCancel: a context ended before a fragment is read stops
// the read before the packed pcluster is decoded.
func TestFragmentCancel(t *testing.T) {
	img, _ := fixtureBytes(t, "lzma-fragments-fedora")
	ctx, cancel := context.WithCancel(context.Background())
	r, err := OpenOptions(bytes.NewReader(img), int64(len(img)), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := wholeFragmentFile(t, r, "/usr/lib/mixed")
	f, err := r.OpenFile(e)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = f.ReadAt(make([]byte, 10), 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the context's end", err)
	}
	if d := r.packed.decodes.Load(); d != 0 {
		t.Errorf("%d packed pclusters decoded after the context ended", d)
	}
}
