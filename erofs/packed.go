package erofs

import (
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/budget"
)

// packedCacheExtents and packedCacheBytes bound the decoded extents of
// the packed inode a Reader keeps: at most 256 of them and 8 MiB, charged
// to the budget as one block when the packed inode is first read. An
// extent that does not fit (over 8 MiB, or while the others are being
// decoded) is decoded for the one read, its bytes charged meanwhile.
// Thousands of files can keep their tails (or all their bytes) in one
// pcluster of the packed inode; while it is cached it is decoded once for
// all of them, and a file read in order decodes each packed pcluster it
// touches once (mkfs.erofs packs files in the order the walk visits them).
const (
	packedCacheExtents = 256
	packedCacheBytes   = 8 << 20
)

// packedState is the packed inode (superblock packed_nid: the inode whose
// data holds the fragments of other files) and its decoded extents.
type packedState struct {
	once  sync.Once
	entry *Entry
	err   error

	mu      sync.Mutex
	tick    uint64
	cache   map[int64]*packedExtent // by the extent's offset in the packed inode
	held    int64                   // decoded bytes of the cached extents
	decodes atomic.Int64            // pclusters of the packed inode decoded (for tests)
	// recent are the packed inode's extents found last (by packedAt):
	// neighbouring fragments are read one after the other, and finding an
	// extent afresh scans the compression map back to its head.
	recent [8]Extent
	next   int
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
		if err := budget.Attach(r.budget, r, packedCacheBytes, "erofs cache of the packed inode's decoded pclusters", e.iloc); err != nil {
			p.err = err
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
	var m *mapper
	for len(dst) > 0 {
		x, err := r.packedAt(p, &m, off)
		if err != nil {
			return err
		}
		data, err := r.packedExtent(x)
		if err == errNotCached {
			err = r.budget.Charge(x.Len, "erofs decoded pcluster of the packed inode", x.Phys)
			if err == nil {
				data, err = r.readExtent(make([]byte, x.Len), nil, x)
				r.budget.Release(x.Len)
				if err == nil {
					r.packed.decodes.Add(1)
				}
			}
		}
		if err != nil {
			return err
		}
		n := copy(dst, data[off-x.Off:])
		dst, off = dst[n:], off+int64(n)
	}
	return nil
}

// errNotCached: the extent does not fit the cache; the caller decodes it.
var errNotCached = errors.New("not cached")

// packedExtent returns the decoded bytes of extent x of the packed inode,
// from the cache or decoded (and cached); errNotCached when it does not
// fit the cache.
func (r *Reader) packedExtent(x Extent) ([]byte, error) {
	p := &r.packed
	p.mu.Lock()
	p.tick++
	if c, ok := p.cache[x.Off]; ok && c.x == x {
		c.used = p.tick
		p.mu.Unlock()
		<-c.done
		return c.data, c.err
	}
	if p.cache == nil {
		p.cache = make(map[int64]*packedExtent)
	}
	if old, ok := p.cache[x.Off]; ok {
		// Another extent at the same offset (the mapping changed under a
		// hostile image): replace it.
		delete(p.cache, x.Off)
		p.held -= old.x.Len
	}
	if x.Len > packedCacheBytes {
		p.mu.Unlock()
		return nil, errNotCached
	}
	for len(p.cache) > 0 && (len(p.cache) >= packedCacheExtents || p.held+x.Len > packedCacheBytes) {
		var victim *packedExtent
		for _, v := range p.cache {
			select {
			case <-v.done:
			default:
				continue // being decoded
			}
			if victim == nil || v.used < victim.used {
				victim = v
			}
		}
		if victim == nil {
			p.mu.Unlock()
			return nil, errNotCached // all being decoded
		}
		delete(p.cache, victim.x.Off)
		p.held -= victim.x.Len
	}
	c := &packedExtent{x: x, used: p.tick, done: make(chan struct{})}
	p.cache[x.Off] = c
	p.held += x.Len
	p.mu.Unlock()

	c.data, c.err = r.readExtent(make([]byte, x.Len), nil, x)
	if c.err == nil {
		p.decodes.Add(1)
	}
	if c.err != nil {
		c.data = nil
		p.mu.Lock()
		if p.cache[x.Off] == c {
			delete(p.cache, x.Off)
			p.held -= x.Len
		}
		p.mu.Unlock()
	}
	close(c.done)
	return c.data, c.err
}

// PackedExtents yields the extents of the packed inode that hold its
// decoded bytes [off, off+n): the pclusters a fragment is decoded from (a
// Fragment extent's Phys and Len give off and n). Two fragments whose
// packed extents are cut alike and store the same bytes hold the same
// bytes. After an error it yields nothing more.
func (r *Reader) PackedExtents(off, n int64) iter.Seq2[Extent, error] {
	return func(yield func(Extent, error) bool) {
		p, err := r.packedInode()
		if err != nil {
			yield(Extent{}, err)
			return
		}
		if off < 0 || n < 0 || off > p.Size || n > p.Size-off {
			yield(Extent{}, newErr(p.iloc, "packed inode", fmt.Errorf("%w: %d bytes at %d of %d", ErrBounds, n, off, p.Size)))
			return
		}
		var m *mapper
		for i, pos := 0, off; pos < off+n; i++ {
			if i%256 == 0 {
				if err := r.stopped(p.iloc, "extents of the packed inode"); err != nil {
					yield(Extent{}, err)
					return
				}
			}
			x, err := r.packedAt(p, &m, pos)
			if err != nil {
				yield(Extent{}, err)
				return
			}
			if !yield(x, nil) {
				return
			}
			pos = x.Off + x.Len
		}
	}
}

// packedAt returns the extent of the packed inode p holding its offset
// pos: one of those found last, or found through *m (made on first use).
// The extent must hold pos and not be a fragment itself.
func (r *Reader) packedAt(p *Entry, m **mapper, pos int64) (Extent, error) {
	ps := &r.packed
	ps.mu.Lock()
	for _, x := range ps.recent {
		if x.Len > 0 && x.Off <= pos && pos < x.Off+x.Len {
			ps.mu.Unlock()
			return x, nil
		}
	}
	ps.mu.Unlock()
	if *m == nil {
		mm, err := r.newMapper(p)
		if err != nil {
			return Extent{}, err
		}
		*m = mm
	}
	x, err := (*m).at(pos)
	if err != nil {
		return Extent{}, err
	}
	if x.Fragment || x.Off > pos || x.Off+x.Len <= pos {
		return Extent{}, corrupt(p.iloc, "packed inode", "extent [%d, %d) for offset %d", x.Off, x.Off+x.Len, pos)
	}
	ps.mu.Lock()
	ps.recent[ps.next%len(ps.recent)] = x
	ps.next++
	ps.mu.Unlock()
	return x, nil
}
