package isodiff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// hashChunk is the read size of a hashing pass and the granularity at
// which two sections are compared.
const hashChunk = 1 << 20

// span is a byte range [off, off+n) of an image.
type span struct{ off, n int64 }

// passSection is a span to hash in a pass, optionally paired with the
// same container's section in the other image's pass.
type passSection struct {
	span
	pair *chunkPairing
	side int
}

// chunkPairing compares one container's two sections chunk by chunk while
// the two hashing passes (one per image, each on its own goroutine) hold
// them in memory: chunk k of side 0 is handed to side 1, which compares it
// with its own chunk k, byte for byte. The result is exact: which chunks are
// equal at equal offsets, and the first differing byte. The passes meet at
// each chunk, which costs nothing much since both do the same work.
type chunkPairing struct {
	common int // chunks compared: those starting inside both sections
	sizes  [2]int64
	give   chan []byte   // side 0's chunk, to side 1
	ack    chan struct{} // side 1 is done with it
	quit   chan struct{} // closed when either pass ends
	once   sync.Once
	// Written by side 1 only, read after both passes end.
	equal  []bool // equal[k]: chunk k holds the same bytes in both
	first  int64  // first differing byte within the common chunks, -1 none
	broken bool   // a pass ended early: the results are incomplete
}

func newChunkPairing(nA, nB int64) *chunkPairing {
	common := int((min(nA, nB) + hashChunk - 1) / hashChunk)
	return &chunkPairing{common: common, sizes: [2]int64{nA, nB}, give: make(chan []byte), ack: make(chan struct{}),
		quit: make(chan struct{}), equal: make([]bool, 0, common), first: -1}
}

// stop releases the other pass when one ends.
func (p *chunkPairing) stop() { p.once.Do(func() { close(p.quit) }) }

// meet is side's step at chunk k (buf holds its bytes). It returns false
// when the other pass has ended, and the pairing is then abandoned.
func (p *chunkPairing) meet(side, k int, buf []byte) bool {
	if k >= p.common {
		return true
	}
	if side == 0 {
		select {
		case p.give <- buf:
		case <-p.quit:
			return false
		}
		select {
		case <-p.ack:
			return true
		case <-p.quit:
			return false
		}
	}
	var other []byte
	select {
	case other = <-p.give:
	case <-p.quit:
		p.broken = true
		return false
	}
	same := bytes.Equal(other, buf)
	p.equal = append(p.equal, same)
	if !same && p.first < 0 {
		n := min(len(other), len(buf))
		i := 0
		for i < n && other[i] == buf[i] {
			i++
		}
		p.first = int64(k)*hashChunk + int64(i)
	}
	select {
	case p.ack <- struct{}{}:
	case <-p.quit:
	}
	return true
}

// done reports whether the pairing compared every common chunk.
func (p *chunkPairing) done() bool { return !p.broken && len(p.equal) == p.common }

// firstDiff returns the first offset at which the two sections differ, or
// -1 when they are equal; ok is false when the pairing did not complete.
func (p *chunkPairing) firstDiff() (first int64, ok bool) {
	if p == nil || !p.done() {
		return -1, false
	}
	if p.first >= 0 {
		return p.first, true
	}
	if p.sizes[0] != p.sizes[1] {
		return min(p.sizes[0], p.sizes[1]), true
	}
	return -1, true
}

// sameAt reports whether bytes [off, off+n) are known equal in both
// sections (offsets relative to each section's start).
func (p *chunkPairing) sameAt(off, n int64) bool {
	if p == nil || !p.done() || off < 0 || n < 0 || off+n > min(p.sizes[0], p.sizes[1]) {
		return false
	}
	for k := off / hashChunk; k*hashChunk < off+n; k++ {
		if k >= int64(len(p.equal)) || !p.equal[k] {
			return false
		}
	}
	return true
}

// hashPass reads r from 0 to size once and returns the hex SHA-256 of the
// whole (when whole is set) and of each section. The sections must be
// sorted and disjoint; when only sections are wanted, the pass reads from
// the first to the end of the last. A section's hash runs on its own
// goroutine beside the whole-image hash, so that both hashes of a byte cost
// one read. Paired sections meet the other image's pass chunk by chunk.
func hashPass(ctx context.Context, r io.ReaderAt, size int64, whole bool, secs []passSection) (string, []string, error) {
	for _, sc := range secs {
		if sc.pair != nil {
			defer sc.pair.stop()
		}
	}
	for i, sc := range secs {
		if sc.off < 0 || sc.n < 0 || sc.off+sc.n > size || (i > 0 && sc.off < secs[i-1].off+secs[i-1].n) {
			return "", nil, fmt.Errorf("hashing: section %d [%d, %d) is out of order or past the end (%d bytes)", i, sc.off, sc.off+sc.n, size)
		}
	}
	var wholeHash hash.Hash
	if whole {
		wholeHash = sha256.New()
	}
	sums := make([]string, len(secs))
	var secHash hash.Hash
	bufs := [2][]byte{make([]byte, hashChunk), make([]byte, hashChunk)}
	var pending sync.WaitGroup // the section hash of the previous read
	defer pending.Wait()
	cur := 0 // the section at or after pos
	pos := int64(0)
	end := size
	if !whole && len(secs) > 0 {
		pos, end = secs[0].off, secs[len(secs)-1].off+secs[len(secs)-1].n
	}
	for k := 0; pos < end; k++ {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		// The next read stops at a section's start, end, or chunk
		// boundary, so that each chunk of a section is one read.
		next := min(pos+hashChunk, end)
		in := -1
		for cur < len(secs) && secs[cur].off+secs[cur].n <= pos {
			cur++
		}
		if cur < len(secs) {
			sc := secs[cur]
			if pos >= sc.off {
				in = cur
				next = min(sc.off+((pos-sc.off)/hashChunk+1)*hashChunk, sc.off+sc.n)
			} else {
				next = min(next, sc.off)
			}
		}
		buf := bufs[k%2][:next-pos]
		if n, err := r.ReadAt(buf, pos); err != nil && n < len(buf) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, fmt.Errorf("hashing: reading %d bytes at offset %d: %w", len(buf), pos, err)
		}
		pending.Wait() // the other buffer is free again
		if in >= 0 {
			sc := secs[in]
			if pos == sc.off {
				secHash = sha256.New()
			}
			if sc.pair != nil && !sc.pair.meet(sc.side, int((pos-sc.off)/hashChunk), buf) {
				secs[in].pair = nil // the other pass ended: go on alone
			}
			last := next == sc.off+sc.n
			h := secHash
			pending.Go(func() {
				h.Write(buf)
				if last {
					sums[in] = hex.EncodeToString(h.Sum(nil))
				}
			})
		}
		if wholeHash != nil {
			wholeHash.Write(buf)
		}
		pos = next
	}
	pending.Wait()
	for i, sc := range secs { // empty sections are never read
		if sc.n == 0 {
			sums[i] = hex.EncodeToString(sha256.New().Sum(nil))
		}
	}
	if wholeHash == nil {
		return "", sums, nil
	}
	return hex.EncodeToString(wholeHash.Sum(nil)), sums, nil
}
