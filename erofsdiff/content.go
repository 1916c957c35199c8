package erofsdiff

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/report"
)

// comparer compares the contents of file pairs from two images. Its
// buffers are reused from file to file: one extent per side for stored
// bytes and one for decoded bytes.
type comparer struct {
	a, b *erofs.Reader
	// sameCodec: same block size and lz4 padding, so equal stored bytes of
	// extents with equal boundaries, sizes and algorithms mean equal
	// content.
	sameCodec      bool
	rawA, rawB     []byte
	plainA, plainB []byte
	rawSections    [2]*io.SectionReader
	// spans are the last compared pair's possibly differing ranges (see
	// compareExtents); spansLost is set when they are not known.
	spans     []report.Range
	spansLost bool
	// sameStored is Options.SameStored; knownStored counts the bytes it
	// vouched for.
	sameStored  func(off, n int64) bool
	knownStored int64
	budget      *budget.Budget
	held        int64
}

func newComparer(a, b *erofs.Reader, sameStored func(off, n int64) bool, bud *budget.Budget) *comparer {
	c := &comparer{a: a, b: b, sameStored: sameStored, budget: bud}
	c.sameCodec = a.Super.BlkSzBits == b.Super.BlkSzBits &&
		a.Super.FeatureIncompat&erofs.FeatureZeroPadding == b.Super.FeatureIncompat&erofs.FeatureZeroPadding
	c.rawSections = [2]*io.SectionReader{a.Raw(), b.Raw()}
	return c
}

// grow returns buf with room for n bytes, charging the budget for what it
// adds (the comparer's buffers live as long as the comparison).
func (c *comparer) grow(buf []byte, n int64) ([]byte, error) {
	if int64(cap(buf)) >= n {
		return buf[:n], nil
	}
	if err := c.budget.Charge(n-int64(cap(buf)), "erofs content comparison buffers", -1); err != nil {
		return nil, err
	}
	c.held += n - int64(cap(buf))
	return make([]byte, n), nil
}

// release gives back the buffers' charge.
func (c *comparer) release() {
	c.budget.Release(c.held)
	c.held = 0
	c.rawA, c.rawB, c.plainA, c.plainB = nil, nil, nil, nil
}

// compare returns nil when the two files hold the same bytes, else where
// they differ. byRaw reports that equality was proven from stored bytes
// alone, without decompressing anything. It stops with ctx's error when
// ctx ends, even within a file.
func (c *comparer) compare(ctx context.Context, ea, eb *erofs.Entry) (diff *report.ContentDiff, byRaw bool, err error) {
	if ea.Size == eb.Size {
		first, byRaw, err := c.compareExtents(ctx, ea, eb)
		if err != nil {
			return nil, false, err
		}
		if first < 0 {
			return nil, byRaw, nil
		}
		return &report.ContentDiff{SizeA: ea.Size, SizeB: eb.Size, FirstDiff: first}, false, nil
	}
	c.spans, c.spansLost = c.spans[:0], true
	return c.compareStreams(ctx, ea, eb)
}

// compareStreams decodes both files as streams and compares them.
func (c *comparer) compareStreams(ctx context.Context, ea, eb *erofs.Entry) (*report.ContentDiff, bool, error) {
	ra, err := c.a.Open(ea)
	if err != nil {
		return nil, false, tree.NewSideError(0, err)
	}
	rb, err := c.b.Open(eb)
	if err != nil {
		return nil, false, tree.NewSideError(1, err)
	}
	res, err := bytecmp.FirstDiff(bytecmp.ContextReader(ctx, ra), bytecmp.ContextReader(ctx, rb))
	if err != nil {
		return nil, false, err
	}
	if res.Equal {
		return nil, false, nil
	}
	return &report.ContentDiff{SizeA: ea.Size, SizeB: eb.Size, FirstDiff: res.FirstDiff}, false, nil
}

// maxSpans bounds the spans kept for one file pair; past it they are
// dropped (not known).
const maxSpans = 1024

// side is one file's extent stream during compareExtents.
type side struct {
	next    func() (erofs.Extent, error, bool)
	x       erofs.Extent
	decoded []byte // x's bytes once decoded, else nil
}

// advance moves s to the extent holding pos.
func (s *side) advance(pos int64, n int) error {
	for s.x.Len == 0 || s.x.Off+s.x.Len <= pos {
		x, err, ok := s.next()
		if err != nil {
			return tree.NewSideError(n, err)
		}
		if !ok || x.Len <= 0 || x.Off > pos {
			return tree.NewSideError(n, fmt.Errorf("extents end or skip before offset %d", pos))
		}
		s.x, s.decoded = x, nil
	}
	return nil
}

// compareExtents compares two files of equal size by walking both extent
// lists in step. Where both cut an extent at the same offsets and store it
// alike (same codec, stored length and algorithm), equal stored bytes
// prove the extent equal without decoding it; elsewhere the overlapping
// decoded bytes are compared. It returns the first differing offset, or
// -1 when equal. Compressed extents are usually cut alike in two builds of
// one tree, until a difference: lz4 packs as much input into each
// physical cluster as fits, so past a change the cuts can move and the
// rest is decoded.
//
// Past the first difference it goes on, comparing stored bytes where the
// cuts agree and decoded bytes where they do not, to record in c.spans the
// ranges outside which the files are proven equal.
func (c *comparer) compareExtents(ctx context.Context, ea, eb *erofs.Entry) (first int64, byRaw bool, err error) {
	c.spans, c.spansLost = c.spans[:0], false
	var s [2]side
	for i, pair := range [2]struct {
		r *erofs.Reader
		e *erofs.Entry
	}{{c.a, ea}, {c.b, eb}} {
		next, stop := iter.Pull2(pair.r.Extents(pair.e))
		defer stop()
		s[i] = side{next: next}
	}
	first, byRaw = -1, true
	for pos := int64(0); pos < ea.Size; {
		if err := ctx.Err(); err != nil {
			return -1, false, err
		}
		for i := range s {
			if err := s[i].advance(pos, i); err != nil {
				return -1, false, err
			}
		}
		xa, xb := s[0].x, s[1].x
		end := min(xa.Off+xa.Len, xb.Off+xb.Len)
		if xa.Off == xb.Off && xa.Len == xb.Len && c.sameCodec {
			if xa.Hole() && xb.Hole() {
				pos = end
				continue
			}
			if xa.Stored == xb.Stored && xa.Compressed == xb.Compressed && xa.Algorithm == xb.Algorithm && !xa.Hole() && !xb.Hole() {
				equal, err := c.storedEqual(xa, xb)
				if err != nil {
					return -1, false, err
				}
				if equal {
					pos = end
					continue
				}
				if first >= 0 {
					// Known to differ somewhere in it: no need to decode.
					byRaw = false
					c.addSpan(pos, end)
					pos = end
					continue
				}
			}
		}
		byRaw = false
		for i, r := range [2]*erofs.Reader{c.a, c.b} {
			if s[i].decoded != nil {
				continue
			}
			buf := &c.plainA
			if i == 1 {
				buf = &c.plainB
			}
			if *buf, err = c.grow(*buf, s[i].x.Len); err != nil {
				return -1, false, err
			}
			d, err := r.ReadExtent(*buf, s[i].x)
			if err != nil {
				return -1, false, tree.NewSideError(i, err)
			}
			s[i].decoded = d
		}
		da := s[0].decoded[pos-xa.Off : end-xa.Off]
		db := s[1].decoded[pos-xb.Off : end-xb.Off]
		if i := bytecmp.Index(da, db); i >= 0 {
			if first < 0 {
				first = pos + int64(i)
			}
			c.addSpan(pos, end)
		}
		pos = end
	}
	return first, byRaw && first < 0, nil
}

// addSpan records [start, end) as possibly differing, joining it to the
// previous span when they touch; past maxSpans the spans become unknown.
func (c *comparer) addSpan(start, end int64) {
	if c.spansLost {
		return
	}
	if n := len(c.spans); n > 0 && c.spans[n-1].End == start {
		c.spans[n-1].End = end
		return
	}
	if len(c.spans) == maxSpans {
		c.spansLost = true
		return
	}
	c.spans = append(c.spans, report.Range{Start: start, End: end})
}

// storedEqual compares the stored bytes of two extents of equal stored
// length.
func (c *comparer) storedEqual(xa, xb erofs.Extent) (bool, error) {
	if xa.Phys == xb.Phys && c.sameStored != nil && c.sameStored(xa.Phys, xa.Stored) {
		c.knownStored += xa.Stored
		return true, nil
	}
	var err error
	if c.rawA, err = c.grow(c.rawA, xa.Stored); err != nil {
		return false, err
	}
	if c.rawB, err = c.grow(c.rawB, xb.Stored); err != nil {
		return false, err
	}
	ra, rb := c.rawA[:xa.Stored], c.rawB[:xb.Stored]
	if _, err := c.rawSections[0].ReadAt(ra, xa.Phys); err != nil {
		return false, tree.NewSideError(0, err)
	}
	if _, err := c.rawSections[1].ReadAt(rb, xb.Phys); err != nil {
		return false, tree.NewSideError(1, err)
	}
	return bytes.Equal(ra, rb), nil
}
