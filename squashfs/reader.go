package squashfs

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/tree"
)

// Cache bounds. A metadata block holds at most 8 KiB, a fragment block at
// most one data block (up to 1 MiB).
const (
	metaCacheBlocks = 512 // decoded metadata blocks: at most 4 MiB
	fragCacheBlocks = 4   // decoded fragment blocks: at most 4 blocks
)

// A Reader reads one squashfs image. Its methods are safe for concurrent use
// by several goroutines; a Walker it returns is not.
type Reader struct {
	Super   Superblock
	Options CompressorOptions // zero if the image has none

	ra    io.ReaderAt
	end   int64 // Super.BytesUsed
	dec   decompressor
	ids   []uint32
	xattr xattrTable

	meta  *lru[int64, *metaBlock]
	frags *lru[uint32, fragBlock]
	bufs  sync.Pool // *[]byte of bufSize, for stored (compressed) bytes
	bufSz int

	budget *budget.Budget
	ctx    context.Context
	shared *DecodeCache
	// xattrSets and xattrValues memoise decoded xattr sets (by key/value
	// reference and count) and out-of-line values (by reference): an image
	// can make any number of inodes share one set, and any number of keys
	// share one value, and each is decoded once while it stays cached.
	xattrSets   *lru[xattrSetKey, []tree.Xattr]
	xattrValues *lru[uint64, tree.Xattr]
}

// Options set what a Reader may spend. The zero value means no budget and
// no cancellation.
type Options struct {
	// Budget is charged with everything the Reader holds because the image
	// said so: its caches, id table, the directory listings a Walker holds,
	// each entry's block list and xattrs. A refused charge is an error
	// wrapping *budget.ExceededError. Nil: unlimited.
	Budget *budget.Budget
	// Context, when set, is checked before each block is read and decoded
	// (metadata or data), so that any work an image asks for stops soon
	// after the context is done; the error then wraps ctx.Err().
	Context context.Context
	// Shared, when set, is a cache of decoded blocks this Reader shares
	// with others (the other image of a pair): a block stored with the
	// same bytes as one already decoded is copied, not decoded again.
	Shared *DecodeCache
}

// Open reads and checks the superblock, compressor options, id table and
// xattr table header of the image in r, of the given size. The rest of the
// image is read on demand.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	return OpenOptions(r, size, Options{})
}

// OpenOptions is Open with a budget and a context.
func OpenOptions(r io.ReaderAt, size int64, o Options) (*Reader, error) {
	var sb [superblockSize]byte
	if size < superblockSize {
		return nil, newErr(0, "superblock", ErrTruncated)
	}
	if _, err := r.ReadAt(sb[:], 0); err != nil {
		return nil, newErr(0, "superblock", err)
	}
	rd := &Reader{Super: parseSuperblock(sb[:]), ra: r, budget: o.Budget, ctx: o.Context, shared: o.Shared}
	if rd.ctx == nil {
		rd.ctx = context.Background()
	}
	s := &rd.Super
	if err := s.validate(size); err != nil {
		return nil, err
	}
	rd.end = int64(s.BytesUsed)
	rd.bufSz = max(int(s.BlockSize), 2+metaSize)
	// The caches' worst case, held for the Reader's life: metadata blocks,
	// fragment blocks, a few pooled buffers, memoised xattrs.
	fixed := int64(metaCacheBlocks*metaSize + (fragCacheBlocks+4)*rd.bufSz + xattrMemoBytes)
	if err := budget.Attach(rd.budget, rd, fixed, "squashfs caches", 0); err != nil {
		return nil, err
	}
	rd.meta = newLRU[int64, *metaBlock](metaCacheBlocks)
	rd.frags = newLRU[uint32, fragBlock](fragCacheBlocks)
	rd.xattrSets = newLRU[xattrSetKey, []tree.Xattr](xattrSetCache)
	rd.xattrValues = newLRU[uint64, tree.Xattr](xattrValueCache)
	var err error
	if rd.dec, err = newDecompressor(s.Compression); err != nil {
		return nil, newErr(20, "superblock", err)
	}
	if s.Flags&FlagCompressorOptions != 0 {
		m, err := rd.metaAt(superblockSize, 0, rd.end)
		if err != nil {
			return nil, err
		}
		if rd.Options, err = parseOptions(s.Compression, m.blk.data, superblockSize); err != nil {
			return nil, err
		}
	}
	if err := rd.readIDs(); err != nil {
		return nil, err
	}
	if err := rd.xattr.init(rd); err != nil {
		return nil, err
	}
	return rd, nil
}

// stopped returns the context's error, wrapped with where it stopped.
func (r *Reader) stopped(off int64, what string) error {
	if err := r.ctx.Err(); err != nil {
		return newErr(off, what, err)
	}
	return nil
}

// readAt reads exactly len(p) bytes at off, which must lie inside the image.
func (r *Reader) readAt(p []byte, off int64, what string) error {
	if off < 0 || off > r.end || int64(len(p)) > r.end-off {
		return newErr(off, what, ErrBounds)
	}
	n, err := r.ra.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = ErrTruncated
	}
	return newErr(off, what, err)
}

func (r *Reader) getBuf() *[]byte {
	if b, ok := r.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, r.bufSz)
	return &b
}

func (r *Reader) putBuf(b *[]byte) { r.bufs.Put(b) }

// decodeBlock reads a block stored at off with stored size n and decodes it
// into dst, returning the decoded bytes. A block stored uncompressed is read
// straight into dst.
func (r *Reader) decodeBlock(dst []byte, off int64, n uint32, compressed bool, what string) ([]byte, error) {
	if int(n) > r.bufSz || (!compressed && int(n) > len(dst)) {
		return nil, corrupt(off, what, "stored size %d larger than the block", n)
	}
	if err := r.stopped(off, what); err != nil {
		return nil, err
	}
	if !compressed {
		if err := r.readAt(dst[:n], off, what); err != nil {
			return nil, err
		}
		return dst[:n], nil
	}
	buf := r.getBuf()
	defer r.putBuf(buf)
	src := (*buf)[:n]
	if err := r.readAt(src, off, what); err != nil {
		return nil, err
	}
	k, err := r.decode(dst, src)
	if err != nil {
		return nil, newErr(off, what, err)
	}
	return dst[:k], nil
}

// decode decodes the stored bytes src into dst, through the shared cache
// when the Reader has one.
func (r *Reader) decode(dst, src []byte) (int, error) {
	return r.shared.decode(r.ctx, r.Super.Compression, r.dec, dst, src)
}

// lookupTable returns the metadata reader positioned at entry i of a table
// of entrySize-byte entries whose blocks are listed, as absolute u64
// offsets, in the index at indexStart.
func (r *Reader) lookupTable(indexStart uint64, i uint64, entrySize int, what string) (*metaReader, error) {
	per := uint64(metaSize / entrySize)
	ptrOff := int64(indexStart) + int64(i/per)*8
	var p [8]byte
	if err := r.readAt(p[:], ptrOff, what+" index"); err != nil {
		return nil, err
	}
	blk := binary.LittleEndian.Uint64(p[:])
	if blk >= uint64(r.end) {
		return nil, corrupt(ptrOff, what+" index", "block offset %d outside the image", blk)
	}
	return r.metaAt(int64(blk), int(i%per)*entrySize, r.end)
}

// readIDs loads the uid/gid table (at most 65535 ids, 256 KiB).
func (r *Reader) readIDs() error {
	n := int(r.Super.IDCount)
	if err := budget.Attach(r.budget, r, int64(4*n), "squashfs id table", int64(r.Super.IDTableStart)); err != nil {
		return err
	}
	r.ids = make([]uint32, n)
	for i := 0; i < n; i += metaSize / 4 {
		m, err := r.lookupTable(r.Super.IDTableStart, uint64(i), 4, "id table")
		if err != nil {
			return err
		}
		k := min(n-i, metaSize/4)
		b, err := m.read(4 * k)
		if err != nil {
			return err
		}
		for j := range k {
			r.ids[i+j] = binary.LittleEndian.Uint32(b[4*j:])
		}
	}
	return nil
}

func (r *Reader) id(i uint16, off int64) (uint32, error) {
	if int(i) >= len(r.ids) {
		return 0, corrupt(off, "inode", "id index %d beyond the %d ids", i, len(r.ids))
	}
	return r.ids[i], nil
}
