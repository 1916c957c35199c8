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

// hashChunk is the granularity at which two sections are compared.
const hashChunk = 1 << 20

// hashPiece is the read size of a hashing pass: each piece is hashed as
// soon as it is read, while it is still in the CPU's cache (reads of 1 MiB
// hashed afterwards made the pass 10-15% slower than reads of 256 KiB:
// measured on the identical bench pair).
const hashPiece = 256 << 10

// span is a byte range [off, off+n) of an image.
type span struct{ off, n int64 }

// passSection is a section to hash in a pass, optionally paired with the
// same container's section in the other image's pass: span's n bytes from
// image offset off, or, when parts is set, those spans of the image in this
// order (ascending and disjoint, starting at off and n bytes in all), as a
// multi-extent ISO file whose extents are not adjacent is recorded.
type passSection struct {
	span
	parts []span
	pair  *chunkPairing
	side  int
}

// pieces returns the spans of the image the section's bytes are in.
func (sc passSection) pieces() []span {
	if sc.parts != nil {
		return sc.parts
	}
	return []span{sc.span}
}

// end is the image offset just past the section's last byte.
func (sc passSection) end() int64 {
	p := sc.pieces()
	return p[len(p)-1].off + p[len(p)-1].n
}

// valid reports whether the section's parts are ascending, disjoint, not
// empty, and add up to its span.
func (sc passSection) valid() bool {
	if sc.parts == nil {
		return true
	}
	n := int64(0)
	for k, p := range sc.parts {
		if p.off < 0 || p.n <= 0 || k == 0 && p.off != sc.off || k > 0 && p.off < sc.parts[k-1].off+sc.parts[k-1].n {
			return false
		}
		n += p.n
	}
	return n == sc.n
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
	// Written by side 1 only, under mu; read while the passes run (under
	// mu, by sameAt, which waits on cond for the chunks it asks about)
	// and after both end.
	mu     sync.Mutex
	cond   *sync.Cond
	ended  bool   // the passes no longer meet: no chunk will be added
	equal  []bool // equal[k]: chunk k holds the same bytes in both
	first  int64  // first differing byte within the common chunks, -1 none
	broken bool   // a pass ended early: the results are incomplete
}

func newChunkPairing(nA, nB int64) *chunkPairing {
	common := int((min(nA, nB) + hashChunk - 1) / hashChunk)
	p := &chunkPairing{common: common, sizes: [2]int64{nA, nB}, give: make(chan []byte), ack: make(chan struct{}),
		quit: make(chan struct{}), equal: make([]bool, 0, common), first: -1}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// stop releases the other pass when one ends, and whoever waits in sameAt.
func (p *chunkPairing) stop() {
	p.once.Do(func() {
		close(p.quit)
		p.mu.Lock()
		p.ended = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
}

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
		p.mu.Lock()
		p.broken = true
		p.mu.Unlock()
		return false
	}
	same := bytes.Equal(other, buf)
	first := int64(-1)
	if !same {
		n := min(len(other), len(buf))
		i := 0
		for i < n && other[i] == buf[i] {
			i++
		}
		first = int64(k)*hashChunk + int64(i)
	}
	p.mu.Lock()
	p.equal = append(p.equal, same)
	if p.first < 0 {
		p.first = first
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	select {
	case p.ack <- struct{}{}:
	case <-p.quit:
	}
	return true
}

// done reports whether the pairing compared every common chunk.
func (p *chunkPairing) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.broken && len(p.equal) == p.common
}

// firstDiff returns the first offset at which the two sections differ, or
// -1 when they are equal; ok is false when the pairing did not complete.
func (p *chunkPairing) firstDiff() (first int64, ok bool) {
	if p == nil || !p.done() {
		return -1, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first >= 0 {
		return p.first, true
	}
	if p.sizes[0] != p.sizes[1] {
		return min(p.sizes[0], p.sizes[1]), true
	}
	return -1, true
}

// sameAt reports whether bytes [off, off+n) are known equal in both
// sections (offsets relative to each section's start). While the passes
// run, it waits until they have compared the chunks the range touches, or
// have ended (a chunk they did not get to is not known equal): a tree
// comparison can thus run beside the passes, at their pace.
func (p *chunkPairing) sameAt(off, n int64) bool {
	if p == nil || off < 0 || n < 0 || off+n > min(p.sizes[0], p.sizes[1]) {
		return false
	}
	last := (off + max(n, 1) - 1) / hashChunk
	p.mu.Lock()
	defer p.mu.Unlock()
	for int64(len(p.equal)) <= last && !p.ended && !p.broken {
		p.cond.Wait()
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
// sorted and disjoint (a section with parts spans from its first byte to its
// last, and the bytes between its parts belong to no other section); when
// only sections are wanted, only their bytes are read. A section's hash runs
// on its own goroutine beside the whole-image hash, so that both hashes of a
// byte cost one read. Paired sections meet the other image's pass chunk by
// chunk, each chunk being hashChunk bytes of the section (across its parts).
func hashPass(ctx context.Context, r io.ReaderAt, size int64, whole bool, secs []passSection) (string, []string, error) {
	for _, sc := range secs {
		if sc.pair != nil {
			defer sc.pair.stop()
		}
	}
	for i, sc := range secs {
		if !sc.valid() || sc.off < 0 || sc.n < 0 || sc.end() > size || (i > 0 && sc.off < secs[i-1].end()) {
			return "", nil, fmt.Errorf("hashing: section %d [%d, %d) is out of order or past the end (%d bytes)", i, sc.off, sc.end(), size)
		}
	}
	var wholeHash hash.Hash
	if whole {
		wholeHash = sha256.New()
	}
	sums := make([]string, len(secs))
	var secHash hash.Hash
	// A section's chunk is read into bufs[f], possibly in several reads
	// (at its parts' edges), while the previous chunk, in bufs[1-f], is
	// hashed. Other bytes are read into bufs[f] when no chunk is under
	// way, else into gap.
	bufs := [2][]byte{make([]byte, hashChunk), make([]byte, hashChunk)}
	var gap []byte
	f, fill := 0, 0
	var pending sync.WaitGroup // the section hash of the previous chunk
	defer pending.Wait()
	cur := 0       // the section at or after pos
	part := 0      // cur's part holding or after pos
	in := int64(0) // bytes of cur read so far
	read := func(buf []byte, pos int64) error {
		if n, err := r.ReadAt(buf, pos); err != nil && n < len(buf) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("hashing: reading %d bytes at offset %d: %w", len(buf), pos, err)
		}
		return nil
	}
	for pos := int64(0); pos < size; {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		for cur < len(secs) && secs[cur].n == 0 { // empty sections are never read
			cur++
		}
		if cur < len(secs) && pos >= secs[cur].off {
			sc := secs[cur]
			p := sc.pieces()[part]
			if pos >= p.off {
				// In the section: read up to the end of the chunk or
				// of the part, whichever comes first.
				chunkEnd := min((in/hashChunk+1)*hashChunk, sc.n)
				n := min(chunkEnd-in, p.off+p.n-pos, hashPiece)
				buf := bufs[f][fill : fill+int(n)]
				if err := read(buf, pos); err != nil {
					return "", nil, err
				}
				if wholeHash != nil {
					wholeHash.Write(buf)
				}
				pos, in, fill = pos+n, in+n, fill+int(n)
				if pos == p.off+p.n {
					part++
				}
				if in < chunkEnd {
					continue
				}
				chunk := bufs[f][:fill]
				k := int((in - 1) / hashChunk)
				pending.Wait() // the previous chunk is hashed: bufs[1-f] is free
				if k == 0 {
					secHash = sha256.New()
				}
				if sc.pair != nil && !sc.pair.meet(sc.side, k, chunk) {
					secs[cur].pair = nil // the other pass ended: go on alone
				}
				last, idx, h := in == sc.n, cur, secHash
				pending.Go(func() {
					h.Write(chunk)
					if last {
						sums[idx] = hex.EncodeToString(h.Sum(nil))
					}
				})
				f, fill = 1-f, 0
				if last {
					cur, part, in = cur+1, 0, 0
				}
				continue
			}
			// Between two parts: bytes of no section.
			if wholeHash == nil {
				pos = p.off
				continue
			}
			if gap == nil {
				gap = make([]byte, hashPiece)
			}
			buf := gap[:min(hashPiece, p.off-pos)]
			if err := read(buf, pos); err != nil {
				return "", nil, err
			}
			wholeHash.Write(buf)
			pos += int64(len(buf))
			continue
		}
		// Outside the sections.
		next := size
		if cur < len(secs) {
			next = secs[cur].off
		}
		if wholeHash == nil {
			if cur == len(secs) {
				break
			}
			pos = next
			continue
		}
		buf := bufs[f][:min(hashPiece, next-pos)]
		if err := read(buf, pos); err != nil {
			return "", nil, err
		}
		wholeHash.Write(buf)
		pos += int64(len(buf))
	}
	pending.Wait()
	for i, sc := range secs {
		if sc.n == 0 {
			sums[i] = hex.EncodeToString(sha256.New().Sum(nil))
		}
	}
	if wholeHash == nil {
		return "", sums, nil
	}
	return hex.EncodeToString(wholeHash.Sum(nil)), sums, nil
}
