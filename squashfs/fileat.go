package squashfs

import (
	"fmt"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
)

// File is random access to the contents of one regular file: each ReadAt
// decodes only the blocks it touches, so reading a few headers and a note
// section of a 100 MB library costs a few blocks, not the whole file. The
// last blocks decoded are kept (fileCacheBlocks of them), so reading
// forward in small pieces decodes each block once. A File is safe for
// concurrent use, as io.ReaderAt requires.
type File struct {
	r      *Reader
	e      *Entry
	starts []int64 // stored offset of each block

	mu    sync.Mutex
	cache [fileCacheBlocks]cachedBlock
	tick  int
}

type cachedBlock struct {
	index int // -1 when empty; len(e.BlockSizes) for the tail
	data  []byte
	used  int
}

const fileCacheBlocks = 4

// OpenFile returns random access to regular file e.
func (r *Reader) OpenFile(e *Entry) (*File, error) {
	if !e.IsRegular() {
		return nil, fmt.Errorf("squashfs: open %s: not a regular file", e.Path)
	}
	if n, ok := r.blockCount(e); !ok || n != len(e.BlockSizes) {
		return nil, fmt.Errorf("squashfs: open %s: %d blocks listed for size %d", e.Path, len(e.BlockSizes), e.Size)
	}
	f := &File{r: r, e: e}
	if err := budget.Attach(r.budget, f, int64(8*len(e.BlockSizes)), "squashfs block offsets of "+e.Path, int64(e.BlocksStart)); err != nil {
		return nil, err
	}
	f.starts = make([]int64, len(e.BlockSizes))
	off := int64(e.BlocksStart)
	for i, w := range e.BlockSizes {
		f.starts[i] = off
		off += int64(w &^ blockUncompressed)
	}
	for i := range f.cache {
		f.cache[i].index = -1
	}
	return f, nil
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.e.Size }

// ReadAt reads len(p) bytes from off, as io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("squashfs: read %s: negative offset %d", f.e.Path, off)
	}
	bs := int64(f.r.Super.BlockSize)
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= f.e.Size {
			return n, io.EOF
		}
		i := int(pos / bs)
		k, err := f.withBlock(i, func(b []byte) int {
			at := pos - int64(i)*bs
			if at >= int64(len(b)) {
				return 0
			}
			return copy(p[n:], b[at:])
		})
		if err != nil {
			return n, err
		}
		if k == 0 {
			at := int64(f.e.BlocksStart)
			if i < len(f.starts) {
				at = f.starts[i]
			}
			return n, corrupt(at, "data block", "block %d of %s is shorter than its %d-byte size says", i, f.e.Path, f.e.Size)
		}
		n += k
	}
	return n, nil
}

// withBlock calls fn with decoded block i (the tail when i is past the
// listed blocks), decoding it unless it is cached.
func (f *File) withBlock(i int, fn func([]byte) int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick++
	victim := 0
	for k := range f.cache {
		c := &f.cache[k]
		if c.index == i {
			c.used = f.tick
			return fn(c.data), nil
		}
		if c.used < f.cache[victim].used {
			victim = k
		}
	}
	c := &f.cache[victim]
	c.index = -1
	var err error
	if i < len(f.e.BlockSizes) {
		w := f.e.BlockSizes[i]
		b := Block{Index: i, Off: f.starts[i], Size: w &^ blockUncompressed, Compressed: w&blockUncompressed == 0,
			Len: uint32(min(int64(f.r.Super.BlockSize), f.e.Size-int64(i)*int64(f.r.Super.BlockSize)))}
		c.data, err = f.r.ReadBlock(c.data[:cap(c.data)], b)
	} else {
		c.data, err = f.r.ReadTail(c.data[:0], f.e)
	}
	if err != nil {
		return 0, fmt.Errorf("squashfs: read %s: block %d: %w", f.e.Path, i, err)
	}
	c.index, c.used = i, f.tick
	return fn(c.data), nil
}
