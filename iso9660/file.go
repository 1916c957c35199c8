package iso9660

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// File is random access to the content of one Entry, as Image.Open reads
// it: a regular file's bytes over all its extents, wherever they lie in
// the image and in whatever order; a directory's raw records; nothing for
// other types. ReadAt reads only what it is asked for: for a multi-extent
// file, the extents the range falls in (found by binary search over their
// start offsets); for a zisofs file, the zisofs blocks the range touches,
// each block's pair of pointers read from the table and checked as Open
// checks them. A File is safe for concurrent use, as io.ReaderAt requires
// (reads of a zisofs file are serialized: they share one zlib decoder).
//
// A zisofs file holds one zlib decoder (about 50 KiB) and a 4 KiB buffer
// while it is reachable, not charged to the budget, as Open's reader.
type File struct {
	ctx  context.Context
	size int64
	data storedData // the recorded bytes, for a file that is not zisofs

	mu      sync.Mutex
	z       *zisofsReader // of a zisofs file
	scratch []byte        // for the bytes of a zisofs block before a read's offset
}

// OpenFile returns random access to e's content (see File). For a zisofs
// file it reads and checks the zisofs header and the extent of the block
// pointer table (as Open's reader does at its first read), and returns
// their *FormatError; nothing else is read until ReadAt.
func (im *Image) OpenFile(e *Entry) (*File, error) {
	f := &File{ctx: im.ctx}
	switch {
	case e.Mode.IsRegular() && e.Zisofs:
		z := newZisofsReader(im, e)
		if err := z.start(); err != nil {
			return nil, err
		}
		f.z, f.size = z, e.Size
	case e.Mode.IsRegular() || e.Mode.IsDir():
		f.data = newStoredData(im, e.Extents)
		f.size = f.data.size
	}
	return f, nil
}

// Size returns the size of the content: Node.Size for a regular file (the
// uncompressed size of a zisofs file), the size of the records for a
// directory, 0 for other types.
func (f *File) Size() int64 { return f.size }

// ReadAt reads len(p) bytes of the content from off; fewer, with io.EOF,
// at the end. A byte that cannot be read is a *FormatError at its offset in
// the image: ErrTruncated for data past the end of the image (the bytes
// before it are read), the underlying reader's error otherwise. For a
// zisofs file, a bad pointer or block is a *FormatError at the offset of
// the pointer or block at fault; the checks that a block decodes to
// exactly its share of the file and that its zlib checksum holds are made
// when a read reaches the block's end. A cancelled context
// (Options.Context) is returned as its error.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= f.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), f.size-off))
	var n int
	var err error
	if f.z == nil {
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		n, err = f.data.ReadAt(p[:want], off)
	} else {
		n, err = f.readZisofs(p[:want], off)
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

var errNegativeOffset = errors.New("iso9660: negative offset")

func (f *File) readZisofs(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	scratch := p
	if len(p) < 4096 {
		if f.scratch == nil {
			f.scratch = make([]byte, 4096)
		}
		scratch = f.scratch
	}
	if err := f.z.seek(off, scratch); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(f.z, p)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		// The reader ends only after the declared size: not reached.
		err = f.z.fail(f.z.blkOff, "zisofs data ends at %d bytes, short of the %d the ZF entry declares", f.z.pos, f.z.zf.size)
	}
	return n, err
}

// Section returns the bytes of extent x as recorded in the image (one of
// an Entry's Extents: a zisofs file's compressed form, a directory's
// records; or any other range). Reading past the end of the image, or a
// read the image's io.ReaderAt fails, is a *FormatError at the offset of
// the first byte not read, as for File.
func (im *Image) Section(x Extent) *io.SectionReader {
	x.Size = max(x.Size, 0)
	s := newStoredData(im, []Extent{x})
	return io.NewSectionReader(&s, 0, s.size)
}

// storedData reads a file's recorded bytes, over all its extents, as one
// io.ReaderAt; a failed read is a *FormatError at the image offset of the
// first byte not read, and a byte past the end of the image is
// ErrTruncated there.
type storedData struct {
	r      io.ReaderAt
	ext    []Extent
	starts []int64 // of each extent in the recorded bytes, increasing
	size   int64
	limit  int64 // the image size
}

func newStoredData(im *Image, ext []Extent) storedData {
	s := storedData{r: im.r, ext: ext, limit: im.size}
	if len(ext) > 1 {
		s.starts = make([]int64, len(ext))
	}
	for i, x := range ext {
		if s.starts != nil {
			s.starts[i] = s.size
		}
		s.size += x.Size
	}
	return s
}

// extent returns the index of the extent holding byte off (< s.size) of
// the recorded bytes, and that byte's offset in it.
func (s *storedData) extent(off int64) (int, int64) {
	if s.starts == nil {
		return 0, off
	}
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > off }) - 1
	return i, off - s.starts[i]
}

func (s *storedData) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= s.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > s.size-off {
		p = p[:s.size-off]
	}
	n := 0
	for i, in := s.extent(off); n < len(p); i, in = i+1, 0 {
		x := s.ext[i]
		k := min(int64(len(p)-n), x.Size-in)
		at := x.Offset + in
		avail := max(0, min(k, s.limit-at)) // the rest is past the end of the image
		var m int
		var err error
		if avail > 0 {
			m, err = s.r.ReadAt(p[n:n+int(avail)], at)
			n += m
		}
		if int64(m) < avail {
			var fe *FormatError
			switch {
			case err == nil || err == io.EOF:
				err = ErrTruncated
			case errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
				return n, err // as extentReader passes them on
			}
			return n, formatErr(at+int64(m), "file data", err)
		}
		if avail < k {
			return n, formatErr(max(at, s.limit), "file data", fmt.Errorf("%w: image is %d bytes", ErrTruncated, s.limit))
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// imageOff is the image offset of byte off of the recorded bytes.
func (s *storedData) imageOff(off int64) int64 {
	if len(s.ext) == 0 {
		return 0
	}
	if off < s.size {
		i, in := s.extent(max(off, 0))
		return s.ext[i].Offset + in
	}
	last := s.ext[len(s.ext)-1]
	return last.Offset + last.Size + off - s.size
}
