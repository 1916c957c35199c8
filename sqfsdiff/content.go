package sqfsdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// comparer compares the contents of file pairs from two images. Its
// buffers are reused from file to file: one block per side for stored
// bytes and one for decoded bytes.
type comparer struct {
	a, b *squashfs.Reader
	// sameCodec: same compressor, options and block size, so equal stored
	// bytes mean equal content.
	sameCodec bool
	// sameBlocks: same block size, so files can be compared block by block.
	sameBlocks     bool
	rawA, rawB     []byte
	plainA, plainB []byte
	rawSections    [2]*io.SectionReader
	tailA, tailB   []byte
	fragEqual      map[[2]uint32]bool // stored-bytes equality of fragment block pairs
	// spans are the last compared pair's possibly differing ranges (see
	// compareBlocks); spansLost is set when there were too many.
	spans     []report.Range
	spansLost bool
	// sameStored is Options.SameStored; knownStored counts the bytes it
	// vouched for.
	sameStored  func(off, n int64) bool
	knownStored int64
}

func newComparer(a, b *squashfs.Reader, sameStored func(off, n int64) bool) *comparer {
	c := &comparer{a: a, b: b, fragEqual: map[[2]uint32]bool{}, sameStored: sameStored}
	c.sameBlocks = a.Super.BlockSize == b.Super.BlockSize
	c.sameCodec = c.sameBlocks && a.Super.Compression == b.Super.Compression &&
		len(field.Diff(a.Options.Fields(), b.Options.Fields())) == 0
	c.rawSections = [2]*io.SectionReader{a.Raw(), b.Raw()}
	return c
}

// compare returns nil when the two files hold the same bytes, else where
// they differ. byRaw reports that equality was proven from stored bytes
// alone, without decompressing any data block. It stops with ctx's error
// when ctx ends, even within a file: an image can claim terabytes in one.
func (c *comparer) compare(ctx context.Context, ea, eb *squashfs.Entry) (diff *report.ContentDiff, byRaw bool, err error) {
	if ea.Size == eb.Size && c.sameBlocks {
		first, byRaw, err := c.compareBlocks(ctx, ea, eb)
		if err != nil {
			return nil, false, err
		}
		if first < 0 {
			return nil, byRaw, nil
		}
		return &report.ContentDiff{SizeA: ea.Size, SizeB: eb.Size, FirstDiff: first}, false, nil
	}
	c.spansLost = true
	return c.compareStreams(ctx, ea, eb)
}

// compareStreams decodes both files as streams and compares them.
func (c *comparer) compareStreams(ctx context.Context, ea, eb *squashfs.Entry) (*report.ContentDiff, bool, error) {
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
		return nil, false, err // a *tree.SideError names its side
	}
	if res.Equal {
		return nil, false, nil
	}
	return &report.ContentDiff{SizeA: ea.Size, SizeB: eb.Size, FirstDiff: res.FirstDiff}, false, nil
}

// maxSpans bounds the spans kept for one file pair; past it they are
// dropped (not known).
const maxSpans = 1024

// compareBlocks compares two files of equal size and block size block by
// block: a block whose stored bytes are equal (same codec) is equal; other
// blocks are decoded and compared. Then the tails in the fragment blocks.
// It returns the first differing offset, or -1 when equal.
//
// Past the first difference it goes on comparing stored bytes only (no
// decoding), to record in c.spans the block ranges outside which the files
// are proven equal: an explanation then reads only those ranges. c.spans
// is nil when they are not known (different codecs, too many).
func (c *comparer) compareBlocks(ctx context.Context, ea, eb *squashfs.Entry) (first int64, byRaw bool, err error) {
	c.spans, c.spansLost = c.spans[:0], false
	// Walk both block lists in step (a file can list 2^24 blocks: they
	// are never copied out).
	if len(ea.BlockSizes) != len(eb.BlockSizes) {
		return -1, false, errors.New("equal sizes but different block counts")
	}
	nextB, stopB := iter.Pull(c.b.Blocks(eb))
	defer stopB()
	first, byRaw = -1, true
	bs := int64(c.a.Super.BlockSize)
	for ba := range c.a.Blocks(ea) {
		if err := ctx.Err(); err != nil {
			return -1, false, err
		}
		bb, _ := nextB()
		if c.sameCodec && ba.Size == bb.Size && ba.Compressed == bb.Compressed {
			equal, err := c.storedEqual(ba, bb)
			if err != nil {
				return -1, false, err
			}
			if equal {
				continue
			}
		}
		byRaw = false
		blockStart := int64(ba.Index) * bs
		if first >= 0 {
			if !c.sameCodec {
				break // the spans cannot be known without decoding
			}
			c.addSpan(blockStart, blockStart+int64(ba.Len))
			continue
		}
		da, err := c.a.ReadBlock(c.plainA, ba)
		if err != nil {
			return -1, false, tree.NewSideError(0, err)
		}
		c.plainA = da[:cap(da)]
		db, err := c.b.ReadBlock(c.plainB, bb)
		if err != nil {
			return -1, false, tree.NewSideError(1, err)
		}
		c.plainB = db[:cap(db)]
		if i := bytecmp.Index(da, db); i >= 0 {
			first = blockStart + int64(i)
			c.addSpan(blockStart, blockStart+int64(ba.Len))
		}
	}
	if first >= 0 && !c.sameCodec {
		c.spansLost = true
		return first, false, nil
	}
	tail := ea.Size - int64(len(ea.BlockSizes))*bs
	if tail <= 0 {
		return first, byRaw && first < 0, nil
	}
	tailStart := int64(len(ea.BlockSizes)) * bs
	if ea.Fragment != squashfs.NoFragment && eb.Fragment != squashfs.NoFragment && ea.FragOffset == eb.FragOffset {
		same, err := c.fragmentsStoredEqual(ea.Fragment, eb.Fragment)
		if err != nil {
			return -1, false, err
		}
		if same {
			return first, byRaw && first < 0, nil
		}
	}
	byRaw = false
	ta, err := c.a.ReadTail(c.tailA[:0], ea)
	if err != nil {
		return -1, false, tree.NewSideError(0, err)
	}
	c.tailA = ta
	tb, err := c.b.ReadTail(c.tailB[:0], eb)
	if err != nil {
		return -1, false, tree.NewSideError(1, err)
	}
	c.tailB = tb
	if int64(len(ta)) != tail || int64(len(tb)) != tail {
		return -1, false, fmt.Errorf("%s: tails of %d and %d bytes, want %d", ea.Path, len(ta), len(tb), tail)
	}
	if i := bytecmp.Index(ta, tb); i >= 0 {
		if first < 0 {
			first = tailStart + int64(i)
		}
		c.addSpan(tailStart, ea.Size)
	}
	return first, false, nil
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

// storedEqual compares the stored bytes of two blocks of equal stored size.
func (c *comparer) storedEqual(ba, bb squashfs.Block) (bool, error) {
	if ba.Size == 0 {
		return true, nil // both sparse
	}
	if ba.Off == bb.Off && c.sameStored != nil && c.sameStored(ba.Off, int64(ba.Size)) {
		c.knownStored += int64(ba.Size)
		return true, nil // known equal without reading
	}
	n := int(ba.Size)
	if cap(c.rawA) < n {
		c.rawA, c.rawB = make([]byte, n), make([]byte, n)
	}
	ra, rb := c.rawA[:n], c.rawB[:n]
	if _, err := c.rawSections[0].ReadAt(ra, ba.Off); err != nil {
		return false, tree.NewSideError(0, err)
	}
	if _, err := c.rawSections[1].ReadAt(rb, bb.Off); err != nil {
		return false, tree.NewSideError(1, err)
	}
	return bytes.Equal(ra, rb), nil
}

// fragmentsStoredEqual reports whether fragment blocks fa and fb have the
// same stored bytes (same codec only). Results are remembered: many files
// share one fragment block.
func (c *comparer) fragmentsStoredEqual(fa, fb uint32) (bool, error) {
	if !c.sameCodec {
		return false, nil
	}
	key := [2]uint32{fa, fb}
	if v, ok := c.fragEqual[key]; ok {
		return v, nil
	}
	ia, err := c.a.Fragment(fa)
	if err != nil {
		return false, tree.NewSideError(0, err)
	}
	ib, err := c.b.Fragment(fb)
	if err != nil {
		return false, tree.NewSideError(1, err)
	}
	same := false
	if ia.Size == ib.Size && ia.Compressed == ib.Compressed {
		same, err = c.storedEqual(
			squashfs.Block{Off: int64(ia.Start), Size: ia.Size, Compressed: ia.Compressed},
			squashfs.Block{Off: int64(ib.Start), Size: ib.Size, Compressed: ib.Compressed})
		if err != nil {
			return false, err
		}
	}
	if len(c.fragEqual) >= maxRememberedFragments {
		clear(c.fragEqual)
	}
	c.fragEqual[key] = same
	return same, nil
}

// maxRememberedFragments bounds the fragment-pair memo.
const maxRememberedFragments = 4096
