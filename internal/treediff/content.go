package treediff

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// PieceComparer is the FileComparer of the compressed formats (sqfsdiff,
// erofsdiff), which store a file's data in pieces (squashfs blocks, EROFS
// extents) compressed one by one. Two files of one size are compared piece
// by piece by the format's Pieces, which proves a piece equal from its
// stored bytes where it can (Stored) and records the ranges that may differ
// (Spans); any other pair is decoded as two streams and compared to the
// first differing byte (the spans are then not known).
type PieceComparer[E any] struct {
	// Node gives an entry's node.
	Node func(E) *tree.Node
	// Open opens an entry of A (Open[0]) or B (Open[1]) for reading its
	// decoded bytes.
	Open [2]func(E) (io.Reader, error)
	// Pieces, when set, compares two files of one size piece by piece. It
	// returns the first differing offset, or -1 when they are equal, and
	// whether equality was proven from stored bytes alone; it records in
	// Spans (reset before) the ranges outside which the files are proven
	// equal. It stops with ctx's error when ctx ends. When Pieces is nil
	// (the images cut files differently), every pair is streamed.
	Pieces func(ctx context.Context, a, b E) (first int64, byRaw bool, err error)
	Spans  Spans
	Stored StoredBytes
}

// CompareFiles compares a and b (see FileComparer).
func (p *PieceComparer[E]) CompareFiles(ctx context.Context, a, b E) (diff *report.ContentDiff, byRaw bool, spans []report.Range, err error) {
	sizeA, sizeB := p.Node(a).Size, p.Node(b).Size
	if sizeA == sizeB && p.Pieces != nil {
		p.Spans.Reset()
		first, byRaw, err := p.Pieces(ctx, a, b)
		if err != nil {
			return nil, false, nil, err
		}
		if first < 0 {
			return nil, byRaw, nil, nil
		}
		return &report.ContentDiff{SizeA: sizeA, SizeB: sizeB, FirstDiff: first}, false, p.Spans.List(), nil
	}
	p.Spans.Lose()
	diff, err = compareStreams(ctx, p.Open, a, b, sizeA, sizeB)
	return diff, false, nil, err
}

// KnownStored counts the stored bytes Stored.Same vouched for.
func (p *PieceComparer[E]) KnownStored() int64 { return p.Stored.Known }

// Release gives back the stored-byte buffers and their charge.
func (p *PieceComparer[E]) Release() { p.Stored.Release() }

// MaxSpans bounds the spans kept for one file pair; past it they are
// dropped (not known).
const MaxSpans = 1024

// Spans records the byte ranges of a file pair that may differ, outside
// which the two files are proven equal.
type Spans struct {
	list []report.Range
	lost bool
}

// Reset empties s for the next pair.
func (s *Spans) Reset() { s.list, s.lost = s.list[:0], false }

// Lose marks the spans of this pair as not known.
func (s *Spans) Lose() { s.lost = true }

// Add records [start, end) as possibly differing, joining it to the
// previous span when they touch; past MaxSpans the spans become unknown.
func (s *Spans) Add(start, end int64) {
	if s.lost {
		return
	}
	if n := len(s.list); n > 0 && s.list[n-1].End == start {
		s.list[n-1].End = end
		return
	}
	if len(s.list) == MaxSpans {
		s.lost = true
		return
	}
	s.list = append(s.list, report.Range{Start: start, End: end})
}

// List returns the spans recorded, or nil when they are not known. The
// slice is reused after Reset.
func (s *Spans) List() []report.Range {
	if s.lost {
		return nil
	}
	return s.list
}

// StoredBytes compares stored (compressed) byte ranges of two images
// without decoding them. Its two buffers are reused from call to call.
type StoredBytes struct {
	// Raw reads each image (A, B) from its start.
	Raw [2]*io.SectionReader
	// Same, when set, reports whether the n stored bytes at offset off are
	// known to be equal in both images (the differs' Options.SameStored).
	Same func(off, n int64) bool
	// Known counts the bytes Same vouched for; with Vouched, only those of
	// ranges no comparer sharing it counted before.
	Known int64
	// Vouched, when set, is shared by the comparers of one comparison.
	Vouched *Vouched
	// Budget, when set, is charged (as What) for the buffers Grow adds,
	// until Release.
	Budget *budget.Budget
	What   string
	held   int64
	buf    [2][]byte
}

// Equal reports whether the n stored bytes at offA in A and at offB in B
// are equal. Bytes at one offset that Same vouches for are not read. A
// read error names its side (*tree.SideError).
func (s *StoredBytes) Equal(offA, offB, n int64) (bool, error) {
	if offA == offB && s.Same != nil && s.Same(offA, n) {
		s.Known += s.Vouched.add(offA, n)
		return true, nil // known equal without reading
	}
	for i := range s.buf {
		var err error
		if s.buf[i], err = s.Grow(s.buf[i], n); err != nil {
			return false, err
		}
	}
	for i, off := range [2]int64{offA, offB} {
		if _, err := s.Raw[i].ReadAt(s.buf[i][:n], off); err != nil {
			return false, tree.NewSideError(i, err)
		}
	}
	return bytes.Equal(s.buf[0][:n], s.buf[1][:n]), nil
}

// Grow returns buf with room for n bytes, charging Budget for what it adds
// (a comparer's buffers live as long as the comparison).
func (s *StoredBytes) Grow(buf []byte, n int64) ([]byte, error) {
	if int64(cap(buf)) >= n {
		return buf[:n], nil
	}
	if err := s.Budget.Charge(n-int64(cap(buf)), s.What, -1); err != nil {
		return nil, err
	}
	s.held += n - int64(cap(buf))
	return make([]byte, n), nil
}

// Release gives back the buffers and what Grow charged for them.
func (s *StoredBytes) Release() {
	s.Budget.Release(s.held)
	s.held = 0
	s.buf = [2][]byte{}
}

// compareStreams opens a and b, decodes both as streams and compares them
// to the first differing byte: nil when they are equal, else a ContentDiff
// with sizes sizeA and sizeB. An error names its side (*tree.SideError); it
// stops with ctx's error when ctx ends.
func compareStreams[E any](ctx context.Context, open [2]func(E) (io.Reader, error), a, b E, sizeA, sizeB int64) (*report.ContentDiff, error) {
	ra, err := open[0](a)
	if err != nil {
		return nil, tree.NewSideError(0, err)
	}
	rb, err := open[1](b)
	if err != nil {
		return nil, tree.NewSideError(1, err)
	}
	res, err := bytecmp.FirstDiff(bytecmp.ContextReader(ctx, ra), bytecmp.ContextReader(ctx, rb))
	if err != nil {
		return nil, err // a *tree.SideError names its side
	}
	if res.Equal {
		return nil, nil
	}
	return &report.ContentDiff{SizeA: sizeA, SizeB: sizeB, FirstDiff: res.FirstDiff}, nil
}

// Vouched is the set of stored ranges Same vouched for, shared by the
// comparers of one comparison so that a range several files share (a
// squashfs fragment block, an EROFS packed pcluster, blocks of duplicate
// files) counts once, whichever workers compared them: the count is the
// same from run to run. Ranges are keyed by their start (stored pieces are
// whole blocks or pclusters). Each entry is charged to Budget as memory
// the comparison can do without: when it is refused, later ranges are
// counted each time they are vouched for, as without a Vouched.
type Vouched struct {
	Budget *budget.Budget
	mu     sync.Mutex
	seen   map[int64]int64 // start -> the longest length vouched there
	room   int             // entries charged and not used yet
	full   bool
}

// vouchedCharge is what a batch of vouchedBatch entries is charged: a map
// slot with its share of the table.
const (
	vouchedBatch  = 1024
	vouchedCharge = vouchedBatch * 48
)

// add records [off, off+n) and returns how many of its bytes were not
// counted before.
func (v *Vouched) add(off, n int64) int64 {
	if v == nil {
		return n
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.seen[off]
	if n <= old {
		return 0
	}
	if !ok {
		if v.full {
			return n
		}
		if v.room == 0 {
			if budget.AttachOptional(v.Budget, v, vouchedCharge, "stored ranges known equal (a count)", off) != nil {
				v.full = true
				return n
			}
			v.room = vouchedBatch
		}
		v.room--
		if v.seen == nil {
			v.seen = map[int64]int64{}
		}
	}
	v.seen[off] = n
	return n - old
}
