package isodiff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestHashPass checks one pass's whole and section hashes against hashing
// each range on its own, for sections at unaligned offsets, touching the
// image's ends, empty, and shorter and longer than a chunk.
func TestHashPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := make([]byte, 3*hashChunk+12345)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	cases := [][]span{
		nil,
		{{0, int64(len(img))}},
		{{7, 100}, {107, 0}, {hashChunk + 3, 2*hashChunk + 5}},
		{{hashChunk, hashChunk}, {int64(len(img)) - 1, 1}},
	}
	for _, spans := range cases {
		for _, whole := range []bool{true, false} {
			got, sums, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), whole, spans)
			if err != nil {
				t.Fatalf("%v: %v", spans, err)
			}
			if whole && got != sha(img) || !whole && got != "" {
				t.Errorf("%v whole=%v: whole hash %q", spans, whole, got)
			}
			for k, sp := range spans {
				b := img[sp.off : sp.off+sp.n]
				if sums[k].sha != sha(b) {
					t.Errorf("%v: section %d hash %s, want %s", spans, k, sums[k].sha, sha(b))
				}
				if want := (len(b) + hashChunk - 1) / hashChunk; len(sums[k].chunks) != want {
					t.Errorf("%v: section %d has %d chunks, want %d", spans, k, len(sums[k].chunks), want)
				}
			}
		}
	}
	if _, _, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, []span{{10, 10}, {15, 10}}); err == nil {
		t.Error("overlapping sections accepted")
	}
	if _, _, err := hashPass(context.Background(), bytes.NewReader(img[:100]), int64(len(img)), true, nil); err == nil {
		t.Error("a short image hashed without error")
	}
}

// TestFirstDiffByChunks checks the chunked first difference against a byte
// by byte scan: a difference in each chunk, at chunk edges, none, and
// sections of different lengths.
func TestFirstDiffByChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 2*hashChunk + 999
	base := make([]byte, n+50)
	for i := range base {
		base[i] = byte(rng.Uint32())
	}
	a := span{17, int64(n)}
	for _, tc := range []struct {
		flip   int64 // offset in the section to change, or -1
		lenB   int64
		offB   int64
		expect int64
	}{
		{-1, int64(n), 17, -1},
		{0, int64(n), 17, 0},
		{hashChunk - 1, int64(n), 17, hashChunk - 1},
		{hashChunk, int64(n), 17, hashChunk},
		{int64(n) - 1, int64(n), 17, int64(n) - 1},
		{-1, int64(n) - 5, 17, int64(n) - 5},
		{2 * hashChunk, int64(n) + 3, 20, 2 * hashChunk},
	} {
		imgB := bytes.Clone(base)
		copy(imgB[tc.offB:], base[a.off:a.off+a.n]) // B's section holds A's bytes at its offset
		b := span{tc.offB, tc.lenB}
		if tc.flip >= 0 {
			imgB[b.off+tc.flip] ^= 0x55
		}
		_, sa, err := hashPass(context.Background(), bytes.NewReader(base), int64(len(base)), false, []span{a})
		if err != nil {
			t.Fatal(err)
		}
		_, sb, err := hashPass(context.Background(), bytes.NewReader(imgB), int64(len(imgB)), false, []span{b})
		if err != nil {
			t.Fatal(err)
		}
		got, err := firstDiffByChunks(bytes.NewReader(base), bytes.NewReader(imgB), a, b, sa[0].chunks, sb[0].chunks)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.expect {
			t.Errorf("flip %d lenB %d: first difference %d, want %d", tc.flip, tc.lenB, got, tc.expect)
		}
	}
}

// TestContainerHashes checks the squashfs hashes and the image-level first
// difference against the extracted bytes on both hashing paths: images
// known to differ from their headers (one pass) and images whose headers
// and squashfs ends are equal, with one byte changed inside a data block
// (the squashfs stage hashes the sections in a second pass).
func TestContainerHashes(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr")
	read := func(lt liveTree) []byte {
		b, err := os.ReadFile(lt.build(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := read(defaultTree())
	other := defaultTree()
	other.isoDate = "2024030212000000"
	other.root = maps.Clone(other.root)
	other.root["etc/hostname"] = "ubuntu\n"
	b := read(other)
	im, err := iso9660.Open(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	var sq *iso9660.Entry
	for w := im.Walk(); ; {
		e, err := w.Next()
		if err != nil {
			t.Fatal("no squashfs in the demo image")
		}
		if e.Path == DefaultSquashfs {
			sq = e
			break
		}
	}
	off, n := sq.Extents[0].Offset, sq.Size
	patched := bytes.Clone(a)
	flip := off + n/2 // inside big.bin's blocks: superblock and tables unchanged
	patched[flip] ^= 0x40

	for _, tc := range []struct {
		name      string
		a, b      []byte
		oneSweep  bool
		wantFirst int64
	}{
		{"headers differ", a, b, true, -2},
		{"one byte inside the squashfs", a, patched, false, n / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(Input{"a", bytes.NewReader(tc.a), int64(len(tc.a))}, Input{"b", bytes.NewReader(tc.b), int64(len(tc.b))}, Options{Squashfs: []string{DefaultSquashfs}})
			if got := s.knownDifferent(); got != tc.oneSweep {
				t.Errorf("knownDifferent = %v, want %v", got, tc.oneSweep)
			}
			rep, err := CompareInputs(context.Background(), s.in[0], s.in[1], Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Containers) != 1 {
				t.Fatalf("containers %v", rep.Containers)
			}
			c := rep.Containers[0]
			for i, at := range []*report.ContainerAt{c.A, c.B} {
				img := [2][]byte{tc.a, tc.b}[i]
				if want := sha(img[at.Offset : at.Offset+at.Size]); at.SHA256 != want {
					t.Errorf("side %d: squashfs sha256 %s, want %s", i, at.SHA256, want)
				}
			}
			if tc.wantFirst == -2 { // the first differing byte of the sections, found by scanning
				sa, sb := tc.a[c.A.Offset:c.A.Offset+c.A.Size], tc.b[c.B.Offset:c.B.Offset+c.B.Size]
				tc.wantFirst = -1
				if len(sa) != len(sb) {
					tc.wantFirst = int64(min(len(sa), len(sb)))
				}
				for i := range min(len(sa), len(sb)) {
					if sa[i] != sb[i] {
						tc.wantFirst = int64(i)
						break
					}
				}
			}
			var got int64 = -1
			for _, f := range rep.Stage(report.StageContent).Findings {
				if f.Path == DefaultSquashfs && f.Content != nil {
					got = f.Content.FirstDiff
				}
			}
			if got != tc.wantFirst {
				t.Errorf("first difference of the squashfs images %d, want %d", got, tc.wantFirst)
			}
		})
	}
}

// BenchmarkHashPass: one image's read pass, whole image only (an identical
// pair) and whole image plus a squashfs section of most of it (a differing
// pair: two SHA-256 streams, the section's on its own goroutine).
func BenchmarkHashPass(b *testing.B) {
	img := make([]byte, 64<<20)
	for i := range img {
		img[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name  string
		spans []span
	}{
		{"whole", nil},
		{"whole+section", []span{{1 << 20, 62 << 20}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				if _, _, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, tc.spans); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
