package bytecmp

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"

	"github.com/isodiff/isodiff/tree"
)

func TestFirstDiff(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	base := make([]byte, 3*ChunkSize+123)
	rng.Read(base)
	for _, tc := range []struct {
		name  string
		b     func([]byte) []byte
		equal bool
		first int64
	}{
		{"equal", func(b []byte) []byte { return b }, true, -1},
		{"first byte", func(b []byte) []byte { b[0] ^= 1; return b }, false, 0},
		{"second chunk", func(b []byte) []byte { b[ChunkSize+7] ^= 1; return b }, false, ChunkSize + 7},
		{"last byte", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, false, int64(len(base) - 1)},
		{"b shorter", func(b []byte) []byte { return b[:ChunkSize] }, false, ChunkSize},
		{"b longer", func(b []byte) []byte { return append(b, 0) }, false, int64(len(base))},
	} {
		b := tc.b(append([]byte(nil), base...))
		// One-byte reads on one side prove chunking does not matter.
		res, err := FirstDiff(bytes.NewReader(base), iotest.OneByteReader(bytes.NewReader(b)))
		if err != nil || res.Equal != tc.equal || res.FirstDiff != tc.first {
			t.Errorf("%s: got %+v, %v; want equal=%v first=%d", tc.name, res, err, tc.equal, tc.first)
		}
	}
}

func TestFirstDiffReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := FirstDiff(bytes.NewReader(make([]byte, 10)), io.MultiReader(bytes.NewReader(make([]byte, 5)), iotest.ErrReader(boom)))
	var re *tree.SideError
	if !errors.As(err, &re) || re.Side != 1 || re.Off != 5 || !errors.Is(err, boom) {
		t.Fatalf("want a SideError on b at 5 wrapping boom, got %v", err)
	}
}

func TestRanges(t *testing.T) {
	a := []byte("aaaaaaaaaaaaaaaaaaaa")
	b := []byte("aXaaXaaaaaaaaaaaaXaaZZ")
	got := Ranges(a, b, 4, 10)
	want := [][2]int{{1, 5}, {17, 18}, {20, 22}}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

func BenchmarkFirstDiffEqual(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.New(rand.NewSource(1)).Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if res, err := FirstDiff(bytes.NewReader(data), bytes.NewReader(data)); err != nil || !res.Equal {
			b.Fatal(res, err)
		}
	}
}

func TestIndex(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", -1}, {"abc", "abc", -1}, {"abc", "abd", 2}, {"ab", "abc", 2}, {"xbc", "abc", 0}} {
		if got := Index([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("Index(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
