package isodiff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"sync"

	"github.com/isodiff/isodiff/internal/bytecmp"
)

// hashChunk is the read size of a hashing pass and the granularity of a
// section's chunk fingerprints.
const hashChunk = 1 << 20

// chunkSeed seeds the chunk fingerprints. Fingerprints are only compared
// within one process, so one random seed serves both sides.
var chunkSeed = maphash.MakeSeed()

// sectionSum is what a hashing pass learns about one section of an image
// (a squashfs image inside the ISO): its SHA-256, for squashfs-sha256.txt,
// and a 64-bit fingerprint of each hashChunk bytes from the section's start,
// so that the first differing byte of two sections is found by reading two
// chunks instead of both sections again.
type sectionSum struct {
	sha    string
	chunks []uint64
}

// span is a byte range [off, off+n) of an image.
type span struct{ off, n int64 }

// hashPass reads r from 0 to size once and returns the hex SHA-256 of the
// whole (when whole is set) and a sectionSum for each span. The spans must
// be sorted and disjoint. A section's hash runs on its own goroutine beside
// the whole-image hash, so that both hashes of a byte cost one read and, on
// a machine with cores to spare, no extra time.
func hashPass(ctx context.Context, r io.ReaderAt, size int64, whole bool, spans []span) (string, []sectionSum, error) {
	for i, sp := range spans {
		if sp.off < 0 || sp.n < 0 || sp.off+sp.n > size || (i > 0 && sp.off < spans[i-1].off+spans[i-1].n) {
			return "", nil, fmt.Errorf("hashing: section %d [%d, %d) is out of order or past the end (%d bytes)", i, sp.off, sp.off+sp.n, size)
		}
	}
	var wholeHash hash.Hash
	if whole {
		wholeHash = sha256.New()
	}
	sums := make([]sectionSum, len(spans))
	var secHash hash.Hash
	bufs := [2][]byte{make([]byte, hashChunk), make([]byte, hashChunk)}
	var pending sync.WaitGroup // the section hash of the previous read
	cur := 0                   // the span at or after pos
	pos := int64(0)
	end := size
	if !whole && len(spans) > 0 { // only the sections are wanted
		pos, end = spans[0].off, spans[len(spans)-1].off+spans[len(spans)-1].n
	}
	for k := 0; pos < end; k++ {
		if err := ctx.Err(); err != nil {
			pending.Wait()
			return "", nil, err
		}
		// The next read stops at a span's start, end, or chunk boundary, so
		// that each chunk fingerprint covers exactly one section chunk.
		next := min(pos+hashChunk, end)
		in := -1
		for cur < len(spans) && spans[cur].off+spans[cur].n <= pos {
			cur++
		}
		if cur < len(spans) {
			sp := spans[cur]
			if pos >= sp.off {
				in = cur
				next = min(sp.off+((pos-sp.off)/hashChunk+1)*hashChunk, sp.off+sp.n)
			} else {
				next = min(next, sp.off)
			}
		}
		buf := bufs[k%2][:next-pos]
		if n, err := r.ReadAt(buf, pos); err != nil && n < len(buf) {
			pending.Wait()
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, fmt.Errorf("hashing: reading %d bytes at offset %d: %w", len(buf), pos, err)
		}
		pending.Wait() // the other buffer is free again
		if in >= 0 {
			if pos == spans[in].off {
				secHash = sha256.New()
			}
			sum := &sums[in]
			last := next == spans[in].off+spans[in].n
			h := secHash
			pending.Go(func() {
				h.Write(buf)
				sum.chunks = append(sum.chunks, maphash.Bytes(chunkSeed, buf))
				if last {
					sum.sha = hex.EncodeToString(h.Sum(nil))
				}
			})
		}
		if wholeHash != nil {
			wholeHash.Write(buf)
		}
		pos = next
	}
	pending.Wait()
	for i, sp := range spans { // empty sections are never read
		if sp.n == 0 {
			sums[i].sha = hex.EncodeToString(sha256.New().Sum(nil))
		}
	}
	if wholeHash == nil {
		return "", sums, nil
	}
	return hex.EncodeToString(wholeHash.Sum(nil)), sums, nil
}

// firstDiffByChunks returns the first offset at which sections a and b of
// the two images differ, reading only the chunks whose fingerprints differ
// (and confirming by their bytes), or -1 when they are equal.
func firstDiffByChunks(ra, rb io.ReaderAt, a, b span, fa, fb []uint64) (int64, error) {
	if len(fa) != int((a.n+hashChunk-1)/hashChunk) || len(fb) != int((b.n+hashChunk-1)/hashChunk) {
		return -1, errors.New("chunk fingerprints do not cover the sections")
	}
	bufA, bufB := make([]byte, hashChunk), make([]byte, hashChunk)
	common := min(a.n, b.n)
	for k := 0; int64(k)*hashChunk < common; k++ {
		off := int64(k) * hashChunk
		n := min(hashChunk, common-off)
		fullA, fullB := n == min(hashChunk, a.n-off), n == min(hashChunk, b.n-off)
		if fullA && fullB && fa[k] == fb[k] {
			continue
		}
		if _, err := ra.ReadAt(bufA[:n], a.off+off); err != nil {
			return -1, &bytecmp.ReadError{Side: "a", Off: a.off + off, Err: err}
		}
		if _, err := rb.ReadAt(bufB[:n], b.off+off); err != nil {
			return -1, &bytecmp.ReadError{Side: "b", Off: b.off + off, Err: err}
		}
		if !bytes.Equal(bufA[:n], bufB[:n]) {
			for i := range n {
				if bufA[i] != bufB[i] {
					return off + i, nil
				}
			}
		}
	}
	if a.n != b.n {
		return common, nil
	}
	return -1, nil
}
