package erofs

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/tree"
)

// Layout is an inode's data layout, as on disk.
type Layout uint8

// Data layouts.
const (
	LayoutFlatPlain         Layout = 0 // blocks in a row
	LayoutCompressedFull    Layout = 1 // compressed, one 8-byte index per logical cluster
	LayoutFlatInline        Layout = 2 // blocks in a row, the tail inline after the inode
	LayoutCompressedCompact Layout = 3 // compressed, compact indexes
	LayoutChunkBased        Layout = 4 // chunks, each at its own block address
)

func (l Layout) String() string {
	switch l {
	case LayoutFlatPlain:
		return "flat plain"
	case LayoutCompressedFull:
		return "compressed (full indexes)"
	case LayoutFlatInline:
		return "flat inline"
	case LayoutCompressedCompact:
		return "compressed (compact indexes)"
	case LayoutChunkBased:
		return "chunk-based"
	}
	return fmt.Sprintf("layout %d", uint8(l))
}

// Compressed reports whether l is a compressed layout.
func (l Layout) Compressed() bool { return l == LayoutCompressedFull || l == LayoutCompressedCompact }

// Entry is one node of the image as the Walker yields it. Node.Inode is
// the inode's nid: hard links share it.
type Entry struct {
	tree.Node
	Nid      uint64
	Layout   Layout
	Extended bool // 64-byte inode (else 32-byte compact)

	iloc  int64  // image offset of the inode
	isize int64  // inode size: 32 or 64
	xsize int64  // xattr area size
	iu    uint32 // i_u: start block, rdev, chunk format
	ftype uint8
}

// IsRegular reports whether e is a regular file.
func (e *Entry) IsRegular() bool { return e.Mode.IsRegular() }

// DataOff returns the image offset just past the inode and its xattrs:
// where inline data, chunk indexes or the compression map header start.
func (e *Entry) DataOff() int64 { return e.iloc + e.isize + e.xsize }

// Limits on what one inode may claim.
const (
	maxSymlink = 64 << 10 // bytes of a symlink target
	maxXattrs  = 4096     // attributes per inode
)

// Unix file type bits of i_mode.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// fileType maps i_mode's type to the dirent file type (1..7).
func fileType(mode uint16) uint8 {
	switch uint32(mode) & sIFMT {
	case sIFREG:
		return 1
	case sIFDIR:
		return 2
	case sIFCHR:
		return 3
	case sIFBLK:
		return 4
	case sIFIFO:
		return 5
	case sIFSOCK:
		return 6
	case sIFLNK:
		return 7
	}
	return 0
}

// goMode converts i_mode to an fs.FileMode; an unknown type gives none of
// the type bits.
func goMode(mode uint16) fs.FileMode {
	m, _ := tree.ModeFromPOSIX(uint32(mode))
	return m
}

// decodeDev splits a device number like the kernel's new_decode_dev.
func decodeDev(dev uint32) (major, minor uint32) {
	return (dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00)
}

// Entry returns the inode nid as an Entry named path, with its xattrs and
// symlink target. It is what the Walker yields for each node.
func (r *Reader) Entry(nid uint64, path string) (*Entry, error) {
	return r.entryAt(nid, path, -1)
}

// entryAt is Entry for a nid read at image offset ref (a directory entry),
// which an out-of-range nid is reported at.
func (r *Reader) entryAt(nid uint64, path string, ref int64) (*Entry, error) {
	if nid >= uint64(r.end)/32 || r.nidOff(nid)+32 > r.end {
		return nil, newErr(ref, fmt.Sprintf("directory entry of %s", path), fmt.Errorf("%w: nid %d", ErrBounds, nid))
	}
	e, err := r.readInode(nid)
	if err != nil {
		return nil, withPath(err, path)
	}
	e.Path = path
	if err := r.readXattrs(e); err != nil {
		return nil, withPath(err, path)
	}
	if e.Mode&fs.ModeSymlink != 0 {
		if e.Size > maxSymlink {
			return nil, withPath(corrupt(e.iloc, "symlink", "target of %d bytes", e.Size), path)
		}
		if err := budget.Attach(r.budget, e, 2*e.Size, "erofs symlink target", e.iloc); err != nil {
			return nil, err
		}
		b, err := r.readSmall(e, "symlink target")
		if err != nil {
			return nil, withPath(err, path)
		}
		e.Link = string(b)
	}
	return e, nil
}

// withPath names the path in a FormatError's structure.
func withPath(err error, path string) error {
	if fe, ok := err.(*FormatError); ok && path != "" && !strings.Contains(fe.What, " of /") {
		fe.What = fe.What + " of " + path
	}
	return err
}

func (r *Reader) readInode(nid uint64) (*Entry, error) {
	off := r.nidOff(nid)
	what := fmt.Sprintf("inode nid %d", nid)
	if err := r.stopped(off, what); err != nil {
		return nil, err
	}
	var b [64]byte
	if err := r.readMeta(b[:32], off, what); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	format := le.Uint16(b[0:])
	e := &Entry{Nid: nid, iloc: off, Extended: format&1 != 0, Layout: Layout(format >> 1 & 7)}
	e.Inode = nid
	if format&^0x1f != 0 {
		return nil, unsupported(off, what, "i_format %#x", format)
	}
	if e.Layout > LayoutChunkBased {
		return nil, unsupported(off, what, "data layout %d", e.Layout)
	}
	icount := le.Uint16(b[2:])
	mode := le.Uint16(b[4:])
	if icount > 0 {
		e.xsize = 12 + 4*(int64(icount)-1)
	}
	var mtime int64
	var nsec uint32
	if e.Extended {
		e.isize = 64
		if err := r.readMeta(b[32:64], off+32, what); err != nil {
			return nil, err
		}
		size := le.Uint64(b[8:])
		if size > 1<<62 {
			return nil, corrupt(off+8, what, "size %d", size)
		}
		e.Size = int64(size)
		e.iu = le.Uint32(b[16:])
		e.UID = le.Uint32(b[24:])
		e.GID = le.Uint32(b[28:])
		mtime = int64(le.Uint64(b[32:]))
		nsec = le.Uint32(b[40:])
		e.Nlink = le.Uint32(b[44:])
	} else {
		e.isize = 32
		e.Size = int64(le.Uint32(b[8:]))
		e.iu = le.Uint32(b[16:])
		e.UID = uint32(le.Uint16(b[24:]))
		e.GID = uint32(le.Uint16(b[26:]))
		mtime = int64(r.Super.BuildTime) + int64(le.Uint32(b[12:]))
		nsec = r.Super.BuildTimeNsec
		if uint32(mode)&sIFMT != sIFDIR && format>>4&1 != 0 {
			e.Nlink = 1 // i_nb holds the start block's high bits
			if le.Uint16(b[6:]) != 0 {
				return nil, unsupported(off+6, what, "48-bit block addresses")
			}
		} else {
			e.Nlink = uint32(le.Uint16(b[6:]))
		}
	}
	if nsec >= 1e9 {
		return nil, corrupt(off, what, "mtime nanoseconds %d", nsec)
	}
	e.ModTime = time.Unix(mtime, int64(nsec)).UTC()
	e.Mode = goMode(mode)
	e.ftype = fileType(mode)
	if e.ftype == 0 {
		return nil, corrupt(off+4, what, "mode %#o has no file type", mode)
	}
	if e.DataOff() > r.end {
		return nil, newErr(off, what, ErrBounds)
	}
	switch e.ftype {
	case 3, 4:
		e.DevMajor, e.DevMinor = decodeDev(e.iu)
		e.Size = 0
	case 5, 6:
		e.Size = 0
	}
	if e.ftype >= 3 && e.ftype <= 6 && e.Layout != LayoutFlatPlain && e.Layout != LayoutFlatInline {
		return nil, corrupt(off, what, "special file with data layout %s", e.Layout)
	}
	return e, nil
}

// Xattr name prefixes by index.
var xattrPrefix = [...]string{1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default", 4: "trusted.", 5: "lustre.", 6: "security."}

// readXattrs decodes e's inline and shared xattrs into e.Xattrs, sorted by
// name, and charges them to the budget for as long as e lives.
func (r *Reader) readXattrs(e *Entry) error {
	if e.xsize == 0 {
		return nil
	}
	start := e.iloc + e.isize
	if err := r.budget.Charge(e.xsize, "erofs xattr area", start); err != nil {
		return err
	}
	defer r.budget.Release(e.xsize)
	area := make([]byte, e.xsize)
	if err := r.readMeta(area, start, "xattr area"); err != nil {
		return err
	}
	shared := int64(area[4])
	if 12+4*shared > e.xsize {
		return corrupt(start, "xattr area", "%d shared xattrs in %d bytes", shared, e.xsize)
	}
	var out []tree.Xattr
	var held int64
	add := func(x tree.Xattr, off int64) error {
		if len(out) == maxXattrs {
			return corrupt(off, "xattr", "more than %d xattrs", maxXattrs)
		}
		if err := budget.Attach(r.budget, e, x.MemSize(), "erofs xattrs", off); err != nil {
			return err
		}
		held += x.MemSize()
		out = append(out, x)
		return nil
	}
	for i := range shared {
		id := binary.LittleEndian.Uint32(area[12+4*i:])
		x, err := r.sharedXattr(id, start+12+4*i)
		if err != nil {
			return err
		}
		if err := add(x, start+12+4*i); err != nil {
			return err
		}
	}
	p := 12 + 4*shared
	for p < e.xsize {
		if err := r.stopped(start+p, "xattr"); err != nil {
			return err
		}
		name, value, n, err := parseXattr(area[p:], start+p)
		if err != nil {
			return err
		}
		if err := add(tree.NewXattr(name, value), start+p); err != nil {
			return err
		}
		p += (n + 3) &^ 3
	}
	slices.SortFunc(out, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	e.Xattrs = out
	return nil
}

// sharedXattr decodes shared xattr id (referenced at image offset ref),
// through a memo: an image can make every inode reference the same 255
// shared values of 64 KiB, and each is then read and hashed once while it
// stays memoised.
func (r *Reader) sharedXattr(id uint32, ref int64) (tree.Xattr, error) {
	r.xmu.Lock()
	x, ok := r.xmemo[id]
	r.xmu.Unlock()
	if ok {
		return x, nil
	}
	off := int64(r.Super.XattrBlkAddr)<<r.Super.BlkSzBits + int64(id)*4
	if off+4 > r.end {
		return x, newErr(ref, "shared xattr id", fmt.Errorf("%w: id %d", ErrBounds, id))
	}
	if err := r.stopped(off, "shared xattr"); err != nil {
		return x, err
	}
	var h [4]byte
	if err := r.readMeta(h[:], off, "shared xattr"); err != nil {
		return x, err
	}
	n := 4 + int64(h[0]) + int64(binary.LittleEndian.Uint16(h[2:]))
	if off+n > r.end {
		return x, newErr(ref, "shared xattr id", fmt.Errorf("%w: id %d holds %d bytes", ErrBounds, id, n))
	}
	if err := r.budget.Charge(n, "erofs shared xattr", off); err != nil {
		return x, err
	}
	defer r.budget.Release(n)
	buf := make([]byte, n)
	if err := r.readMeta(buf, off, "shared xattr"); err != nil {
		return x, err
	}
	name, value, _, err := parseXattr(buf, off)
	if err != nil {
		return x, err
	}
	x = tree.NewXattr(name, value)
	r.xmu.Lock()
	if len(r.xmemo) >= xattrMemo {
		clear(r.xmemo)
	}
	if r.xmemo == nil {
		r.xmemo = make(map[uint32]tree.Xattr, xattrMemo)
	}
	r.xmemo[id] = x
	r.xmu.Unlock()
	return x, nil
}

// xattrMemo bounds the shared xattrs memoised; each holds at most
// tree.XattrExcerpt bytes of value and a 255-byte name.
const xattrMemo = 1024

// xattrMemoBytes is what the memo can hold, charged at Open.
const xattrMemoBytes = xattrMemo * (255 + tree.XattrExcerpt + 80 + 48)

// parseXattr decodes one xattr entry at the start of b (found at image
// offset off) and returns its length.
func parseXattr(b []byte, off int64) (name string, value []byte, n int64, err error) {
	if len(b) < 4 {
		return "", nil, 0, corrupt(off, "xattr", "entry header past the xattr area")
	}
	nlen, idx, vlen := int64(b[0]), b[1], int64(binary.LittleEndian.Uint16(b[2:]))
	n = 4 + nlen + vlen
	if n > int64(len(b)) {
		return "", nil, 0, corrupt(off, "xattr", "entry of %d bytes past the xattr area", n)
	}
	if idx&0x80 != 0 {
		return "", nil, 0, unsupported(off, "xattr", "long name prefix %d", idx&0x7f)
	}
	if int(idx) >= len(xattrPrefix) || xattrPrefix[idx] == "" {
		return "", nil, 0, corrupt(off, "xattr", "name index %d", idx)
	}
	if idx != 2 && idx != 3 && nlen == 0 {
		return "", nil, 0, corrupt(off, "xattr", "empty name")
	}
	return xattrPrefix[idx] + string(b[4:4+nlen]), b[4+nlen : n], n, nil
}
