package iso9660

import (
	"io"
	"strings"
)

// Open returns the content of e: its extents read in order straight from the
// image, nothing buffered. For a directory it is the raw directory records;
// for other non-regular files it is empty.
func (im *Image) Open(e *Entry) io.Reader {
	if !e.Mode.IsRegular() && !e.Mode.IsDir() {
		return strings.NewReader("")
	}
	for _, x := range e.Extents {
		if x.Offset+x.Size > im.size {
			return errReader{formatErrf(x.Offset, "data of "+e.Path, "%w: %d bytes, image is %d bytes", ErrTruncated, x.Size, im.size)}
		}
	}
	switch len(e.Extents) {
	case 0:
		return strings.NewReader("")
	case 1:
		return io.NewSectionReader(im.r, e.Extents[0].Offset, e.Extents[0].Size)
	}
	rs := make([]io.Reader, len(e.Extents))
	for i, x := range e.Extents {
		rs[i] = io.NewSectionReader(im.r, x.Offset, x.Size)
	}
	return io.MultiReader(rs...)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
