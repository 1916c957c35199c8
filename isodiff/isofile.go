package isodiff

import (
	"errors"
	"fmt"
	"io"

	"github.com/isodiff/isodiff/iso9660"
)

// isoFile is an ISO file whose bytes are read in place: a container (a
// squashfs or EROFS image) as its readers and the hashing pass see it.
//
// A file over 4 GiB is recorded in several extents (multi-extent, ECMA-119
// 9.1.6; xorriso -iso-level 3 cuts it every 4 GiB - 2 KiB). xorriso writes
// them one after the other, and the file is then one io.SectionReader over
// the image, as a single-extent file is. Extents elsewhere (another writer,
// or an image patched by hand) are read through iso9660's File, which maps
// each file offset to its extent; the hashing pass still reads them once,
// in image order, when they come in file order (parts ascending), and on
// their own, through the File, otherwise.
type isoFile struct {
	r     io.ReaderAt // the file's bytes, from 0 to size
	size  int64
	parts []span // where they lie in the image, in file order, adjacent extents merged
}

// section returns side i's ISO file e as an isoFile: an io.SectionReader
// over the image when its extents are adjacent, else the image's
// random-access reader over its extents (iso9660.Image.OpenFile).
func (s *session) section(i int, e *iso9660.Entry) (*isoFile, error) {
	if len(e.Extents) == 0 {
		return nil, errors.New("file has no data")
	}
	if e.Damage != nil {
		return nil, e.Damage
	}
	if e.Zisofs {
		return nil, errors.New("stored with the zisofs filter: the image inside is not read in place")
	}
	var parts []span
	size := int64(0)
	for _, x := range e.Extents {
		if x.Offset < 0 || x.Size < 0 {
			return nil, fmt.Errorf("extent at offset %d of %d bytes", x.Offset, x.Size)
		}
		if x.Size == 0 {
			continue
		}
		if n := len(parts); n > 0 && parts[n-1].off+parts[n-1].n == x.Offset {
			parts[n-1].n += x.Size
		} else {
			parts = append(parts, span{x.Offset, x.Size})
		}
		size += x.Size
	}
	if len(parts) == 0 {
		parts = []span{{e.Extents[0].Offset, 0}}
	}
	f := &isoFile{size: size, parts: parts}
	if len(parts) == 1 {
		f.r = io.NewSectionReader(s.in[i].R, parts[0].off, parts[0].n)
		return f, nil
	}
	im, err := s.image(i)
	if err != nil {
		return nil, err
	}
	file, err := im.OpenFile(e)
	if err != nil {
		return nil, err
	}
	if file.Size() != size {
		return nil, fmt.Errorf("the ISO reader gives %d bytes for extents of %d", file.Size(), size)
	}
	f.r = file
	return f, nil
}

// Size is the file's size.
func (f *isoFile) Size() int64 { return f.size }

// ReadAt reads the file's bytes.
func (f *isoFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// imageOffset is where the file's byte at off lies in the image (past the
// end: where it would lie after the last part).
func (f *isoFile) imageOffset(off int64) int64 {
	for _, p := range f.parts[:len(f.parts)-1] {
		if off < p.n {
			return p.off + off
		}
		off -= p.n
	}
	return f.parts[len(f.parts)-1].off + off
}

// offset is where the file's first byte lies in the image.
func (f *isoFile) offset() int64 { return f.parts[0].off }

// inOrder reports whether the file's parts come in image order without
// overlapping, so that a pass over the image meets its bytes in file order.
func (f *isoFile) inOrder() bool {
	for k := 1; k < len(f.parts); k++ {
		if f.parts[k].off < f.parts[k-1].off+f.parts[k-1].n {
			return false
		}
	}
	return true
}

// imageEnd returns where the first n bytes of a file recorded in extents
// end in the image: just past the last of them, which lies in a later
// extent than the first when the file is multi-extent; past the file's end,
// counting on from the end of its last extent.
func imageEnd(extents []iso9660.Extent, n int64) int64 {
	for _, x := range extents {
		if n <= x.Size {
			return x.Offset + n
		}
		n -= x.Size
	}
	last := extents[len(extents)-1]
	return last.Offset + last.Size + n
}

// passSection is the file as a section of side's hashing pass over the
// image; ok is false when its parts are not in image order (see inOrder).
func (f *isoFile) passSection(side int) (sc passSection, ok bool) {
	sc = passSection{span: span{f.offset(), f.size}, side: side}
	if len(f.parts) > 1 {
		sc.parts = f.parts
	}
	return sc, f.inOrder()
}

// hashSource is what hashes the file on its own: a pass over the image
// reading only the file's bytes, or, when its parts are not in image order,
// a pass over the file itself.
type hashSource struct {
	r    io.ReaderAt
	size int64
	sec  passSection
}

func (f *isoFile) hashSource(img Input, side int) hashSource {
	if sc, ok := f.passSection(side); ok {
		return hashSource{img.R, img.Size, sc}
	}
	return hashSource{f, f.size, passSection{span: span{0, f.size}, side: side}}
}
