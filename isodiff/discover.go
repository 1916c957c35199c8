package isodiff

import (
	"bytes"
	"io"
	"slices"

	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/internal/tree"
)

// squashfsMagic starts every squashfs image ("hsqs", little-endian).
var squashfsMagic = []byte("hsqs")

// discover walks side i's ISO tree once to find the squashfs images in it:
// the configured paths, and unless scanning is off every regular file that
// starts with the squashfs magic. It is cheap (directory records and four
// bytes per file) and runs before the images are hashed, so the hashing
// pass can hash each squashfs section in the same read. A walk error is
// kept in discoverErr; images found before it are kept.
func (s *session) discover(i int) {
	s.discoverOnce[i].Do(func() {
		im, err := s.image(i)
		if err != nil {
			s.discoverErr[i] = err
			return
		}
		w := im.Walk()
		defer w.Close()
		for {
			e, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				s.discoverErr[i] = err
				break
			}
			if e.Mode.IsRegular() && s.isSquashfs(i, e) {
				s.addContainer(i, e)
			}
		}
	})
}

// isSquashfs reports whether e is to be compared as a squashfs image.
func (s *session) isSquashfs(i int, e *iso9660.Entry) bool {
	if slices.Contains(s.opts.Squashfs, e.Path) {
		return true
	}
	if s.opts.NoScan || len(e.Extents) == 0 || e.Size < 96 {
		return false
	}
	var magic [4]byte
	if _, err := s.in[i].R.ReadAt(magic[:], e.Extents[0].Offset); err != nil {
		return false
	}
	return bytes.Equal(magic[:], squashfsMagic)
}

// addContainer records e as side i's copy of the container at its path,
// keeping the list in walk order.
func (s *session) addContainer(i int, e *iso9660.Entry) {
	for _, c := range s.containers {
		if c.path == e.Path {
			c.entry[i] = e
			return
		}
	}
	c := &container{path: e.Path}
	c.entry[i] = e
	s.containers = append(s.containers, c)
	slices.SortStableFunc(s.containers, func(a, b *container) int { return tree.Compare(a.path, b.path) })
}
