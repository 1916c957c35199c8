package erofsdiff

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/tree"
)

// comparer compares the contents of file pairs from two images: a
// treediff.PieceComparer whose pieces are extents (compareExtents). Two
// files of one size are compared extent by extent; files of different
// sizes are decoded as two streams. Either way ctx ends the comparison even
// within a file. Its buffers are reused from file to file: one extent per
// side for stored bytes and one for decoded bytes, all charged to the
// budget (Stored.Grow) until Release.
type comparer struct {
	treediff.PieceComparer[*erofs.Entry]
	a, b *erofs.Reader
	// sameCodec: same block size and lz4 padding, so equal stored bytes of
	// extents with equal boundaries, sizes and algorithms mean equal
	// content.
	sameCodec      bool
	plainA, plainB []byte
	// packedSame memoises, by the two packed extents' positions and stored
	// size, whether a pcluster of the packed inodes stores the same bytes
	// in both images: the fragments of hundreds of small files share one.
	packedSame map[[3]int64]bool
	// packedA and packedB hold the packed extents behind one fragment
	// piece (a few: a piece is at most 64 KiB), reused.
	packedA, packedB []erofs.Extent
}

// packedMemo bounds packedSame (it starts again when full).
const packedMemo = 1024

func newComparer(a, b *erofs.Reader, sameStored func(off, n int64) bool, bud *budget.Budget, vouched *treediff.Vouched) *comparer {
	c := &comparer{a: a, b: b}
	c.PieceComparer = treediff.PieceComparer[*erofs.Entry]{Node: node, Open: [2]func(*erofs.Entry) (io.Reader, error){a.Open, b.Open},
		Pieces: c.compareExtents,
		Stored: treediff.StoredBytes{Raw: [2]*io.SectionReader{a.Raw(), b.Raw()}, Same: sameStored, Vouched: vouched,
			Budget: bud, What: "erofs content comparison buffers"}}
	c.sameCodec = a.Super.BlkSzBits == b.Super.BlkSzBits &&
		a.Super.FeatureIncompat&erofs.FeatureZeroPadding == b.Super.FeatureIncompat&erofs.FeatureZeroPadding
	return c
}

// Release gives back the buffers and their charge.
func (c *comparer) Release() {
	c.PieceComparer.Release()
	c.plainA, c.plainB = nil, nil
}

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

// compareExtents compares two files of equal size (PieceComparer.Pieces)
// by walking both extent lists in step. Where both cut an extent at the
// same offsets and store it alike (same codec, stored length and
// algorithm), equal stored bytes prove the extent equal without decoding
// it; elsewhere the overlapping decoded bytes are compared. It returns the
// first differing offset, or -1 when equal. Compressed extents are usually
// cut alike in two builds of one tree, until a difference: lz4 packs as
// much input into each physical cluster as fits, so past a change the cuts
// can move and the rest is decoded.
//
// Past the first difference it goes on, comparing stored bytes where the
// cuts agree and decoded bytes where they do not, to record in c.Spans the
// ranges outside which the files are proven equal.
func (c *comparer) compareExtents(ctx context.Context, ea, eb *erofs.Entry) (first int64, byRaw bool, err error) {
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
			// A fragment stores nothing of the file's own: its bytes are
			// the packed inode's, at the same offset in both, and equal
			// when the packed inodes' pclusters holding them are cut alike
			// and store the same bytes.
			if xa.Fragment && xb.Fragment && xa.Phys == xb.Phys {
				equal, err := c.samePacked(xa.Phys, xa.Len)
				if err != nil {
					return -1, false, err
				}
				if equal {
					pos = end
					continue
				}
			}
			if xa.Stored == xb.Stored && xa.Compressed == xb.Compressed && xa.Algorithm == xb.Algorithm &&
				xa.Partial == xb.Partial && xa.Interlaced == xb.Interlaced &&
				!xa.Hole() && !xb.Hole() && !xa.Fragment && !xb.Fragment && xa.Stored > 0 {
				equal, err := c.Stored.Equal(xa.Phys, xb.Phys, xa.Stored)
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
					c.Spans.Add(pos, end)
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
			if *buf, err = c.Stored.Grow(*buf, s[i].x.Len); err != nil {
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
			c.Spans.Add(pos, end)
		}
		pos = end
	}
	return first, byRaw && first < 0, nil
}

// samePacked reports whether the packed inodes of both images hold the
// same bytes at [off, off+n) by their stored bytes: the pclusters holding
// them are cut alike in both (offsets, lengths, stored sizes, algorithm,
// layout) and store the same bytes. False means not proven (decode).
func (c *comparer) samePacked(off, n int64) (bool, error) {
	var err error
	if c.packedA, err = collect(c.packedA[:0], c.a.PackedExtents(off, n)); err != nil {
		return false, tree.NewSideError(0, err)
	}
	if c.packedB, err = collect(c.packedB[:0], c.b.PackedExtents(off, n)); err != nil {
		return false, tree.NewSideError(1, err)
	}
	if len(c.packedA) != len(c.packedB) {
		return false, nil
	}
	for i, pa := range c.packedA {
		pb := c.packedB[i]
		if pa.Off != pb.Off || pa.Len != pb.Len || pa.Stored != pb.Stored || pa.Stored <= 0 ||
			pa.Compressed != pb.Compressed || pa.Algorithm != pb.Algorithm || pa.Partial != pb.Partial ||
			pa.Interlaced != pb.Interlaced || pa.Inline != pb.Inline || pa.Hole() || pb.Hole() {
			return false, nil
		}
		key := [3]int64{pa.Phys, pb.Phys, pa.Stored}
		equal, known := c.packedSame[key]
		if !known {
			if equal, err = c.Stored.Equal(pa.Phys, pb.Phys, pa.Stored); err != nil {
				return false, err
			}
			if c.packedSame == nil || len(c.packedSame) >= packedMemo {
				c.packedSame = make(map[[3]int64]bool)
			}
			c.packedSame[key] = equal
		}
		if !equal {
			return false, nil
		}
	}
	return true, nil
}

// collect appends the extents seq yields to xs, up to its first error.
func collect(xs []erofs.Extent, seq iter.Seq2[erofs.Extent, error]) ([]erofs.Extent, error) {
	for x, err := range seq {
		if err != nil {
			return xs, err
		}
		xs = append(xs, x)
	}
	return xs, nil
}
