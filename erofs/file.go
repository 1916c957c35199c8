package erofs

import (
	"fmt"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
)

// File is random access to the contents of one node with data (a regular
// file, a directory's listing, a symlink's target): each ReadAt decodes
// only the extents it touches. The last extents decoded are kept
// (fileCacheExtents of them), so reading forward in small pieces decodes
// each extent once. A File is safe for concurrent use, as io.ReaderAt
// requires.
type File struct {
	r *Reader
	e *Entry

	mu      sync.Mutex
	m       *mapper
	cache   [fileCacheExtents]cachedExtent
	tick    int
	scratch []byte
	held    int64 // bytes of the buffers above, charged through Attach
}

type cachedExtent struct {
	x    Extent
	data []byte
	ok   bool
	used int
}

const fileCacheExtents = 2

// OpenFile returns random access to e's data.
func (r *Reader) OpenFile(e *Entry) (*File, error) {
	f := &File{r: r, e: e}
	if e.Size > 0 {
		m, err := r.newMapper(e)
		if err != nil {
			return nil, err
		}
		f.m = m
		if err := budget.Attach(r.budget, f, r.bs, "erofs index block of "+e.Path, e.iloc); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 { return f.e.Size }

// grow returns buf with capacity at least n, charging what it adds.
func (f *File) grow(buf []byte, n int64, what string, off int64) ([]byte, error) {
	if int64(cap(buf)) >= n {
		return buf, nil
	}
	add := n - int64(cap(buf))
	if err := budget.Attach(f.r.budget, f, add, what, off); err != nil {
		return nil, err
	}
	f.held += add
	return make([]byte, n), nil
}

// ReadAt reads len(p) bytes at off, decoding the extents it touches.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("erofs: read %s: negative offset", f.e.Path)
	}
	if off >= f.e.Size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(p) && off < f.e.Size {
		c, err := f.extent(off)
		if err != nil {
			return n, err
		}
		k := copy(p[n:], c.data[off-c.x.Off:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// extent returns the decoded extent holding off, from the cache or decoded.
func (f *File) extent(off int64) (*cachedExtent, error) {
	f.tick++
	var victim *cachedExtent
	for i := range f.cache {
		c := &f.cache[i]
		if c.ok && off >= c.x.Off && off < c.x.Off+c.x.Len {
			c.used = f.tick
			return c, nil
		}
		if victim == nil || !c.ok || c.used < victim.used && victim.ok {
			victim = c
		}
	}
	x, err := f.m.at(off)
	if err != nil {
		return nil, err
	}
	victim.ok = false
	if victim.data, err = f.grow(victim.data, x.Len, "erofs decoded extent of "+f.e.Path, x.Phys); err != nil {
		return nil, err
	}
	if x.Compressed {
		if f.scratch, err = f.grow(f.scratch, x.Stored, "erofs stored pcluster of "+f.e.Path, x.Phys); err != nil {
			return nil, err
		}
	}
	d, err := f.r.readExtent(victim.data, f.scratch, x)
	if err != nil {
		return nil, withPath(err, f.e.Path)
	}
	victim.data, victim.x, victim.ok, victim.used = d, x, true, f.tick
	return victim, nil
}

// Open returns a streaming reader of e's data.
func (r *Reader) Open(e *Entry) (io.Reader, error) {
	f, err := r.OpenFile(e)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f, 0, e.Size), nil
}

// readSmall reads the whole data of e (a symlink target, at most
// maxSymlink bytes).
func (r *Reader) readSmall(e *Entry, what string) ([]byte, error) {
	f, err := r.OpenFile(e)
	if err != nil {
		return nil, err
	}
	b := make([]byte, e.Size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}
