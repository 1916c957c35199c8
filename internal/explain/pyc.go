package explain

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/isodiff/isodiff/budget"
	"io"
	"strings"
)

// pycHeader is a CPython bytecode header: PEP 552 (3.7+: flags, then
// source mtime and size or a source hash), 3.3-3.6 (mtime, size), or older
// (mtime).
type pycHeader struct {
	magic  uint16
	flags  uint32
	hashed bool
	mtime  uint32
	size   uint32
	hash   string
	length int64
}

func parsePyc(h []byte) (pycHeader, error) {
	if len(h) < 16 {
		return pycHeader{}, fmt.Errorf("pyc header cut short")
	}
	p := pycHeader{magic: binary.LittleEndian.Uint16(h)}
	switch {
	case p.magic >= 3390 && p.magic < 4000: // 3.7+
		p.flags = binary.LittleEndian.Uint32(h[4:])
		p.length = 16
		if p.flags&1 != 0 {
			p.hashed = true
			p.hash = hex.EncodeToString(h[8:16])
		} else {
			p.mtime = binary.LittleEndian.Uint32(h[8:])
			p.size = binary.LittleEndian.Uint32(h[12:])
		}
	case p.magic >= 3230 && p.magic < 3390: // 3.3-3.6
		p.mtime = binary.LittleEndian.Uint32(h[4:])
		p.size = binary.LittleEndian.Uint32(h[8:])
		p.length = 12
	default:
		p.mtime = binary.LittleEndian.Uint32(h[4:])
		p.length = 8
	}
	return p, nil
}

// skipNode is n without its first off bytes.
func skipNode(n *node, name string, off int64, ex *explainer) *node {
	size := int64(-1)
	if n.size >= 0 {
		size = n.size - off
	}
	return &node{name: name, size: size, open: func() (io.ReadCloser, error) {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(io.Discard, rc, off); err != nil {
			rc.Close()
			return nil, err
		}
		return rc, nil
	}}
}

// pyc explains two .pyc files: header fields, then the code object.
func (ex *explainer) pyc(a, b *node, ha, hb []byte, depth int) Result {
	pa, err := parsePyc(ha)
	if err != nil {
		return ex.fallback(fmtPyc, a, b, err)
	}
	pb, err := parsePyc(hb)
	if err != nil {
		return ex.fallback(fmtPyc, a, b, err)
	}
	r := Result{Format: fmtPyc}
	var d strings.Builder
	var fields []string
	change := func(name, va, vb string) {
		fields = append(fields, name)
		fmt.Fprintf(&d, "header %s: %s -> %s\n", name, va, vb)
	}
	if pa.magic != pb.magic {
		change("magic", fmt.Sprint(pa.magic), fmt.Sprint(pb.magic))
	}
	if pa.flags != pb.flags {
		change("flags", fmt.Sprintf("%#x", pa.flags), fmt.Sprintf("%#x", pb.flags))
	}
	if pa.mtime != pb.mtime {
		change("source mtime", fmtUnix(int64(pa.mtime)), fmtUnix(int64(pb.mtime)))
		r.hint(hintPycMtime)
	}
	if pa.size != pb.size {
		change("source size", fmt.Sprint(pa.size), fmt.Sprint(pb.size))
	}
	if pa.hash != pb.hash {
		change("source hash", orNone(pa.hash), orNone(pb.hash))
	}
	if pa.length != pb.length {
		r.Summary = fmt.Sprintf("pyc: different header layouts (magic %d vs %d)", pa.magic, pb.magic)
		r.Details = d.String()
		return r
	}
	ca, cb := skipNode(a, a.name+" (code object)", pa.length, ex), skipNode(b, b.name+" (code object)", pb.length, ex)
	same, _, err := ex.sameStreams(ca, cb)
	if err != nil {
		return ex.fallback(fmtPyc, a, b, err)
	}
	header := "header identical"
	if len(fields) > 0 {
		header = "header " + strings.Join(fields, ", ") + " differ"
		if len(fields) == 1 {
			header = "header " + fields[0] + " differs"
		}
	}
	if same {
		r.Summary = "pyc: " + header + ", code object identical"
		r.Complete = true
		r.Details = d.String()
		return r
	}
	r.Summary = "pyc: code object differs; " + header
	hold := ex.newHold()
	defer hold.Release()
	oa, ob := ex.nodeStrings(ca, &hold), ex.nodeStrings(cb, &hold)
	only := func(x, y map[string]bool) []string {
		var out []string
		for s := range x {
			if !y[s] {
				out = append(out, s)
			}
		}
		return sortedStrings(out)
	}
	sa, sb := only(oa, ob), only(ob, oa)
	if len(sa)+len(sb) > 0 {
		fmt.Fprintf(&d, "strings only in a: %s\nstrings only in b: %s\n", quoteList(sa, 8), quoteList(sb, 8))
		r.hint(pathHints(sa, sb)...)
		for i := 0; i < len(sa) && i < len(sb); i++ {
			r.hint(classify(sa[i], sb[i], hintTextTimestamp)...)
		}
	} else {
		d.WriteString("the same strings on both sides: the marshalled structure differs (reference flags, constant order)\n")
	}
	c := ex.hexdiff(ca, cb)
	c.Name = "code object"
	r.Children = []Result{c}
	r.Details = d.String()
	return r
}

// nodeStrings returns the set of printable strings in a node, bounded.
// Its strings are charged to hold.
func (ex *explainer) nodeStrings(n *node, hold *budget.Hold) map[string]bool {
	rc, err := ex.openNode(n)
	if err != nil {
		return nil
	}
	defer rc.Close()
	set, _ := ex.stringSet(io.LimitReader(rc, elfMaxStrSection), hold, 0)
	return set
}
