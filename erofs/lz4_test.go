package erofs

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// TestLZ4Partial decodes blocks pierrec/lz4 encoded, followed by padding
// as legacy images store them, and cut short: the exact bytes, or an
// error, never a panic.
func TestLZ4Partial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		n := 1 + rng.IntN(20000)
		plain := make([]byte, n)
		for j := range plain {
			plain[j] = byte(rng.IntN(4 + i%200))
		}
		enc := make([]byte, lz4.CompressBlockBound(n))
		m, err := lz4.CompressBlock(plain, enc, nil)
		if err != nil || m == 0 {
			continue // incompressible: stored plain in an image
		}
		padded := append(enc[:m:m], make([]byte, rng.IntN(4096))...)
		dst := make([]byte, n)
		if k, err := decodeLZ4Partial(dst, padded); err != nil || k != n || !bytes.Equal(dst, plain) {
			t.Fatalf("%d bytes: decoded %d, %v, equal %v", n, k, err, bytes.Equal(dst, plain))
		}
		// Partial: the first bytes only.
		part := make([]byte, rng.IntN(n+1))
		if k, err := decodeLZ4Partial(part, padded); err != nil || k != len(part) || !bytes.Equal(part, plain[:len(part)]) {
			t.Fatalf("partial %d: %d %v", len(part), k, err)
		}
		// Damaged: no panic.
		for range 20 {
			bad := bytes.Clone(padded)
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
			decodeLZ4Partial(dst, bad)
			decodeLZ4Partial(dst, bad[:rng.IntN(len(bad))])
		}
	}
}
