package erofs

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/budget"
)

// packedCacheExtents is how many decoded extents of the packed inode a
// Reader keeps. Thousands of files can keep their tails (or all their
// bytes) in one pcluster of the packed inode; while it is cached it is
// decoded once for all of them, and a file read in order decodes each
// packed pcluster it touches once.
const packedCacheExtents = 4

// packedState is the packed inode (superblock packed_nid: the inode whose
// data holds the fragments of other files) and its decoded extents.
type packedState struct {
	once  sync.Once
	entry *Entry
	err   error

	mu      sync.Mutex
	tick    uint64
	cache   []*packedExtent
	decodes atomic.Int64 // pclusters of the packed inode decoded (for tests)
}

// packedExtent is one decoded extent of the packed inode. done is closed
// once data or err is set: a reader finding an extent being decoded by
// another goroutine waits for it rather than decoding it again.
type packedExtent struct {
	x    Extent
	data []byte
	err  error
	used uint64
	done chan struct{}
}

// packedInode returns the packed inode, read once.
func (r *Reader) packedInode() (*Entry, error) {
	p := &r.packed
	p.once.Do(func() {
		s := &r.Super
		const ref = SuperblockOffset + 96
		if s.FeatureIncompat&FeatureFragments == 0 || s.PackedNid == 0 {
			p.err = corrupt(ref, "packed inode", "a file has a fragment, but the image has no packed inode")
			return
		}
		nid := s.PackedNid
		if nid >= uint64(r.end)/32 || r.nidOff(nid)+32 > r.end {
			p.err = newErr(ref, "packed inode", fmt.Errorf("%w: nid %d", ErrBounds, nid))
			return
		}
		e, err := r.readInode(nid)
		if err != nil {
			p.err = withPath(err, "(packed inode)")
			return
		}
		e.Path = "(packed inode)"
		if !e.IsRegular() {
			p.err = corrupt(e.iloc, "packed inode", "mode %v is not a regular file", e.Mode)
			return
		}
		p.entry = e
	})
	return p.entry, p.err
}

// readPacked reads len(dst) bytes of the packed inode's data at off,
// decoding each extent it touches through the cache.
func (r *Reader) readPacked(dst []byte, off int64) error {
	p, err := r.packedInode()
	if err != nil {
		return err
	}
	if off < 0 || off > p.Size || int64(len(dst)) > p.Size-off {
		return newErr(p.iloc, "packed inode", fmt.Errorf("%w: %d bytes at %d of %d", ErrBounds, len(dst), off, p.Size))
	}
	if len(dst) == 0 {
		return nil
	}
	m, err := r.newMapper(p)
	if err != nil {
		return err
	}
	for len(dst) > 0 {
		x, err := m.at(off)
		if err != nil {
			return err
		}
		if x.Fragment || x.Off > off || x.Off+x.Len <= off {
			return corrupt(p.iloc, "packed inode", "extent [%d, %d) for offset %d", x.Off, x.Off+x.Len, off)
		}
		data, err := r.packedExtent(x)
		if err != nil {
			return err
		}
		n := copy(dst, data[off-x.Off:])
		dst, off = dst[n:], off+int64(n)
	}
	return nil
}

// packedExtent returns the decoded bytes of extent x of the packed inode,
// from the cache or decoded (and cached). The cached bytes are charged to
// the budget while cached or in use.
func (r *Reader) packedExtent(x Extent) ([]byte, error) {
	p := &r.packed
	p.mu.Lock()
	p.tick++
	for _, c := range p.cache {
		if c.x == x {
			c.used = p.tick
			p.mu.Unlock()
			<-c.done
			return c.data, c.err
		}
	}
	c := &packedExtent{x: x, used: p.tick, done: make(chan struct{})}
	if len(p.cache) >= packedCacheExtents {
		victim := -1
		for i, v := range p.cache {
			select {
			case <-v.done:
			default:
				continue // being decoded
			}
			if victim < 0 || v.used < p.cache[victim].used {
				victim = i
			}
		}
		if victim >= 0 {
			p.cache = append(p.cache[:victim], p.cache[victim+1:]...)
		}
	}
	p.cache = append(p.cache, c)
	p.mu.Unlock()

	c.err = budget.Attach(r.budget, c, x.Len, "erofs decoded pcluster of the packed inode", x.Phys)
	if c.err == nil {
		c.data, c.err = r.readExtent(make([]byte, x.Len), nil, x)
		if c.err == nil {
			p.decodes.Add(1)
		}
	}
	if c.err != nil {
		c.data = nil
		p.mu.Lock()
		for i, v := range p.cache {
			if v == c {
				p.cache = append(p.cache[:i], p.cache[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
	}
	close(c.done)
	return c.data, c.err
}
