package squashfs

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/tree"
)

// xattrTable is the xattr id table header: where the key/value metadata
// starts and how many id entries (one per distinct xattr set) there are.
type xattrTable struct {
	kvStart uint64
	ids     uint32
	present bool
}

const (
	xattrOutOfLine = 0x100   // key type flag: the value is a reference to it
	maxXattrs      = 1 << 12 // xattrs per inode
	maxXattrValue  = 1 << 16 // Linux XATTR_SIZE_MAX
)

var xattrPrefixes = []string{"user.", "trusted.", "security."}

func (t *xattrTable) init(r *Reader) error {
	s := &r.Super
	if s.XattrTableStart == noTable {
		return nil
	}
	var b [16]byte
	if err := r.readAt(b[:], int64(s.XattrTableStart), "xattr id table"); err != nil {
		return err
	}
	t.kvStart, t.ids = binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint32(b[8:])
	if t.kvStart < superblockSize || t.kvStart >= s.XattrTableStart {
		return corrupt(int64(s.XattrTableStart), "xattr id table", "key/value table start %d", t.kvStart)
	}
	if index := (uint64(t.ids)*16 + metaSize - 1) / metaSize * 8; 16+index > uint64(r.end)-s.XattrTableStart {
		return corrupt(int64(s.XattrTableStart), "xattr id table", "%d ids", t.ids)
	}
	t.present = true
	return nil
}

// xattrSetKey names one decoded xattr set: where its keys start in the
// key/value table and how many there are.
type xattrSetKey struct {
	ref   uint64
	count uint32
}

// Memo sizes: decoded sets (each at most maxXattrs excerpted attributes,
// charged by the entries that hold them) and out-of-line values (each an
// excerpt, at most a few hundred bytes).
const (
	xattrSetCache   = 16
	xattrValueCache = 1024
	xattrMemoBytes  = xattrValueCache * (tree.XattrExcerpt + 96)
)

// xattrs returns the attributes of xattr id idx, sorted by full name, and
// the bytes they hold (for the caller to charge). Long values are excerpted
// (tree.NewXattr). A set shared by many inodes, and an out-of-line value
// shared by many keys, are decoded once while they stay memoised; the
// slice returned may be shared and must not be modified.
func (r *Reader) xattrs(idx uint32) ([]tree.Xattr, int64, error) {
	t := &r.xattr
	if idx == noXattr {
		return nil, 0, nil
	}
	s := &r.Super
	if !t.present || idx >= t.ids {
		return nil, 0, corrupt(int64(s.XattrTableStart), "xattr id", "index %d of %d", idx, t.ids)
	}
	m, err := r.lookupTable(s.XattrTableStart+16, uint64(idx), 16, "xattr id table")
	if err != nil {
		return nil, 0, err
	}
	le := binary.LittleEndian
	b, err := m.read(16)
	if err != nil {
		return nil, 0, err
	}
	key := xattrSetKey{le.Uint64(b), le.Uint32(b[8:])}
	if key.count > maxXattrs {
		return nil, 0, corrupt(m.offset(), "xattr id", "%d xattrs", key.count)
	}
	if set, ok := r.xattrSets.get(key); ok {
		return set, xattrSetSize(set), nil
	}
	kv, err := r.xattrMeta(key.ref)
	if err != nil {
		return nil, 0, err
	}
	out := make([]tree.Xattr, 0, key.count)
	for range key.count {
		off := kv.offset()
		if err := r.stopped(off, "xattr"); err != nil {
			return nil, 0, err
		}
		bad := func(format string, args ...any) error { return corrupt(off, "xattr", format, args...) }
		h, err := kv.read(4)
		if err != nil {
			return nil, 0, err
		}
		typ, nameLen := le.Uint16(h), int(le.Uint16(h[2:]))
		if int(typ&^xattrOutOfLine) >= len(xattrPrefixes) || typ&^(xattrOutOfLine|0xff) != 0 {
			return nil, 0, bad("type %#x", typ)
		}
		nameBytes, err := kv.read(nameLen)
		if err != nil {
			return nil, 0, err
		}
		name := xattrPrefixes[typ&0xff] + string(nameBytes)
		var x tree.Xattr
		if typ&xattrOutOfLine != 0 {
			v, err := readXattrValue(kv, off)
			if err != nil {
				return nil, 0, err
			}
			if len(v) != 8 {
				return nil, 0, bad("out-of-line value reference of %d bytes", len(v))
			}
			if x, err = r.outOfLineValue(le.Uint64(v), off); err != nil {
				return nil, 0, err
			}
			x.Name = name
		} else {
			v, err := readXattrValue(kv, off)
			if err != nil {
				return nil, 0, err
			}
			x = tree.NewXattr(name, v)
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	r.xattrSets.put(key, out)
	return out, xattrSetSize(out), nil
}

// outOfLineValue returns the (excerpted) value stored at reference ref.
func (r *Reader) outOfLineValue(ref uint64, off int64) (tree.Xattr, error) {
	if x, ok := r.xattrValues.get(ref); ok {
		return x, nil
	}
	vr, err := r.xattrMeta(ref)
	if err != nil {
		return tree.Xattr{}, err
	}
	v, err := readXattrValue(vr, off)
	if err != nil {
		return tree.Xattr{}, err
	}
	x := tree.NewXattr("", v)
	r.xattrValues.put(ref, x)
	return x, nil
}

func xattrSetSize(set []tree.Xattr) int64 {
	n := int64(0)
	for _, x := range set {
		n += x.MemSize()
	}
	return n
}

// xattrMeta positions a reader at reference ref of the key/value table.
func (r *Reader) xattrMeta(ref uint64) (*metaReader, error) {
	start := r.xattr.kvStart
	if ref>>16 >= r.Super.XattrTableStart-start || ref&0xffff >= metaSize {
		return nil, corrupt(int64(start), "xattr reference", "%#x outside the table", ref)
	}
	return r.metaAt(int64(start+ref>>16), int(ref&0xffff), int64(r.Super.XattrTableStart))
}

func readXattrValue(m *metaReader, off int64) ([]byte, error) {
	b, err := m.read(4)
	if err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxXattrValue {
		return nil, corrupt(off, "xattr", "value of %d bytes", n)
	}
	return m.read(int(n))
}
