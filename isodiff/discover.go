package isodiff

import (
	"bytes"
	"io"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/tree"
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
		var scratch [headBytes]byte
		for {
			e, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				s.discoverErr[i] = err
				break
			}
			if !e.Mode.IsRegular() {
				continue
			}
			head := s.fileHead(i, e, scratch[:])
			if f := s.containerFormat(i, e, head); f != "" {
				s.addContainer(i, e, f)
				continue
			}
			for _, inner := range s.nestedContainers(i, e, head) {
				s.addContainer(i, inner, s.containerFormat(i, inner, nil))
			}
		}
	})
}

// erofsMagic is an EROFS superblock's magic (0xE0F5E1E2, little-endian),
// at offset erofs.SuperblockOffset.
var erofsMagic = []byte{0xe2, 0xe1, 0xf5, 0xe0}

// headBytes is how much of a file's start discovery looks at: the squashfs
// and cpio magics at 0, the EROFS magic at erofs.SuperblockOffset.
const headBytes = erofs.SuperblockOffset + 4

// fileHead reads the first bytes of regular file e of side i that the
// magic probes look at, in one read instead of up to three (discovery looks
// at every file of the ISO: on the 8.8 GB bench ISO, whose package pool
// holds 50,000 files, the small reads cost 0.1 s a side), into buf. It
// returns nil when there is nothing to probe (a file too small to be an
// image or an archive, or scanning off) or the read fails: the probes then
// read what they need on their own.
func (s *session) fileHead(i int, e *iso9660.Entry, buf []byte) []byte {
	if s.opts.NoScan || len(e.Extents) == 0 || e.Size < 96 {
		return nil
	}
	n := int(min(e.Extents[0].Size, int64(len(buf))))
	if m, err := s.in[i].R.ReadAt(buf[:n], e.Extents[0].Offset); err != nil && m < n {
		return nil
	}
	return buf[:n]
}

// probe reads len(b) bytes at off of e's first extent into b: from head
// (the file's first bytes, see fileHead) when it holds them, else from the
// image; false when the read fails.
func (s *session) probe(i int, e *iso9660.Entry, head []byte, off int64, b []byte) bool {
	if off+int64(len(b)) <= int64(len(head)) {
		copy(b, head[off:])
		return true
	}
	_, err := s.in[i].R.ReadAt(b, e.Extents[0].Offset+off)
	return err == nil
}

// containerFormat says whether e is to be compared as a root filesystem
// image, and as which: formatSquashfs or formatEROFS by the magic, or ""
// for neither. A configured path (Options.Squashfs) is one whatever its
// first bytes say (it is read as squashfs when it has neither magic, so a
// damaged image is reported as such). head is the file's first bytes when
// the caller has read them (fileHead), else nil.
func (s *session) containerFormat(i int, e *iso9660.Entry, head []byte) string {
	configured := slices.Contains(s.opts.Squashfs, e.Path)
	if strings.Contains(e.Path, nestedSeparator) {
		configured = false // found inside an archive: by its magic only
	}
	if !configured && s.opts.NoScan || len(e.Extents) == 0 || e.Size < 96 {
		if configured {
			return formatSquashfs
		}
		return ""
	}
	var magic [4]byte
	if s.probe(i, e, head, 0, magic[:]) && bytes.Equal(magic[:], squashfsMagic) {
		return formatSquashfs
	}
	if e.Size >= erofs.SuperblockOffset+128 && e.Extents[0].Size >= erofs.SuperblockOffset+4 {
		if s.probe(i, e, head, erofs.SuperblockOffset, magic[:]) && bytes.Equal(magic[:], erofsMagic) {
			return formatEROFS
		}
	}
	if configured {
		return formatSquashfs
	}
	return ""
}

// addContainer records e as side i's copy of the container at its path,
// keeping the list in walk order.
func (s *session) addContainer(i int, e *iso9660.Entry, format string) {
	for _, c := range s.containers {
		if c.path == e.Path {
			c.entry[i], c.formats[i] = e, format
			return
		}
	}
	c := &container{path: e.Path}
	c.entry[i], c.formats[i] = e, format
	s.containers = append(s.containers, c)
	slices.SortStableFunc(s.containers, func(a, b *container) int { return tree.Compare(a.path, b.path) })
}
