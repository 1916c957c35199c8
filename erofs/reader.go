package erofs

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/tree"
)

// A Reader reads one EROFS image. Its methods are safe for concurrent use
// by several goroutines; a Walker or File it returns is for one goroutine
// at a time (File.ReadAt excepted, which is safe for concurrent use).
type Reader struct {
	Super Superblock

	ra     io.ReaderAt
	end    int64 // Super.Blocks << BlkSzBits
	bs     int64
	budget *budget.Budget
	ctx    context.Context
	cache  blockCache
	xmu    sync.Mutex
	xmemo  map[uint32]tree.Xattr // shared xattrs by id
	packed packedState
}

// Options set what a Reader may spend. The zero value means no budget and
// no cancellation.
type Options struct {
	// Budget is charged with everything the Reader holds because the image
	// said so: the directory listings a Walker holds, each entry's xattrs,
	// decoded extents a File holds. A refused charge is an error wrapping
	// *budget.ExceededError. Nil: unlimited.
	Budget *budget.Budget
	// Context, when set, is checked before each structure or extent is
	// read, so that any work an image asks for stops soon after the
	// context is done; the error then wraps ctx.Err().
	Context context.Context
}

// Open reads and checks the superblock of the image in r, of the given
// size. The rest of the image is read on demand.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	return OpenOptions(r, size, Options{})
}

// OpenOptions is Open with a budget and a context.
func OpenOptions(r io.ReaderAt, size int64, o Options) (*Reader, error) {
	if size < SuperblockOffset+superblockSize {
		return nil, newErr(SuperblockOffset, "superblock", ErrTruncated)
	}
	blk := make([]byte, min(size, 1<<16)-SuperblockOffset)
	if _, err := r.ReadAt(blk[:superblockSize], SuperblockOffset); err != nil {
		return nil, newErr(SuperblockOffset, "superblock", err)
	}
	rd := &Reader{Super: parseSuperblock(blk), ra: r, budget: o.Budget, ctx: o.Context}
	if rd.ctx == nil {
		rd.ctx = context.Background()
	}
	s := &rd.Super
	var whole []byte
	if s.Magic == Magic && s.BlkSzBits >= 11 && s.BlkSzBits <= 16 && int64(1)<<s.BlkSzBits <= size {
		whole = blk[:int64(1)<<s.BlkSzBits-SuperblockOffset]
		if n, _ := r.ReadAt(whole, SuperblockOffset); n != len(whole) {
			whole = nil
		}
	}
	if err := s.validate(size, whole); err != nil {
		return nil, err
	}
	rd.bs = s.BlockSize()
	rd.end = int64(s.Blocks) << s.BlkSzBits
	if err := rd.readConfigs(); err != nil {
		return nil, err
	}
	if err := budget.Attach(rd.budget, rd, metaCacheBlocks*(rd.bs+64)+xattrMemoBytes, "erofs metadata cache", SuperblockOffset); err != nil {
		return nil, err
	}
	return rd, nil
}

// Detect reports whether r holds an EROFS image: the magic number at
// offset 1024. It is what a caller scanning files (inside an ISO) for
// images checks before Open.
func Detect(r io.ReaderAt) bool {
	var b [4]byte
	if n, _ := r.ReadAt(b[:], SuperblockOffset); n != len(b) {
		return false
	}
	return binary.LittleEndian.Uint32(b[:]) == Magic
}

// Size returns the bytes the image occupies: its block count times the
// block size (a file can be longer).
func (r *Reader) Size() int64 { return r.end }

// Raw returns the image's bytes that the superblock claims (its blocks),
// for comparing stored bytes.
func (r *Reader) Raw() *io.SectionReader { return io.NewSectionReader(r.ra, 0, r.end) }

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

// nidOff returns the image offset of inode nid.
func (r *Reader) nidOff(nid uint64) int64 {
	return int64(r.Super.MetaBlkAddr)<<r.Super.BlkSzBits + int64(nid)*32
}
