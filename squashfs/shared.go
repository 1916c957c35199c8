package squashfs

import (
	"bytes"
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/budget"
)

// A DecodeCache lets Readers share the blocks they decode: a block whose
// stored (compressed) bytes one Reader has decoded is copied, not decoded
// again, by any Reader given the same cache that stores the same bytes,
// wherever they lie in its image. Two builds of one root filesystem store
// most of their metadata and data blocks byte for byte alike (often at
// other offsets, once a block before them changed size), and comparing them
// decodes each block on both sides; with a shared cache each is decoded once.
//
// A hit is checked byte for byte against the stored bytes that were
// decoded, never trusted to a hash, and a decoder is deterministic, so a
// copy is exactly what decoding would give. Only successful decodes are
// kept. When two Readers ask for the same bytes at once, the second waits
// for the first rather than decoding them too. The cache holds at most its
// capacity in stored plus decoded bytes, dropping the oldest blocks first
// (a block larger than half of it is decoded as if there were no cache: the
// default holds two 1 MiB blocks with their stored bytes, or dozens of
// 128 KiB ones); the capacity is charged to the budget given to NewDecodeCache for the
// cache's life. It is safe for concurrent use.
type DecodeCache struct {
	seed     maphash.Seed
	capacity int64

	mu      sync.Mutex
	entries map[uint64][]*decoded // by hash of codec and stored bytes
	order   []*decoded            // kept entries, oldest first
	held    int64                 // stored plus decoded bytes of order

	hits, misses atomic.Int64
}

// decoded is one block in the cache: ready is closed when decoding ends,
// ok says whether it succeeded (out is then the decoded bytes).
type decoded struct {
	key    uint64
	codec  Compression
	stored []byte
	out    []byte
	ready  chan struct{}
	ok     bool
}

// DefaultDecodeCacheBytes is the capacity of a DecodeCache made with a
// capacity of zero: room for dozens of data blocks and hundreds of metadata
// blocks, enough for two Readers read side by side.
const DefaultDecodeCacheBytes = 4 << 20

// NewDecodeCache returns a cache holding at most capacity bytes (zero: the
// default), charged to b (nil: no budget) as long as the cache is
// reachable. When b cannot spare them, it returns the *budget.ExceededError
// and no cache; the budget does not count that as a refusal (a cache is
// optional: readers without one decode their own blocks).
func NewDecodeCache(capacity int64, b *budget.Budget) (*DecodeCache, error) {
	if capacity <= 0 {
		capacity = DefaultDecodeCacheBytes
	}
	c := &DecodeCache{seed: maphash.MakeSeed(), capacity: capacity, entries: map[uint64][]*decoded{}}
	if err := budget.AttachOptional(b, c, capacity, "shared squashfs decode cache", -1); err != nil {
		return nil, err
	}
	return c, nil
}

// Stats returns how many blocks were copied from the cache (hits) and how
// many were decoded (misses) so far.
func (c *DecodeCache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

// decode decodes src with dec into dst as dec.decode does, through the
// cache: the bytes of a block already decoded with the same codec are
// copied. ctx ends a wait for another Reader's decoding.
func (c *DecodeCache) decode(ctx context.Context, codec Compression, dec decompressor, dst, src []byte) (int, error) {
	if c == nil || int64(len(src)+len(dst)) > c.capacity/2 {
		return dec.decode(dst, src)
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(byte(codec))
	h.Write(src)
	key := h.Sum64()

	c.mu.Lock()
	for {
		e := c.find(key, codec, src)
		if e == nil {
			break
		}
		select {
		case <-e.ready:
		default:
			c.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			c.mu.Lock()
		}
		if !e.ok {
			continue // it failed and is gone: look again, or decode
		}
		if len(e.out) > len(dst) {
			break // would not fit: decode, which says so
		}
		c.mu.Unlock()
		c.hits.Add(1)
		return copy(dst, e.out), nil
	}
	e := &decoded{key: key, codec: codec, stored: bytes.Clone(src), ready: make(chan struct{})}
	c.entries[key] = append(c.entries[key], e)
	c.mu.Unlock()

	c.misses.Add(1)
	n, err := dec.decode(dst, src)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && int64(len(src)+n) <= c.capacity/2 {
		e.out, e.ok = bytes.Clone(dst[:n]), true
		c.order = append(c.order, e)
		c.held += int64(len(e.stored) + len(e.out))
		for c.held > c.capacity {
			c.drop(c.order[0])
			c.order[0] = nil // the array outlives the slice's start
			c.order = c.order[1:]
		}
	} else {
		c.remove(e)
	}
	close(e.ready)
	return n, err
}

// find returns the entry for src, decoded or being decoded, or nil. c.mu
// is held.
func (c *DecodeCache) find(key uint64, codec Compression, src []byte) *decoded {
	for _, e := range c.entries[key] {
		if e.codec == codec && bytes.Equal(e.stored, src) {
			return e
		}
	}
	return nil
}

// drop lets a kept entry go. c.mu is held.
func (c *DecodeCache) drop(e *decoded) {
	c.held -= int64(len(e.stored) + len(e.out))
	c.remove(e)
}

// remove takes e out of the index. c.mu is held.
func (c *DecodeCache) remove(e *decoded) {
	list := c.entries[e.key]
	for i, x := range list {
		if x == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.entries, e.key)
	} else {
		c.entries[e.key] = list
	}
}
