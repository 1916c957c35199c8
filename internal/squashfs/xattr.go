package squashfs

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/internal/tree"
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

// xattrs returns the attributes of xattr id idx, sorted by full name.
func (r *Reader) xattrs(idx uint32) ([]tree.Xattr, error) {
	t := &r.xattr
	if idx == noXattr {
		return nil, nil
	}
	s := &r.Super
	if !t.present || idx >= t.ids {
		return nil, corrupt(int64(s.XattrTableStart), "xattr id", "index %d of %d", idx, t.ids)
	}
	m, err := r.lookupTable(s.XattrTableStart+16, uint64(idx), 16, "xattr id table")
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	b, err := m.read(16)
	if err != nil {
		return nil, err
	}
	ref, count := le.Uint64(b), le.Uint32(b[8:])
	if count > maxXattrs {
		return nil, corrupt(m.offset(), "xattr id", "%d xattrs", count)
	}
	kv, err := r.xattrMeta(ref)
	if err != nil {
		return nil, err
	}
	out := make([]tree.Xattr, 0, count)
	for range count {
		off := kv.offset()
		bad := func(format string, args ...any) error { return corrupt(off, "xattr", format, args...) }
		h, err := kv.read(4)
		if err != nil {
			return nil, err
		}
		typ, nameLen := le.Uint16(h), int(le.Uint16(h[2:]))
		if int(typ&^xattrOutOfLine) >= len(xattrPrefixes) || typ&^(xattrOutOfLine|0xff) != 0 {
			return nil, bad("type %#x", typ)
		}
		name, err := kv.read(nameLen)
		if err != nil {
			return nil, err
		}
		x := tree.Xattr{Name: xattrPrefixes[typ&0xff] + string(name)}
		if typ&xattrOutOfLine != 0 {
			v, err := readXattrValue(kv, off)
			if err != nil {
				return nil, err
			}
			if len(v) != 8 {
				return nil, bad("out-of-line value reference of %d bytes", len(v))
			}
			vr, err := r.xattrMeta(le.Uint64(v))
			if err != nil {
				return nil, err
			}
			if x.Value, err = readXattrValue(vr, off); err != nil {
				return nil, err
			}
		} else if x.Value, err = readXattrValue(kv, off); err != nil {
			return nil, err
		}
		x.Value = slices.Clone(x.Value)
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
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
