package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
)

// FragmentInfo is one fragment table entry: where a fragment block (the
// packed tails of several files) is stored.
type FragmentInfo struct {
	Start      uint64 // absolute offset of the stored block
	Size       uint32 // stored size in bytes
	Compressed bool
}

// Fragment returns entry i of the fragment table: where fragment block i
// (the packed tails of several files) is stored and whether it is
// compressed. Its stored bytes are Raw()'s [Start, Start+Size); ReadFragment
// decodes it.
func (r *Reader) Fragment(i uint32) (FragmentInfo, error) {
	s := &r.Super
	if i >= s.Fragments {
		return FragmentInfo{}, corrupt(int64(s.FragTableStart), "fragment table", "index %d of %d", i, s.Fragments)
	}
	m, err := r.lookupTable(s.FragTableStart, uint64(i), 16, "fragment table")
	if err != nil {
		return FragmentInfo{}, err
	}
	off := m.offset()
	b, err := m.read(16)
	if err != nil {
		return FragmentInfo{}, err
	}
	w := binary.LittleEndian.Uint32(b[8:])
	f := FragmentInfo{Start: binary.LittleEndian.Uint64(b), Size: w &^ blockUncompressed, Compressed: w&blockUncompressed == 0}
	if f.Size == 0 || f.Size > s.BlockSize || f.Start > uint64(r.end) || uint64(f.Size) > uint64(r.end)-f.Start {
		return FragmentInfo{}, corrupt(off, "fragment table", "entry %d: %d bytes at %d", i, f.Size, f.Start)
	}
	return f, nil
}

// fragBlock is a decoded fragment block in a pooled buffer.
type fragBlock struct {
	buf  *[]byte
	data []byte
}

// withFragment calls fn with decoded fragment block i. The block is cached
// and its buffer recycled on eviction, so fn must not keep the slice.
func (r *Reader) withFragment(i uint32, fn func([]byte)) error {
	call := func(b fragBlock) { fn(b.data) }
	if r.frags.use(i, call) {
		return nil
	}
	f, err := r.Fragment(i)
	if err != nil {
		return err
	}
	buf := r.getBuf()
	data, err := r.decodeBlock((*buf)[:r.Super.BlockSize], int64(f.Start), f.Size, f.Compressed, "fragment block")
	if err != nil {
		r.putBuf(buf)
		return err
	}
	if old, ok := r.frags.putUse(i, fragBlock{buf, data}, call); ok {
		r.putBuf(old.buf)
	}
	return nil
}

// ReadFragment decodes fragment block i into dst, grown as needed, and
// returns the decoded bytes. Decoded fragment blocks are cached (4 of them).
func (r *Reader) ReadFragment(dst []byte, i uint32) ([]byte, error) {
	err := r.withFragment(i, func(b []byte) { dst = append(dst[:0], b...) })
	return dst, err
}

// FragmentData returns decoded fragment block i in a new slice owned by the
// caller. ReadFragment and ReadTail avoid the allocation.
func (r *Reader) FragmentData(i uint32) ([]byte, error) { return r.ReadFragment(nil, i) }

// ReadTail copies the tail of regular file e (its bytes stored in a
// fragment block) into dst, grown as needed; a file without a tail has none.
func (r *Reader) ReadTail(dst []byte, e *Entry) ([]byte, error) {
	dst = dst[:0]
	if e.Fragment == NoFragment {
		return dst, nil
	}
	n := e.Size - int64(len(e.BlockSizes))*int64(r.Super.BlockSize)
	var short error
	err := r.withFragment(e.Fragment, func(frag []byte) {
		if n < 0 || int64(e.FragOffset)+n > int64(len(frag)) {
			short = corrupt(0, "fragment block", "tail of %s (%d bytes at %d) beyond its %d bytes", e.Path, n, e.FragOffset, len(frag))
			return
		}
		dst = append(dst, frag[e.FragOffset:int64(e.FragOffset)+n]...)
	})
	if err == nil && short != nil {
		err = short
		if fi, ferr := r.Fragment(e.Fragment); ferr == nil {
			err.(*FormatError).Off = int64(fi.Start)
		}
	}
	return dst, err
}

// Block is one data block of a regular file as it is stored in the image.
type Block struct {
	Index      int
	Off        int64  // absolute offset of the stored bytes in the image
	Size       uint32 // stored size; 0 for a sparse (all-zero) block
	Len        uint32 // decoded length: the block size, less for a last block
	Compressed bool
}

// Blocks yields the data blocks of regular file e as they are stored, like
// archive/zip's OpenRaw: each block's absolute offset in the image, stored
// size (0 for a sparse, all-zero block), decoded length and whether it is
// compressed. It reads nothing: the list comes with e. Raw().ReadAt(p[:b.Size],
// b.Off) reads a block's stored bytes and ReadBlock decodes it. A file's
// tail, if it has one, is not among the blocks: it is the bytes at
// e.FragOffset of fragment block e.Fragment (Fragment says where that is
// stored, ReadFragment and ReadTail decode it). Two blocks with the same
// stored bytes, length and compression flag, in images with the same
// compressor, options and block size, decode to the same bytes.
func (r *Reader) Blocks(e *Entry) iter.Seq[Block] {
	return func(yield func(Block) bool) {
		bs := int64(r.Super.BlockSize)
		off := int64(e.BlocksStart)
		for i, w := range e.BlockSizes {
			size := w &^ blockUncompressed
			b := Block{Index: i, Off: off, Size: size, Len: uint32(min(bs, e.Size-int64(i)*bs)), Compressed: w&blockUncompressed == 0}
			if !yield(b) {
				return
			}
			off += int64(size)
		}
	}
}

// Raw returns the image's bytes [0, BytesUsed), as stored, for reading the
// blocks at the offsets Blocks and Fragment give.
func (r *Reader) Raw() *io.SectionReader { return io.NewSectionReader(r.ra, 0, r.end) }

// ReadBlock decodes the one stored block b (as yielded by Blocks) into
// dst, which is grown if shorter than b.Len, and returns its b.Len decoded
// bytes; a sparse block decodes to zeros without reading the image.
func (r *Reader) ReadBlock(dst []byte, b Block) ([]byte, error) {
	if b.Len > r.Super.BlockSize {
		return nil, fmt.Errorf("squashfs: block length %d larger than the block size", b.Len)
	}
	if len(dst) < int(b.Len) {
		dst = make([]byte, b.Len)
	}
	dst = dst[:b.Len]
	if b.Size == 0 {
		clear(dst)
		return dst, nil
	}
	got, err := r.decodeBlock(dst, b.Off, b.Size, b.Compressed, "data block")
	if err != nil {
		return nil, err
	}
	if len(got) != len(dst) {
		return nil, corrupt(b.Off, "data block", "decoded %d bytes, want %d", len(got), len(dst))
	}
	return got, nil
}

// Open returns the contents of regular file e, decoded as it is read:
// sparse blocks read as zeros and the tail comes from its fragment. The
// returned reader also implements io.WriterTo. Readers of the same Reader
// may be used concurrently.
func (r *Reader) Open(e *Entry) (io.Reader, error) {
	if !e.IsRegular() {
		return nil, fmt.Errorf("squashfs: open %s: not a regular file", e.Path)
	}
	if n, ok := r.blockCount(e); !ok || n != len(e.BlockSizes) {
		return nil, fmt.Errorf("squashfs: open %s: %d blocks listed for size %d", e.Path, len(e.BlockSizes), e.Size)
	}
	return &fileReader{r: r, e: e, off: int64(e.BlocksStart), left: e.Size}, nil
}

type fileReader struct {
	r    *Reader
	e    *Entry
	i    int     // next block
	off  int64   // stored offset of block i
	left int64   // bytes not yet decoded
	cur  []byte  // decoded bytes not yet returned
	buf  *[]byte // pooled decode buffer
	err  error
}

// fill decodes the next block or the tail into f.cur.
func (f *fileReader) fill() error {
	if f.err != nil {
		return f.err
	}
	if f.left == 0 {
		if f.buf != nil {
			f.r.putBuf(f.buf)
			f.buf = nil
		}
		f.err = io.EOF
		return f.err
	}
	r, e := f.r, f.e
	var err error
	if f.i < len(e.BlockSizes) {
		if f.buf == nil {
			f.buf = r.getBuf()
		}
		w := e.BlockSizes[f.i]
		b := Block{Index: f.i, Off: f.off, Size: w &^ blockUncompressed, Compressed: w&blockUncompressed == 0,
			Len: uint32(min(int64(r.Super.BlockSize), f.left))}
		f.cur, err = r.ReadBlock(*f.buf, b)
		f.i++
		f.off += int64(b.Size)
	} else {
		if f.buf == nil {
			f.buf = r.getBuf()
		}
		var short error
		err = r.withFragment(e.Fragment, func(frag []byte) {
			if int64(e.FragOffset)+f.left > int64(len(frag)) {
				short = corrupt(0, "fragment block", "tail (%d bytes at %d) beyond its %d bytes", f.left, e.FragOffset, len(frag))
				return
			}
			f.cur = (*f.buf)[:copy(*f.buf, frag[e.FragOffset:int64(e.FragOffset)+f.left])]
		})
		if err == nil && short != nil {
			err = short
			if fi, ferr := r.Fragment(e.Fragment); ferr == nil {
				err.(*FormatError).Off = int64(fi.Start)
			}
		}
	}
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.What = fmt.Sprintf("%s of %s", fe.What, e.Path)
		}
		f.err = err
		return err
	}
	f.left -= int64(len(f.cur))
	return nil
}

func (f *fileReader) Read(p []byte) (int, error) {
	if len(f.cur) == 0 {
		if err := f.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// WriteTo writes the remaining contents to w without an extra copy.
func (f *fileReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(f.cur) == 0 {
			if err := f.fill(); err != nil {
				if err == io.EOF {
					err = nil
				}
				return total, err
			}
		}
		n, err := w.Write(f.cur)
		total += int64(n)
		f.cur = f.cur[n:]
		if err != nil {
			return total, err
		}
	}
}
