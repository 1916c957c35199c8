package explain

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// spoolFile is random access to a node's bytes, for formats that need it:
// a copy of a stream in the private temporary directory, or the input's
// own io.ReaderAt (Input.At).
type spoolFile struct {
	r    io.ReaderAt
	size int64
	// ex counts every byte read against MaxTotalBytes, each time it is
	// read (a crafted file can point many structures at one range), and
	// stops reads on cancellation or a refused charge.
	ex *explainer
}

// ReadAt reads in steps of at most readChunk bytes, each counted and
// allowed by ex first.
func (s *spoolFile) ReadAt(p []byte, off int64) (int, error) {
	if s.ex == nil {
		return s.r.ReadAt(p, off)
	}
	done := 0
	for done < len(p) {
		if err := s.ex.readAllowed(); err != nil {
			return done, err
		}
		k := min(len(p)-done, readChunk)
		n, err := s.r.ReadAt(p[done:done+k], off+int64(done))
		s.ex.total.Add(int64(n))
		done += n
		if err != nil {
			return done, err
		}
		if n < k {
			return done, io.ErrUnexpectedEOF
		}
	}
	return done, nil
}

// spool copies n into a new file (a generated name inside the private
// directory), refusing inputs larger than MaxSpoolBytes.
func (ex *explainer) spool(n *node) (*spoolFile, error) {
	if n.at != nil {
		return n.at, nil
	}
	if n.random != nil {
		return n.random, nil
	}
	if n.size > ex.o.MaxSpoolBytes {
		return nil, &errLimit{fmt.Sprintf("%d bytes is over the %d-byte limit for random-access formats", n.size, ex.o.MaxSpoolBytes)}
	}
	left := ex.spoolLeft()
	if n.size > left {
		return nil, &errLimit{fmt.Sprintf("%d bytes is over what is left (%d bytes) of the %d bytes all spooled files may take", n.size, left, spoolTotalFactor*ex.o.MaxSpoolBytes)}
	}
	rc, err := ex.openNode(n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(ex.dir, "spool-*")
	if err != nil {
		return nil, err
	}
	ex.addSpooled(f)
	w, err := io.Copy(f, &capReader{r: rc, max: min(ex.o.MaxSpoolBytes, left), what: "file to spool"})
	ex.spooledBytes.Add(w)
	if err != nil {
		return nil, err
	}
	s := &spoolFile{r: f, size: w, ex: ex}
	n.at = s
	return s, nil
}

// spoolTotalFactor bounds what all spooled files of one call take
// together, in units of MaxSpoolBytes: nested archives do not multiply it.
const spoolTotalFactor = 4

// spoolLeft is how many bytes may still be spooled in this call.
func (ex *explainer) spoolLeft() int64 {
	return max(spoolTotalFactor*ex.o.MaxSpoolBytes-ex.spooledBytes.Load(), 0)
}

// drop closes and removes a spool file made for one comparison.
func (s *spoolFile) drop() {
	if f, ok := s.r.(*os.File); ok {
		f.Close()
		os.Remove(f.Name())
	}
}

func (ex *explainer) addSpooled(f *os.File) {
	ex.mu.Lock()
	ex.spooled = append(ex.spooled, f)
	ex.mu.Unlock()
}

// spoolPair spools both sides at once, so that each side is decoded on its
// own core (a file inside an xz squashfs is decompressed as it is read: on
// a 110 MB library that halves the wait).
func (ex *explainer) spoolPair(a, b *node) (sa, sb *spoolFile, err error) {
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sb, errB = ex.spool(b)
	}()
	sa, err = ex.spool(a)
	<-done
	if err == nil {
		err = errB
	}
	return sa, sb, err
}

// sectionNode is a node reading bytes [off, off+size) of a spooled file.
func sectionNode(name string, s *spoolFile, off, size int64) *node {
	return &node{name: name, size: size, open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(s, off, size)), nil
	}}
}

// SafeJoin returns dir joined with name such that the result stays inside
// dir whatever name holds: leading slashes, "..", and NUL bytes are
// neutralised, and an empty result becomes "_".
func SafeJoin(dir, name string) string {
	name = strings.ReplaceAll(name, "\x00", "_")
	var parts []string
	for _, p := range strings.Split(filepath.ToSlash(name), "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			parts = append(parts, "__")
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = []string{"_"}
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}
