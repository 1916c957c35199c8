package iso9660

import (
	"context"
	"errors"
	"io"
	"strings"
)

// Open returns the content of e: its extents read in order straight from the
// image, nothing buffered. For a directory it is the raw directory records;
// for other non-regular files it is empty. A read that fails is a
// *FormatError naming the offset in the image of the first byte that could
// not be read (the file's data, not its directory record).
//
// For a zisofs file (e.Zisofs) it is the file's own bytes, decompressed
// block by block as they are read (see zisofs.go): exactly e.Size bytes,
// or a *FormatError at the offset of the header, block pointer or block
// at fault; it stops with the context's error (Options.Context) between
// blocks. The recorded bytes are those of e.Extents.
func (im *Image) Open(e *Entry) io.Reader {
	if !e.Mode.IsRegular() && !e.Mode.IsDir() {
		return strings.NewReader("")
	}
	for _, x := range e.Extents {
		if x.Offset+x.Size > im.size {
			return errReader{formatErrf(x.Offset, "file data", "%w: %d bytes, image is %d bytes", ErrTruncated, x.Size, im.size)}
		}
	}
	if e.Zisofs && e.Mode.IsRegular() {
		return newZisofsReader(im, e)
	}
	switch len(e.Extents) {
	case 0:
		return strings.NewReader("")
	case 1:
		return newExtentReader(im.r, e.Extents[0])
	}
	rs := make([]io.Reader, len(e.Extents))
	for i, x := range e.Extents {
		rs[i] = newExtentReader(im.r, x)
	}
	return io.MultiReader(rs...)
}

// extentReader reads one extent, turning read errors into FormatErrors at
// the offset of the byte that failed.
type extentReader struct {
	sr  *io.SectionReader
	off int64 // of the extent in the image
	pos int64 // bytes read so far
}

func newExtentReader(r io.ReaderAt, x Extent) *extentReader {
	return &extentReader{sr: io.NewSectionReader(r, x.Offset, x.Size), off: x.Offset}
}

func (r *extentReader) Read(p []byte) (int, error) {
	n, err := r.sr.Read(p)
	r.pos += int64(n)
	if err != nil && err != io.EOF {
		var fe *FormatError
		if !errors.As(err, &fe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			err = formatErr(r.off+r.pos, "file data", err)
		}
	}
	return n, err
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
