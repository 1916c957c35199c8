// Package bytecmp finds where two byte streams first differ, reading both
// in fixed-size chunks through pooled buffers: the memory it uses does not
// grow with the files it compares.
package bytecmp

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/isodiff/isodiff/tree"
)

// ChunkSize is how much of each stream is read per step.
const ChunkSize = 256 << 10

var pool = sync.Pool{New: func() any { b := make([]byte, 2*ChunkSize); return &b }}

// Result says whether two streams are equal and, if not, the offset of the
// first differing byte (or the length of the shorter stream when one is a
// prefix of the other).
type Result struct {
	Equal     bool
	FirstDiff int64 // -1 when Equal
}

// FirstDiff reads a and b in step until they differ or both end. A read
// error other than the end of a stream is returned as a *tree.SideError (Side 0 for a, 1 for b, Off where reading failed).
func FirstDiff(a, b io.Reader) (Result, error) {
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	ba, bb := (*bp)[:ChunkSize], (*bp)[ChunkSize:]
	var off int64
	for {
		na, errA := io.ReadFull(a, ba)
		nb, errB := io.ReadFull(b, bb)
		if errA != nil && !isEnd(errA) {
			return Result{FirstDiff: off}, &tree.SideError{Side: 0, Off: off + int64(na), Err: errA}
		}
		if errB != nil && !isEnd(errB) {
			return Result{FirstDiff: off}, &tree.SideError{Side: 1, Off: off + int64(nb), Err: errB}
		}
		n := min(na, nb)
		if !bytes.Equal(ba[:n], bb[:n]) {
			i := 0
			for ba[i] == bb[i] {
				i++
			}
			return Result{FirstDiff: off + int64(i)}, nil
		}
		if na != nb {
			return Result{FirstDiff: off + int64(n)}, nil
		}
		off += int64(n)
		if isEnd(errA) || isEnd(errB) {
			return Result{Equal: true, FirstDiff: -1}, nil
		}
	}
}

func isEnd(err error) bool { return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) }

// Ranges returns the differing byte ranges [start, end) of a and b, joining
// differences closer than gap bytes, at most max ranges. Bytes past the end
// of the shorter slice form a final range.
func Ranges(a, b []byte, gap, max int) [][2]int {
	var out [][2]int
	n := min(len(a), len(b))
	for i := 0; i < n && len(out) < max; i++ {
		if a[i] == b[i] {
			continue
		}
		start, end := i, i+1
		for j := i + 1; j < n && j < end+gap; j++ {
			if a[j] != b[j] {
				end = j + 1
			}
		}
		out = append(out, [2]int{start, end})
		i = end - 1
	}
	if len(a) != len(b) && len(out) < max {
		out = append(out, [2]int{n, len(a) + len(b) - n})
	}
	return out
}

// Index returns the offset of the first byte where a and b differ, the
// shorter one's length when one is a prefix of the other, or -1 when they
// are equal.
func Index(a, b []byte) int {
	n := min(len(a), len(b))
	if bytes.Equal(a[:n], b[:n]) {
		if len(a) == len(b) {
			return -1
		}
		return n
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// ContextReader reads r until ctx is done, then returns ctx's error: a
// long read (a file decoded to its end, a hash over it) stops promptly.
func ContextReader(ctx interface{ Err() error }, r io.Reader) io.Reader {
	return ctxReader{ctx, r}
}

type ctxReader struct {
	ctx interface{ Err() error }
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
