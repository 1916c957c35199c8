package erofs

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// Algorithm is a compression algorithm id, as on disk.
type Algorithm uint8

// Compression algorithms. lz4 and lz4hc write the same format (LZ4).
const (
	LZ4     Algorithm = 0
	LZMA    Algorithm = 1 // MicroLZMA
	Deflate Algorithm = 2
	Zstd    Algorithm = 3
)

func (a Algorithm) String() string {
	switch a {
	case LZ4:
		return "lz4"
	case LZMA:
		return "lzma"
	case Deflate:
		return "deflate"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("algorithm %d", uint8(a))
}

// Extent is one stored piece of a file's data: Len decoded bytes from file
// offset Off, stored as Stored bytes at image offset Phys. Uncompressed
// data is cut into pieces of at most 64 KiB, holes into pieces of 1 MiB;
// a compressed extent is one physical cluster (pcluster), or the first
// bytes of one (Partial). A fragment (the file's bytes in the packed
// inode) is cut into pieces of at most 64 KiB with Fragment set: Phys is
// then an offset in the packed inode's decoded data and Stored is 0. Two
// files whose extents have the same Off, Len, Stored, Compressed,
// Algorithm, Partial and Interlaced, are not fragments, and have equal
// stored bytes hold the same bytes there (given the same block size and
// FeatureZeroPadding).
type Extent struct {
	Off        int64
	Len        int64
	Phys       int64 // -1 for a hole (zeros, nothing stored)
	Stored     int64 // 0 for a hole
	Compressed bool  // stored bytes are Algorithm's encoding; else the bytes themselves
	Algorithm  Algorithm
	Inline     bool // stored in the metadata after the inode (tail packing)
	// Partial: a deduplicated reference (mkfs.erofs -E dedupe) to the
	// start of a pcluster that decodes to more than Len bytes; the
	// extent is its first Len.
	Partial bool
	// Fragment: the bytes are the packed inode's decoded bytes from its
	// offset Phys (mkfs.erofs -E fragments, all-fragments): a file's tail,
	// or all of it, shared with other files in the packed inode's
	// pclusters. Stored is 0 (the file stores nothing of its own there)
	// and Compressed false; such extents are cut into pieces of at most
	// 64 KiB.
	Fragment bool
	// Interlaced: an uncompressed pcluster of one block stored rotated
	// (mkfs.erofs writes the packed inode's so): the extent's byte i is
	// the stored byte (Off%blocksize + i) % Stored.
	Interlaced bool
}

// Hole reports whether x is a hole (reads as zeros).
func (x Extent) Hole() bool { return x.Phys < 0 && !x.Fragment }

// Limits on extents.
const (
	pieceSize       = 64 << 10 // uncompressed extents are cut at this size
	holePiece       = 1 << 20  // and holes at this one
	maxPcluster     = 1 << 20  // stored bytes of one pcluster (Z_EROFS_PCLUSTER_MAX_SIZE)
	maxDecoded      = 12 << 20 // decoded bytes of one pcluster (Z_EROFS_PCLUSTER_MAX_DSIZE)
	maxLclusterBits = 20
)

// Lcluster types.
const (
	ltPlain   = 0
	ltHead1   = 1
	ltNonhead = 2
	ltHead2   = 3
)

// Map header advise bits.
const (
	adviseCompacted2B = 0x1
	adviseBigPcl1     = 0x2
	adviseBigPcl2     = 0x4
	adviseInline      = 0x8
	adviseInterlaced  = 0x10
	adviseFragment    = 0x20
)

const nullAddr = 0xffffffff

// mapper maps file offsets of one entry to extents.
type mapper struct {
	r  *Reader
	e  *Entry
	bs int64

	// chunk-based
	chunkBits uint
	chunkUnit int64
	chunkBase int64

	// compressed
	lcb       uint
	advise    uint16
	algs      [2]Algorithm
	ebase     int64 // first index (compact: after the map header; full: after its 8 reserved bytes)
	totalidx  int64
	c4init    int64
	c2        int64
	idataSize int64
	idataOff  int64
	tailHead  int64 // lcn of the tail extent's head, -1 if none
	packed    bool  // this is the packed inode: it may not hold fragments
	fragment  bool  // the file's tail (or whole) is in the packed inode
	fragStart int64 // file offset where the fragment starts
	fragOff   int64 // its offset in the packed inode
	blk       []byte
	blkOff    int64
}

func (r *Reader) newMapper(e *Entry) (*mapper, error) {
	m := &mapper{r: r, e: e, bs: r.bs, tailHead: -1, blkOff: -1}
	m.packed = r.Super.FeatureIncompat&FeatureFragments != 0 && e.Nid == r.Super.PackedNid
	what := "data of " + e.Path
	switch e.Layout {
	case LayoutFlatPlain, LayoutFlatInline:
		nblocks := (e.Size + m.bs - 1) / m.bs
		if e.Layout == LayoutFlatInline && nblocks > 0 {
			nblocks--
		}
		if nblocks > 0 && (int64(e.iu) >= r.end/m.bs || nblocks > r.end/m.bs-int64(e.iu)) {
			return nil, corrupt(e.iloc+16, what, "%d blocks from block %d past the image's %d", nblocks, e.iu, r.end/m.bs)
		}
	case LayoutChunkBased:
		format := e.iu & 0xffff
		if format&^0x3f != 0 {
			return nil, unsupported(e.iloc+16, what, "chunk format %#x", format)
		}
		m.chunkBits = uint(r.Super.BlkSzBits) + uint(format&0x1f)
		if m.chunkBits > 40 {
			return nil, corrupt(e.iloc+16, what, "chunk size 2^%d", m.chunkBits)
		}
		m.chunkUnit = 4
		if format&0x20 != 0 {
			m.chunkUnit = 8
		}
		m.chunkBase = align(e.DataOff(), m.chunkUnit)
		n := (e.Size + 1<<m.chunkBits - 1) >> m.chunkBits
		if n > (r.end-m.chunkBase)/m.chunkUnit {
			return nil, corrupt(e.iloc, what, "%d chunk indexes past the image", n)
		}
	case LayoutCompressedFull, LayoutCompressedCompact:
		if err := m.initCompressed(); err != nil {
			return nil, err
		}
	default:
		return nil, unsupported(e.iloc, what, "data layout %d", e.Layout)
	}
	return m, nil
}

func align(v, a int64) int64 { return (v + a - 1) / a * a }

func (m *mapper) initCompressed() error {
	e, r := m.e, m.r
	what := "compression map of " + e.Path
	hpos := align(e.DataOff(), 8)
	if e.Layout == LayoutCompressedFull && r.Super.FeatureIncompat&(FeatureBigPcluster|FeatureZtailpacking|FeatureFragments) == 0 {
		// Images without big pclusters predate the map header: it is not read.
		m.lcb = uint(r.Super.BlkSzBits)
	} else {
		h, err := m.meta(hpos, 8, what)
		if err != nil {
			return err
		}
		if h[7]&0x80 != 0 {
			// The whole file is in the packed inode; the other 63 bits
			// are its offset there.
			m.fragment = true
			m.fragOff = int64(binary.LittleEndian.Uint64(h) &^ (1 << 63))
			return m.checkFragment(hpos)
		}
		m.advise = binary.LittleEndian.Uint16(h[4:])
		m.algs = [2]Algorithm{Algorithm(h[6] & 15), Algorithm(h[6] >> 4)}
		m.lcb = uint(r.Super.BlkSzBits) + uint(h[7]&7)
		if e.Layout == LayoutCompressedFull && m.advise&1 != 0 {
			return unsupported(hpos, what, "map header advise %#x", m.advise)
		}
		if m.advise&adviseFragment != 0 {
			m.fragment = true
			m.fragOff = int64(binary.LittleEndian.Uint32(h))
		} else if m.advise&adviseInline != 0 {
			if r.Super.FeatureIncompat&FeatureZtailpacking == 0 {
				return corrupt(hpos, what, "inline pcluster without the ztailpacking feature")
			}
			m.idataSize = int64(binary.LittleEndian.Uint16(h[2:]))
		}
		if e.Layout == LayoutCompressedCompact && (m.advise&adviseBigPcl1 == 0) != (m.advise&adviseBigPcl2 == 0) {
			return corrupt(hpos, what, "big pcluster head1/head2 flags differ")
		}
	}
	if m.lcb > maxLclusterBits || e.Layout == LayoutCompressedCompact && m.lcb > 14 {
		return unsupported(hpos, what, "logical cluster size 2^%d", m.lcb)
	}
	if e.Layout == LayoutCompressedFull {
		m.ebase = hpos + 16
	} else {
		m.ebase = hpos + 8
		m.totalidx = (e.Size + m.bs - 1) / m.bs
		m.c4init = ((32 - m.ebase%32) / 4) & 7
		if m.advise&adviseCompacted2B != 0 && m.c4init < m.totalidx {
			m.c2 = (m.totalidx - m.c4init) / 16 * 16
		}
	}
	if e.Size == 0 {
		return nil
	}
	if m.fragment {
		// The tail extent, from its head to the end, is in the packed
		// inode (the kernel's z_erofs_fill_inode_lazy, FINDTAIL).
		head, hl, err := m.findHead(e.Size - 1)
		if err != nil {
			return err
		}
		m.tailHead = head
		if head > 0 {
			m.fragStart = head<<m.lcb + hl.clusterofs
		}
		if e.Layout == LayoutCompressedFull {
			// Full indexes keep the offset's high 32 bits in the tail
			// head's block address.
			m.fragOff |= hl.pblk << 32
		}
		return m.checkFragment(hpos)
	}
	if m.idataSize > 0 {
		last := (e.Size - 1) >> m.lcb
		lc, err := m.load(last)
		if err != nil {
			return err
		}
		m.idataOff = lc.nextpack
		head, _, err := m.findHead(e.Size - 1)
		if err != nil {
			return err
		}
		m.tailHead = head
		if m.idataOff%m.bs+m.idataSize > m.bs {
			return corrupt(m.idataOff, what, "inline pcluster of %d bytes crosses a block boundary", m.idataSize)
		}
	}
	return nil
}

// checkFragment checks the fragment against the packed inode: the
// file's bytes from fragStart on must lie inside it. hpos is the map
// header's offset, where the bad reference is reported.
func (m *mapper) checkFragment(hpos int64) error {
	what := "fragment of " + m.e.Path
	if m.packed {
		return corrupt(hpos, what, "the packed inode has a fragment itself")
	}
	p, err := m.r.packedInode()
	if err != nil {
		return err
	}
	n := m.e.Size - m.fragStart
	if m.fragStart > m.e.Size || m.fragOff < 0 || m.fragOff > p.Size || n > p.Size-m.fragOff {
		return newErr(hpos, what, fmt.Errorf("%w: %d bytes at offset %d of the packed inode's %d", ErrBounds, n, m.fragOff, p.Size))
	}
	return nil
}

// meta returns n bytes of metadata at off, which must not cross a block
// boundary, through a one-block cache.
func (m *mapper) meta(off, n int64, what string) ([]byte, error) {
	if off < 0 || off+n > m.r.end {
		// A size or count of the inode's reached past the image: the
		// inode is at fault.
		return nil, newErr(m.e.iloc, what, fmt.Errorf("%w: %d bytes at %d", ErrBounds, n, off))
	}
	b := off / m.bs * m.bs
	if off+n > b+m.bs {
		return nil, corrupt(off, what, "%d bytes cross a block boundary", n)
	}
	if b != m.blkOff {
		blk, err := m.r.metaBlock(b, what)
		if err != nil {
			return nil, err
		}
		m.blk, m.blkOff = blk, b
	}
	return m.blk[off-b : off-b+n], nil
}

// lcluster is one decoded logical cluster index.
type lcluster struct {
	typ        uint8
	clusterofs int64
	pblk       int64
	cblk       int64 // compressed block count (first nonhead of a big pcluster), else 0
	nextpack   int64
	off        int64 // image offset of the index, for errors
	partial    bool  // head of a partial reference (full indexes only)
}

func (lc *lcluster) head() bool { return lc.typ != ltNonhead }

func (m *mapper) load(lcn int64) (lcluster, error) {
	var lc lcluster
	var err error
	if m.e.Layout == LayoutCompressedFull {
		lc, err = m.loadFull(lcn)
	} else {
		lc, err = m.loadCompact(lcn)
	}
	if err != nil {
		return lc, err
	}
	if lc.head() && lc.clusterofs >= 1<<m.lcb {
		return lc, corrupt(lc.off, "lcluster index of "+m.e.Path, "cluster offset %d", lc.clusterofs)
	}
	return lc, nil
}

func (m *mapper) loadFull(lcn int64) (lcluster, error) {
	pos := m.ebase + lcn*8
	b, err := m.meta(pos, 8, "lcluster index of "+m.e.Path)
	if err != nil {
		return lcluster{}, err
	}
	le := binary.LittleEndian
	adv := le.Uint16(b[0:])
	lc := lcluster{typ: uint8(adv & 3), nextpack: pos + 8, off: pos}
	if lc.typ == ltNonhead {
		d0 := le.Uint16(b[4:])
		if d0&(1<<11) != 0 {
			if m.advise&(adviseBigPcl1|adviseBigPcl2) == 0 {
				return lc, corrupt(pos, "lcluster index of "+m.e.Path, "compressed block count without big pclusters")
			}
			lc.cblk = int64(d0 &^ (1 << 11))
		}
		return lc, nil
	}
	lc.partial = adv&(1<<15) != 0
	lc.clusterofs = int64(le.Uint16(b[2:]))
	lc.pblk = int64(le.Uint32(b[4:]))
	return lc, nil
}

// decodeBits reads the encodebits-wide value at bit pos of in.
func decodeBits(lobits uint, in []byte, pos uint) (lo uint32, typ uint8) {
	var w [4]byte
	copy(w[:], in[pos/8:])
	v := binary.LittleEndian.Uint32(w[:]) >> (pos & 7)
	return v & (1<<lobits - 1), uint8(v>>lobits) & 3
}

func (m *mapper) loadCompact(lcn int64) (lcluster, error) {
	what := "lcluster index of " + m.e.Path
	if lcn >= m.totalidx {
		return lcluster{}, corrupt(m.ebase, what, "logical cluster %d of %d", lcn, m.totalidx)
	}
	pos := m.ebase
	shift := uint(2)
	rest := lcn
	if rest >= m.c4init {
		pos += m.c4init * 4
		rest -= m.c4init
		if rest < m.c2 {
			shift = 1
		} else {
			pos += m.c2 * 2
			rest -= m.c2
		}
	}
	pos += rest << shift
	var vcnt int64
	switch {
	case shift == 2:
		vcnt = 2
	case m.lcb <= 12:
		vcnt = 16
	default:
		return lcluster{}, unsupported(pos, what, "2-byte compact indexes with logical clusters of 2^%d", m.lcb)
	}
	packSize := vcnt << shift
	packStart := pos / packSize * packSize
	in, err := m.meta(packStart, packSize, what)
	if err != nil {
		return lcluster{}, err
	}
	lc := lcluster{nextpack: packStart + packSize, off: pos}
	lobits := max(m.lcb, 12)
	encodebits := uint((packSize - 4) * 8 / vcnt)
	i := int((pos - packStart) >> shift)
	lo, typ := decodeBits(lobits, in, encodebits*uint(i))
	lc.typ = typ
	big := m.advise&adviseBigPcl1 != 0
	if typ == ltNonhead {
		if lo&(1<<11) != 0 {
			if !big {
				return lc, corrupt(pos, what, "compressed block count without big pclusters")
			}
			lc.cblk = int64(lo &^ (1 << 11))
		}
		return lc, nil
	}
	lc.clusterofs = int64(lo)
	nblk := int64(0)
	if !big {
		nblk = 1
		for i > 0 {
			i--
			lo, typ := decodeBits(lobits, in, encodebits*uint(i))
			if typ == ltNonhead {
				i -= int(lo)
			}
			if i >= 0 {
				nblk++
			}
		}
	} else {
		for i > 0 {
			i--
			lo, typ := decodeBits(lobits, in, encodebits*uint(i))
			if typ == ltNonhead {
				if lo&(1<<11) != 0 {
					i--
					nblk += int64(lo &^ (1 << 11))
					continue
				}
				if lo <= 1 {
					return lc, corrupt(pos, what, "big pcluster delta %d", lo)
				}
				i -= int(lo) - 2
				continue
			}
			nblk++
		}
	}
	lc.pblk = int64(binary.LittleEndian.Uint32(in[packSize-4:])) + nblk
	return lc, nil
}

// maxSteps bounds the logical clusters one extent may span.
func (m *mapper) maxSteps() int64 { return maxDecoded>>m.lcb + 2 }

// findHead returns the lcn and index of the head of the extent holding
// file offset off.
func (m *mapper) findHead(off int64) (int64, lcluster, error) {
	lcn := off >> m.lcb
	lc, err := m.load(lcn)
	if err != nil {
		return 0, lc, err
	}
	if lc.head() && off&(1<<m.lcb-1) >= lc.clusterofs {
		return lcn, lc, nil
	}
	for l := lcn - 1; ; l-- {
		if l < 0 || lcn-l > m.maxSteps() {
			return 0, lc, corrupt(lc.off, "lcluster index of "+m.e.Path, "no head cluster for offset %d", off)
		}
		if lc, err = m.load(l); err != nil {
			return 0, lc, err
		}
		if lc.head() {
			return l, lc, nil
		}
	}
}

// at returns the extent holding file offset off (0 <= off < size).
func (m *mapper) at(off int64) (Extent, error) {
	e := m.e
	switch e.Layout {
	case LayoutFlatPlain, LayoutFlatInline:
		tail := e.Size
		if e.Layout == LayoutFlatInline {
			tail = ((e.Size+m.bs-1)/m.bs - 1) * m.bs
			if off >= tail {
				x := Extent{Off: tail, Len: e.Size - tail, Phys: e.DataOff(), Stored: e.Size - tail, Inline: true}
				if x.Phys%m.bs+x.Len > m.bs {
					return x, corrupt(x.Phys, "inline data of "+e.Path, "%d bytes cross a block boundary", x.Len)
				}
				if x.Phys+x.Len > m.r.end {
					return x, newErr(x.Phys, "inline data of "+e.Path, ErrBounds)
				}
				return x, nil
			}
		}
		start := off / pieceSize * pieceSize
		n := min(pieceSize, tail-start)
		return Extent{Off: start, Len: n, Phys: int64(e.iu)*m.bs + start, Stored: n}, nil
	case LayoutChunkBased:
		idx := off >> m.chunkBits
		pos := m.chunkBase + idx*m.chunkUnit
		b, err := m.meta(pos, m.chunkUnit, "chunk index of "+e.Path)
		if err != nil {
			return Extent{}, err
		}
		var blk uint32
		if m.chunkUnit == 8 {
			le := binary.LittleEndian
			if le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 0 {
				return Extent{}, unsupported(pos, "chunk index of "+e.Path, "device %d, high block bits %d", le.Uint16(b[2:]), le.Uint16(b[0:]))
			}
			blk = le.Uint32(b[4:])
		} else {
			blk = binary.LittleEndian.Uint32(b)
		}
		chunk := idx << m.chunkBits
		if blk == nullAddr {
			// A hole: extents of up to holePiece bytes (a reader decodes
			// an extent into memory, zeros too).
			within := (off - chunk) / holePiece * holePiece
			start := chunk + within
			return Extent{Off: start, Len: min(holePiece, int64(1)<<m.chunkBits-within, e.Size-start), Phys: -1}, nil
		}
		within := (off - chunk) / pieceSize * pieceSize
		start := chunk + within
		n := min(pieceSize, int64(1)<<m.chunkBits-within, e.Size-start)
		phys := int64(blk)*m.bs + within
		if phys+n > m.r.end {
			return Extent{}, newErr(pos, "chunk index of "+e.Path, fmt.Errorf("%w: block %d", ErrBounds, blk))
		}
		return Extent{Off: start, Len: n, Phys: phys, Stored: n}, nil
	}
	return m.atCompressed(off)
}

func (m *mapper) atCompressed(off int64) (Extent, error) {
	e := m.e
	what := "lcluster index of " + e.Path
	if m.fragment && off >= m.fragStart {
		start := m.fragStart + (off-m.fragStart)/pieceSize*pieceSize
		return Extent{Off: start, Len: min(pieceSize, e.Size-start), Phys: m.fragOff + start - m.fragStart, Fragment: true}, nil
	}
	head, hl, err := m.findHead(off)
	if err != nil {
		return Extent{}, err
	}
	x := Extent{Off: head<<m.lcb + hl.clusterofs, Len: -1}
	// The extent ends where the next head starts, or at the end of file.
	var next lcluster
	haveNext := false
	for l := head + 1; l<<m.lcb < e.Size; l++ {
		if l-head > m.maxSteps() {
			return x, corrupt(hl.off, what, "extent longer than %d bytes", maxDecoded)
		}
		lc, err := m.load(l)
		if err != nil {
			return x, err
		}
		if l == head+1 {
			next, haveNext = lc, true
		}
		if lc.head() {
			x.Len = l<<m.lcb + lc.clusterofs - x.Off
			break
		}
	}
	if x.Len < 0 {
		x.Len = e.Size - x.Off
	}
	x.Len = min(x.Len, e.Size-x.Off)
	if x.Len <= 0 || x.Off+x.Len <= off || x.Off > off {
		return x, corrupt(hl.off, what, "extent [%d, %d) does not hold offset %d", x.Off, x.Off+x.Len, off)
	}
	if x.Len > maxDecoded {
		return x, corrupt(hl.off, what, "extent of %d decoded bytes", x.Len)
	}
	switch hl.typ {
	case ltHead1:
		x.Compressed, x.Algorithm = true, m.algs[0]
	case ltHead2:
		x.Compressed, x.Algorithm = true, m.algs[1]
	}
	x.Partial = hl.partial && x.Compressed
	x.Interlaced = !x.Compressed && m.advise&adviseInterlaced != 0
	if m.idataSize > 0 && head == m.tailHead {
		x.Phys, x.Stored, x.Inline = m.idataOff, m.idataSize, true
	} else {
		blocks := int64(1)
		big := hl.typ == ltHead1 && m.advise&adviseBigPcl1 != 0 || hl.typ != ltHead1 && m.advise&adviseBigPcl2 != 0
		if big && haveNext && !next.head() {
			if next.cblk == 0 {
				return x, corrupt(next.off, what, "no compressed block count after a big pcluster's head")
			}
			blocks = next.cblk
		}
		x.Phys, x.Stored = hl.pblk*m.bs, blocks*m.bs
		if hl.pblk >= m.r.end/m.bs || x.Stored > m.r.end-x.Phys {
			return x, newErr(hl.off, what, fmt.Errorf("%w: pcluster at block %d of %d blocks", ErrBounds, hl.pblk, blocks))
		}
	}
	if x.Stored > maxPcluster {
		return x, corrupt(hl.off, what, "pcluster of %d bytes", x.Stored)
	}
	if x.Interlaced && x.Stored > m.bs {
		return x, unsupported(hl.off, what, "interlaced pcluster of %d bytes", x.Stored)
	}
	if !x.Compressed && x.Len > x.Stored {
		return x, corrupt(hl.off, what, "uncompressed pcluster of %d bytes holds %d", x.Stored, x.Len)
	}
	if x.Inline && x.Phys+x.Stored > m.r.end {
		return x, newErr(x.Phys, "inline pcluster of "+e.Path, ErrBounds)
	}
	return x, nil
}

// Extents yields the stored extents of e's data in file order: the raw
// layout, for comparing files by their stored bytes. Holes are yielded
// too. It works for every node with data (regular files, directories,
// symlinks). After an error it yields nothing more.
func (r *Reader) Extents(e *Entry) iter.Seq2[Extent, error] {
	return func(yield func(Extent, error) bool) {
		if e.Size == 0 {
			return
		}
		m, err := r.newMapper(e)
		if err != nil {
			yield(Extent{}, err)
			return
		}
		for i, pos := 0, int64(0); pos < e.Size; i++ {
			if i%256 == 0 {
				if err := r.stopped(e.iloc, "extents of "+e.Path); err != nil {
					yield(Extent{}, err)
					return
				}
			}
			x, err := m.at(pos)
			if err == nil && (x.Off > pos || x.Off+x.Len <= pos) {
				// Each extent must hold the offset asked for, so that the
				// walk moves on.
				err = corrupt(e.iloc, "extents of "+e.Path, "extent [%d, %d) for offset %d", x.Off, x.Off+x.Len, pos)
			}
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

// ReadExtent decodes extent x into dst (grown if too short: the caller
// owns, and charges, the buffer it gets back) and returns the x.Len
// decoded bytes. The stored bytes it reads meanwhile are charged to the
// budget for the call's duration.
func (r *Reader) ReadExtent(dst []byte, x Extent) ([]byte, error) {
	return r.readExtent(dst, nil, x)
}

func (r *Reader) readExtent(dst, scratch []byte, x Extent) ([]byte, error) {
	const what = "extent"
	if x.Len < 0 || x.Len > maxDecoded || x.Stored < 0 || x.Stored > maxPcluster && x.Compressed {
		return nil, corrupt(x.Phys, what, "%d bytes stored as %d", x.Len, x.Stored)
	}
	if cap(dst) < int(x.Len) {
		dst = make([]byte, x.Len)
	}
	dst = dst[:x.Len]
	if err := r.stopped(x.Phys, what); err != nil {
		return nil, err
	}
	switch {
	case x.Hole():
		clear(dst)
		return dst, nil
	case x.Fragment:
		if err := r.readPacked(dst, x.Phys); err != nil {
			return nil, err
		}
		return dst, nil
	case x.Interlaced:
		if x.Stored > r.bs || x.Len > x.Stored {
			return nil, corrupt(x.Phys, "interlaced pcluster", "%d bytes stored as %d", x.Len, x.Stored)
		}
		var buf [1 << 16]byte
		src := buf[:x.Stored]
		if err := r.readAt(src, x.Phys, "interlaced pcluster"); err != nil {
			return nil, err
		}
		k := x.Off % r.bs % x.Stored
		n := copy(dst, src[k:])
		copy(dst[n:], src)
		return dst, nil
	case !x.Compressed:
		if err := r.readAt(dst, x.Phys, "data"); err != nil {
			return nil, err
		}
		return dst, nil
	}
	if !r.algorithmOK(x.Algorithm) {
		return nil, corrupt(x.Phys, "pcluster", "%v compression not declared by the superblock", x.Algorithm)
	}
	if int64(cap(scratch)) < x.Stored {
		// A stored pcluster, held for this call only.
		if err := r.budget.Charge(x.Stored, "erofs stored pcluster", x.Phys); err != nil {
			return nil, err
		}
		defer r.budget.Release(x.Stored)
		scratch = make([]byte, x.Stored)
	}
	src := scratch[:x.Stored]
	if err := r.readAt(src, x.Phys, "pcluster"); err != nil {
		return nil, err
	}
	if err := r.decodePcluster(dst, src, x.Algorithm, x.Partial, x.Phys); err != nil {
		return nil, err
	}
	return dst, nil
}
