package erofs

import "sync"

// metaCacheBlocks is how many metadata blocks a Reader keeps: inodes,
// xattrs and compression indexes are read through it, so walking a tree
// whose inodes sit together reads each block once.
const metaCacheBlocks = 64

// blockCache is a small LRU of image blocks, safe for concurrent use.
type blockCache struct {
	mu     sync.Mutex
	blocks map[int64]*cachedBlock
	tick   uint64
}

type cachedBlock struct {
	data []byte
	used uint64
}

// readMeta reads len(p) bytes at off (inside the image) through the block
// cache.
func (r *Reader) readMeta(p []byte, off int64, what string) error {
	if off < 0 || off > r.end || int64(len(p)) > r.end-off {
		return newErr(off, what, ErrBounds)
	}
	for len(p) > 0 {
		b := off / r.bs * r.bs
		blk, err := r.metaBlock(b, what)
		if err != nil {
			return err
		}
		n := copy(p, blk[off-b:])
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (r *Reader) metaBlock(b int64, what string) ([]byte, error) {
	c := &r.cache
	c.mu.Lock()
	c.tick++
	if cb, ok := c.blocks[b]; ok {
		cb.used = c.tick
		c.mu.Unlock()
		return cb.data, nil
	}
	c.mu.Unlock()
	if err := r.stopped(b, what); err != nil {
		return nil, err
	}
	data := make([]byte, r.bs)
	if err := r.readAt(data, b, what); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocks == nil {
		c.blocks = make(map[int64]*cachedBlock, metaCacheBlocks)
	}
	if len(c.blocks) >= metaCacheBlocks {
		var victim int64
		oldest := ^uint64(0)
		for k, v := range c.blocks {
			if v.used < oldest {
				victim, oldest = k, v.used
			}
		}
		delete(c.blocks, victim)
	}
	c.blocks[b] = &cachedBlock{data: data, used: c.tick}
	return data, nil
}
