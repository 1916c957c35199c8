package isodiff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
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
