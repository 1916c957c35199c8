package squashfs

import (
	"encoding/binary"
	"io/fs"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/tree"
)

// Inode types as stored on disk; the extended variants add fields (link
// counts, 64-bit sizes, xattr indexes) to the basic ones.
const (
	TypeDir = 1 + iota
	TypeFile
	TypeSymlink
	TypeBlockDev
	TypeCharDev
	TypeFifo
	TypeSocket
	TypeExtDir
	TypeExtFile
	TypeExtSymlink
	TypeExtBlockDev
	TypeExtCharDev
	TypeExtFifo
	TypeExtSocket
)

const (
	blockUncompressed = 1 << 24 // in a data block size word: stored as is
	maxFileBlocks     = 1 << 24 // block list bound: 64 MiB of sizes
	maxSymlink        = 1 << 16
)

// Entry is one node of the image as the Walker yields it.
type Entry struct {
	tree.Node
	InodeType int // 1..14, as on disk

	// Regular files only.
	BlocksStart uint64   // absolute offset of the first data block
	BlockSizes  []uint32 // on-disk size words: bit 24 set = stored uncompressed, 0 = sparse block
	Fragment    uint32   // fragment index of the tail, 0xFFFFFFFF if none
	FragOffset  uint32   // offset of the tail in the decoded fragment block

	ref      uint64 // inode reference
	xattrIdx uint32
	dirBlock uint32 // directories: listing position in the directory table
	dirPos   uint16
	dirSize  uint32 // listing size in bytes, without the 3 the format adds
	// Extended directories: the directory index that follows the inode
	// (idxCount entries at byte idxPos of the metadata block at absolute
	// offset idxBlock), which lets a lookup start near the name it seeks.
	idxCount uint16
	idxPos   uint16
	idxBlock int64
}

// IsRegular reports whether e is a regular file.
func (e *Entry) IsRegular() bool { return e.Mode.IsRegular() }

// readInode decodes the inode at reference ref (block offset from the inode
// table start << 16 | position in the decoded block).
func (r *Reader) readInode(ref uint64) (*Entry, error) {
	s := &r.Super
	tableLen := s.DirTableStart - s.InodeTableStart
	if ref>>16 >= tableLen || ref&0xffff >= metaSize || ref>>48 != 0 {
		return nil, corrupt(int64(s.InodeTableStart), "inode reference", "%#x outside the inode table", ref)
	}
	m, err := r.metaAt(int64(s.InodeTableStart+ref>>16), int(ref&0xffff), int64(s.DirTableStart))
	if err != nil {
		return nil, err
	}
	off := m.offset()
	bad := func(format string, args ...any) error { return corrupt(off, "inode", format, args...) }
	le := binary.LittleEndian
	h, err := m.read(16)
	if err != nil {
		return nil, err
	}
	e := &Entry{ref: ref, InodeType: int(le.Uint16(h)), xattrIdx: noXattr, Fragment: noFragment}
	perm := le.Uint16(h[2:])
	if e.UID, err = r.id(le.Uint16(h[4:]), off); err != nil {
		return nil, err
	}
	if e.GID, err = r.id(le.Uint16(h[6:]), off); err != nil {
		return nil, err
	}
	e.ModTime = time.Unix(int64(le.Uint32(h[8:])), 0).UTC()
	e.Inode = uint64(le.Uint32(h[12:]))
	if e.Inode == 0 || e.Inode > uint64(s.Inodes) {
		return nil, bad("inode number %d not in 1..%d", e.Inode, s.Inodes)
	}
	// The permission, setuid, setgid and sticky bits, as in st_mode; the
	// type comes from the inode type below.
	e.Mode, _ = tree.ModeFromPOSIX(uint32(perm) & 0o7777)
	e.Nlink = 1

	fields := m.read // the type-specific fixed part
	var b []byte
	switch e.InodeType {
	case TypeDir:
		if b, err = fields(16); err != nil {
			return nil, err
		}
		e.Mode |= fs.ModeDir
		e.dirBlock, e.Nlink = le.Uint32(b), le.Uint32(b[4:])
		e.Size, e.dirPos = int64(le.Uint16(b[8:])), le.Uint16(b[10:])
	case TypeExtDir:
		if b, err = fields(24); err != nil {
			return nil, err
		}
		e.Mode |= fs.ModeDir
		e.Nlink, e.Size, e.dirBlock = le.Uint32(b), int64(le.Uint32(b[4:])), le.Uint32(b[8:])
		e.idxCount, e.dirPos, e.xattrIdx = le.Uint16(b[16:]), le.Uint16(b[18:]), le.Uint32(b[20:])
		e.idxBlock, e.idxPos = m.offset(), uint16(m.pos)
	case TypeFile:
		if b, err = fields(16); err != nil {
			return nil, err
		}
		e.BlocksStart, e.Fragment = uint64(le.Uint32(b)), le.Uint32(b[4:])
		e.FragOffset, e.Size = le.Uint32(b[8:]), int64(le.Uint32(b[12:]))
	case TypeExtFile:
		if b, err = fields(40); err != nil {
			return nil, err
		}
		size := le.Uint64(b[8:])
		if size > 1<<62 {
			return nil, bad("file size %d", size)
		}
		e.BlocksStart, e.Size = le.Uint64(b), int64(size)
		e.Nlink, e.Fragment = le.Uint32(b[24:]), le.Uint32(b[28:])
		e.FragOffset, e.xattrIdx = le.Uint32(b[32:]), le.Uint32(b[36:])
	case TypeSymlink, TypeExtSymlink:
		if b, err = fields(8); err != nil {
			return nil, err
		}
		e.Mode |= fs.ModeSymlink
		e.Nlink = le.Uint32(b)
		n := le.Uint32(b[4:])
		if n == 0 || n > maxSymlink {
			return nil, bad("symlink target size %d", n)
		}
		t, err := m.read(int(n))
		if err != nil {
			return nil, err
		}
		e.Link, e.Size = string(t), int64(n)
		if e.InodeType == TypeExtSymlink {
			if b, err = fields(4); err != nil {
				return nil, err
			}
			e.xattrIdx = le.Uint32(b)
		}
	case TypeBlockDev, TypeCharDev, TypeExtBlockDev, TypeExtCharDev:
		n := 8
		if e.InodeType >= TypeExtDir {
			n = 12
		}
		if b, err = fields(n); err != nil {
			return nil, err
		}
		e.Mode |= fs.ModeDevice
		if e.InodeType == TypeCharDev || e.InodeType == TypeExtCharDev {
			e.Mode |= fs.ModeCharDevice
		}
		e.Nlink = le.Uint32(b)
		e.DevMajor, e.DevMinor = decodeDev(le.Uint32(b[4:]))
		if n == 12 {
			e.xattrIdx = le.Uint32(b[8:])
		}
	case TypeFifo, TypeSocket, TypeExtFifo, TypeExtSocket:
		n := 4
		if e.InodeType >= TypeExtDir {
			n = 8
		}
		if b, err = fields(n); err != nil {
			return nil, err
		}
		if e.InodeType == TypeFifo || e.InodeType == TypeExtFifo {
			e.Mode |= fs.ModeNamedPipe
		} else {
			e.Mode |= fs.ModeSocket
		}
		e.Nlink = le.Uint32(b)
		if n == 8 {
			e.xattrIdx = le.Uint32(b[4:])
		}
	default:
		return nil, bad("inode type %d", e.InodeType)
	}
	if e.Mode.IsDir() {
		if e.Size < 3 {
			return nil, bad("directory size %d", e.Size)
		}
		e.dirSize = uint32(e.Size - 3)
		if uint64(e.dirBlock) >= uint64(r.end)-s.DirTableStart || e.dirPos >= metaSize {
			return nil, bad("directory listing %d:%d outside the directory table", e.dirBlock, e.dirPos)
		}
	}
	if e.IsRegular() {
		if err := r.readBlockList(e, m, off); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// readBlockList reads the block size words that follow a file inode and
// checks them against the block size and the image.
func (r *Reader) readBlockList(e *Entry, m *metaReader, off int64) error {
	bad := func(format string, args ...any) error { return corrupt(off, "file inode", format, args...) }
	s := &r.Super
	n, ok := r.blockCount(e)
	if !ok {
		return bad("fragment %d of %d, size %d", e.Fragment, s.Fragments, e.Size)
	}
	if n > maxFileBlocks {
		return bad("%d blocks (limit %d)", n, maxFileBlocks)
	}
	if e.Fragment != noFragment && e.FragOffset >= s.BlockSize {
		return bad("fragment offset %d", e.FragOffset)
	}
	if err := budget.Attach(r.budget, e, int64(4*n), "squashfs block list", off); err != nil {
		return err
	}
	e.BlockSizes = make([]uint32, 0, min(n, metaSize/4))
	stored := uint64(0)
	for len(e.BlockSizes) < n {
		if err := r.stopped(off, "file inode"); err != nil {
			return err
		}
		k := min(n-len(e.BlockSizes), metaSize/4)
		b, err := m.read(4 * k)
		if err != nil {
			return err
		}
		for i := range k {
			w := binary.LittleEndian.Uint32(b[4*i:])
			size := w &^ blockUncompressed
			if size > s.BlockSize {
				return bad("block %d size word %#x", len(e.BlockSizes), w)
			}
			stored += uint64(size)
			e.BlockSizes = append(e.BlockSizes, w)
		}
	}
	if e.BlocksStart > uint64(r.end) || stored > uint64(r.end)-e.BlocksStart {
		return bad("%d bytes of data at %d beyond the image end %d", stored, e.BlocksStart, r.end)
	}
	return nil
}

// blockCount returns how many full-or-last blocks a file has: all of them
// without a fragment, all but the tail with one.
func (r *Reader) blockCount(e *Entry) (int, bool) {
	bs, size := int64(r.Super.BlockSize), e.Size
	if e.Fragment == noFragment {
		return int((size + bs - 1) / bs), true
	}
	if e.Fragment >= r.Super.Fragments || size%bs == 0 {
		return 0, false
	}
	return int(size / bs), true
}

// decodeDev splits a device number like the kernel's new_decode_dev.
func decodeDev(dev uint32) (major, minor uint32) {
	return (dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00)
}
