package sqfsdiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/squashfs"
	"github.com/isodiff/isodiff/tree"
)

// comparer compares the contents of file pairs from two images: a
// treediff.PieceComparer whose pieces are blocks (compareBlocks). Two files
// of one size in images of one block size are compared block by block;
// any other pair is decompressed as two streams. Either way ctx ends the
// comparison even within a file: an image can claim terabytes in one. Its
// buffers are reused from file to file: one block per side for stored
// bytes (not charged to the budget) and one for decoded bytes.
type comparer struct {
	treediff.PieceComparer[*squashfs.Entry]
	a, b *squashfs.Reader
	// sameCodec: same compressor, options and block size, so equal stored
	// bytes mean equal content.
	sameCodec      bool
	plainA, plainB []byte
	tailA, tailB   []byte
	fragEqual      map[[2]uint32]bool // stored-bytes equality of fragment block pairs
}

func newComparer(a, b *squashfs.Reader, sameStored func(off, n int64) bool, vouched *treediff.Vouched) *comparer {
	c := &comparer{a: a, b: b, fragEqual: map[[2]uint32]bool{}}
	c.PieceComparer = treediff.PieceComparer[*squashfs.Entry]{Node: node, Open: [2]func(*squashfs.Entry) (io.Reader, error){a.Open, b.Open},
		Stored: treediff.StoredBytes{Raw: [2]*io.SectionReader{a.Raw(), b.Raw()}, Same: sameStored, Vouched: vouched}}
	sameBlocks := a.Super.BlockSize == b.Super.BlockSize
	if sameBlocks {
		c.Pieces = c.compareBlocks
	}
	c.sameCodec = sameBlocks && a.Super.Compression == b.Super.Compression &&
		len(field.Diff(a.Options.Fields(), b.Options.Fields())) == 0
	return c
}

// compareBlocks compares two files of equal size and block size block by
// block (PieceComparer.Pieces): a block whose stored bytes are equal (same
// codec) is equal; other blocks are decoded and compared. Then the tails in
// the fragment blocks. It returns the first differing offset, or -1 when
// equal.
//
// Past the first difference it goes on comparing stored bytes only (no
// decoding), to record in c.Spans the block ranges outside which the files
// are proven equal: an explanation then reads only those ranges. They are
// lost (not known) with different codecs or too many.
func (c *comparer) compareBlocks(ctx context.Context, ea, eb *squashfs.Entry) (first int64, byRaw bool, err error) {
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
			c.Spans.Add(blockStart, blockStart+int64(ba.Len))
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
			c.Spans.Add(blockStart, blockStart+int64(ba.Len))
		}
	}
	if first >= 0 && !c.sameCodec {
		c.Spans.Lose()
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
		c.Spans.Add(tailStart, ea.Size)
	}
	return first, false, nil
}

// storedEqual compares the stored bytes of two blocks of equal stored size.
func (c *comparer) storedEqual(ba, bb squashfs.Block) (bool, error) {
	if ba.Size == 0 {
		return true, nil // both sparse
	}
	return c.Stored.Equal(ba.Off, bb.Off, int64(ba.Size))
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
