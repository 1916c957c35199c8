package squashfs

import (
	"encoding/binary"
	"sync"
)

// metaSize is the decompressed size of a full metadata block.
const metaSize = 8192

// metaBlock is one decoded metadata block. Its data is never modified once
// cached, so readers may keep slices of it without holding the cache lock.
type metaBlock struct {
	data []byte
	next int64 // absolute offset of the block that follows on disk
}

// metaBlockAt returns the decoded metadata block at absolute offset off,
// which must end by limit; decoded blocks are cached.
func (r *Reader) metaBlockAt(off, limit int64) (*metaBlock, error) {
	if b, ok := r.meta.get(off); ok {
		return b, nil
	}
	if off < 0 || off+2 > limit {
		return nil, newErr(off, "metadata block", ErrBounds)
	}
	if err := r.stopped(off, "metadata block"); err != nil {
		return nil, err
	}
	// Read the header and the largest possible block in one go.
	scratch := r.getBuf()
	defer r.putBuf(scratch)
	raw := (*scratch)[:min(2+metaSize, limit-off)]
	if err := r.readAt(raw, off, "metadata block"); err != nil {
		return nil, err
	}
	hdr := binary.LittleEndian.Uint16(raw)
	size, compressed := int(hdr&0x7fff), hdr&0x8000 == 0
	if size == 0 || size > metaSize || 2+size > len(raw) {
		return nil, corrupt(off, "metadata block", "stored size %d (%d bytes left in table)", size, len(raw)-2)
	}
	data := make([]byte, metaSize)
	n := size
	if compressed {
		var err error
		if n, err = r.decode(data, raw[2:2+size]); err != nil {
			return nil, newErr(off, "metadata block", err)
		}
		if n == 0 {
			return nil, corrupt(off, "metadata block", "empty")
		}
	} else {
		copy(data, raw[2:2+size])
	}
	b := &metaBlock{data: data[:n:n], next: off + 2 + int64(size)}
	r.meta.put(off, b)
	return b, nil
}

// metaReader reads a byte stream that spans consecutive metadata blocks of
// one table, from a block offset and a position inside that block.
type metaReader struct {
	r       *Reader
	limit   int64 // the table's end; no block may extend past it
	blk     *metaBlock
	off     int64 // offset of blk
	next    int64 // offset of the block after blk
	pos     int   // read position in blk.data
	scratch []byte
}

// metaAt positions a metaReader at byte pos of the block at absolute off.
func (r *Reader) metaAt(off int64, pos int, limit int64) (*metaReader, error) {
	b, err := r.metaBlockAt(off, limit)
	if err != nil {
		return nil, err
	}
	if pos > len(b.data) {
		return nil, corrupt(off, "metadata reference", "offset %d past the block's %d bytes", pos, len(b.data))
	}
	return &metaReader{r: r, limit: limit, blk: b, off: off, next: b.next, pos: pos}, nil
}

// offset returns the absolute offset of the current block.
func (m *metaReader) offset() int64 { return m.off }

// read returns the next n bytes; the slice is valid until the next call.
func (m *metaReader) read(n int) ([]byte, error) {
	if m.pos+n <= len(m.blk.data) {
		b := m.blk.data[m.pos : m.pos+n]
		m.pos += n
		return b, nil
	}
	if cap(m.scratch) < n {
		m.scratch = make([]byte, 0, max(n, 256))
	}
	out := m.scratch[:0]
	for len(out) < n {
		if m.pos == len(m.blk.data) {
			b, err := m.r.metaBlockAt(m.next, m.limit)
			if err != nil {
				return nil, err
			}
			m.blk, m.off, m.next, m.pos = b, m.next, b.next, 0
		}
		k := min(n-len(out), len(m.blk.data)-m.pos)
		out = append(out, m.blk.data[m.pos:m.pos+k]...)
		m.pos += k
	}
	m.scratch = out
	return out, nil
}

// lru is a small mutex-guarded least-recently-used cache.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*lruItem[K, V]
	head  lruItem[K, V] // sentinel of a circular list, most recent first
}

type lruItem[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruItem[K, V]
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	c := &lru[K, V]{max: max, items: make(map[K]*lruItem[K, V], max)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

func (c *lru[K, V]) unlink(it *lruItem[K, V]) {
	it.prev.next, it.next.prev = it.next, it.prev
}

func (c *lru[K, V]) pushFront(it *lruItem[K, V]) {
	it.prev, it.next = &c.head, c.head.next
	c.head.next.prev = it
	c.head.next = it
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.unlink(it)
	c.pushFront(it)
	return it.val, true
}

// put caches v under k and returns the value it evicted or replaced.
func (c *lru[K, V]) put(k K, v V) (old V, evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putLocked(k, v)
}

func (c *lru[K, V]) putLocked(k K, v V) (old V, evicted bool) {
	if it, ok := c.items[k]; ok {
		old, it.val = it.val, v
		c.unlink(it)
		c.pushFront(it)
		return old, true
	}
	var it *lruItem[K, V]
	if len(c.items) >= c.max { // evict the oldest and reuse its item
		it = c.head.prev
		c.unlink(it)
		delete(c.items, it.key)
		old, evicted = it.val, true
		it.key, it.val = k, v
	} else {
		it = &lruItem[K, V]{key: k, val: v}
	}
	c.items[k] = it
	c.pushFront(it)
	return old, evicted
}

// use calls fn with the value cached under k, holding the lock so that the
// value cannot be evicted (and recycled) meanwhile. It reports whether k
// was cached.
func (c *lru[K, V]) use(k K, fn func(V)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if ok {
		c.unlink(it)
		c.pushFront(it)
		fn(it.val)
	}
	return ok
}

// putUse caches v under k, calls fn with it under the lock, and returns
// the value it evicted or replaced.
func (c *lru[K, V]) putUse(k K, v V, fn func(V)) (old V, evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, evicted = c.putLocked(k, v)
	fn(v)
	return old, evicted
}
