// Package treediff compares two file trees given as streams of nodes in
// tree.Compare order: a merge-walk that pairs nodes by path, a field-by-field
// node comparison, the one-line listing form of a node, and a unified diff of
// the two listings built while walking. Schedule runs that merge-walk for the
// differs of the compressed formats (sqfsdiff, erofsdiff): metadata as it
// goes, file contents on worker comparers (FileComparer), results in walk
// order and charged to the budget; PieceComparer is the comparer those
// formats share, around their own piece-by-piece comparison.
//
// Why not go-difflib for the listings: both listings are sorted by the same
// key, so the path itself aligns them and the merge-walk already is the
// alignment. A general diff (go-difflib's SequenceMatcher) would hold both
// listings in memory and can go quadratic on a 15,000-line listing; the
// merge-walk holds three lines of context and runs in one pass.
package treediff

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// Merge walks two node streams in tree.Compare order and calls visit for
// each path: with both nodes when the path is in both, with a nil b when it
// is only in a, and a nil a when only in b. next returns io.EOF at the end.
// A stream that is out of order is an error: pairing would silently go wrong.
func Merge[E any](ctx context.Context, nextA, nextB func() (E, error), node func(E) *tree.Node, visit func(a, b E, inA, inB bool) error) error {
	var zero E
	a, errA := nextA()
	b, errB := nextB()
	var lastA, lastB string
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if errA != nil && errA != io.EOF {
			return tree.NewSideError(0, errA)
		}
		if errB != nil && errB != io.EOF {
			return tree.NewSideError(1, errB)
		}
		endA, endB := errA == io.EOF, errB == io.EOF
		if endA && endB {
			return nil
		}
		var c int
		switch {
		case endA:
			c = +1
		case endB:
			c = -1
		default:
			c = tree.Compare(node(a).Path, node(b).Path)
		}
		if c <= 0 {
			p := node(a).Path
			if lastA != "" && tree.Compare(lastA, p) >= 0 {
				return tree.NewSideError(0, fmt.Errorf("%q yielded after %q: not in walk order", p, lastA))
			}
			lastA = p
		}
		if c >= 0 {
			p := node(b).Path
			if lastB != "" && tree.Compare(lastB, p) >= 0 {
				return tree.NewSideError(1, fmt.Errorf("%q yielded after %q: not in walk order", p, lastB))
			}
			lastB = p
		}
		var err error
		switch {
		case c < 0:
			err = visit(a, zero, true, false)
			a, errA = nextA()
		case c > 0:
			err = visit(zero, b, false, true)
			b, errB = nextB()
		default:
			err = visit(a, b, true, true)
			a, errA = nextA()
			b, errB = nextB()
		}
		if err != nil {
			return err
		}
	}
}

// Options say which node fields to compare.
type Options struct {
	// IgnoreMtime leaves modification times out of the comparison.
	IgnoreMtime bool
	// IgnoreNlink leaves link counts out (formats that do not record them).
	IgnoreNlink bool
	// IgnoreOwner leaves uid and gid out (formats that do not record them).
	IgnoreOwner bool
	// IgnoreDirSize leaves directory sizes out: they follow from the
	// entries, which are compared one by one.
	IgnoreDirSize bool
	// ListingWithoutMtime leaves modification times out of listing lines
	// only: they are still compared (for a caller that marks their
	// differences ignored rather than dropping them).
	ListingWithoutMtime bool
}

// CompareNodes lists the fields in which a and b differ. The directory link
// count follows from the number of subdirectories and is not compared.
func CompareNodes(a, b *tree.Node, o Options) []field.Change {
	var ch []field.Change
	add := func(name, va, vb string) {
		if va != vb {
			ch = append(ch, field.Change{Name: name, A: va, B: vb})
		}
	}
	ta, tb := tree.TypeLetter(a.Mode), tree.TypeLetter(b.Mode)
	add("type", ta, tb)
	add("mode", ModeString(a.Mode), ModeString(b.Mode))
	if !o.IgnoreOwner {
		add("uid", u32(a.UID), u32(b.UID))
		add("gid", u32(a.GID), u32(b.GID))
	}
	isDir := ta == "d" && tb == "d"
	if !(isDir && o.IgnoreDirSize) && ta != "c" && ta != "b" {
		add("size", strconv.FormatInt(a.Size, 10), strconv.FormatInt(b.Size, 10))
	}
	if !o.IgnoreMtime {
		add("mtime", FormatTime(a.ModTime), FormatTime(b.ModTime))
	}
	add("filter", FilterString(a.Filter), FilterString(b.Filter))
	add("link_target", a.Link, b.Link)
	if ta == "c" || ta == "b" || tb == "c" || tb == "b" {
		add("device", dev(a), dev(b))
	}
	if !o.IgnoreNlink && !isDir {
		add("nlink", u32(a.Nlink), u32(b.Nlink))
	}
	ch = append(ch, compareXattrs(a.Xattrs, b.Xattrs)...)
	return ch
}

func compareXattrs(a, b []tree.Xattr) []field.Change {
	var ch []field.Change
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i].Name < b[j].Name):
			ch = append(ch, field.Change{Name: "xattr " + a[i].Name, A: XattrValue(a[i]), OnlyA: true})
			i++
		case i >= len(a) || b[j].Name < a[i].Name:
			ch = append(ch, field.Change{Name: "xattr " + b[j].Name, B: XattrValue(b[j]), OnlyB: true})
			j++
		default:
			if !a[i].SameValue(b[j]) {
				ch = append(ch, field.Change{Name: "xattr " + a[i].Name, A: XattrValue(a[i]), B: XattrValue(b[j])})
			}
			i++
			j++
		}
	}
	return ch
}

// XattrValue renders an xattr value as text when it is printable, else as
// hex; an excerpted value is followed by its length and SHA-256 prefix.
func XattrValue(x tree.Xattr) string {
	s := xattrBytes(x.Value)
	if x.Excerpted() {
		s += fmt.Sprintf("... (%d bytes, sha256 %x)", x.Size, x.Sum[:8])
	}
	return s
}

func xattrBytes(v []byte) string {
	printable := len(v) > 0
	for _, c := range bytes.TrimSuffix(v, []byte{0}) {
		if c < ' ' || c > '~' {
			printable = false
			break
		}
	}
	if printable {
		return strconv.Quote(string(bytes.TrimSuffix(v, []byte{0})))
	}
	return fmt.Sprintf("0x%x", v)
}

// FilterString renders a node's filter for a field change: its name, or
// "none" for a file read as recorded.
func FilterString(f string) string {
	if f == "" {
		return "none"
	}
	return f
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func dev(n *tree.Node) string { return fmt.Sprintf("%d,%d", n.DevMajor, n.DevMinor) }

// ModeString renders type and permissions as ls does ("-rwsr-xr-x").
func ModeString(m fs.FileMode) string { return tree.TypeLetter(m) + tree.PermString(m) }

// FormatTime renders a modification time in UTC to the second, with
// nanoseconds when the format carries them.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t = t.UTC()
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05.000000000")
	}
	return t.Format("2006-01-02 15:04:05")
}

// ListingLine renders a node as one line of a listing in the spirit of
// `unsquashfs -lln`: mode, link count, numeric owner, size (or major,minor),
// time, path, link target, the filter the file is read through in brackets
// (" [zisofs:pz:32k]"), then xattrs. Every compared field is on the line,
// so the unified diff of two listings shows every metadata difference.
func ListingLine(n *tree.Node, o Options) string {
	var b strings.Builder
	b.WriteString(ModeString(n.Mode))
	if !o.IgnoreNlink {
		b.WriteString(" " + u32(n.Nlink))
	}
	if !o.IgnoreOwner {
		fmt.Fprintf(&b, " %d/%d", n.UID, n.GID)
	}
	switch tree.TypeLetter(n.Mode) {
	case "c", "b":
		fmt.Fprintf(&b, " %8s", dev(n))
	case "d":
		if o.IgnoreDirSize {
			b.WriteString("        -")
			break
		}
		fallthrough
	default:
		fmt.Fprintf(&b, " %8d", n.Size)
	}
	if !o.IgnoreMtime && !o.ListingWithoutMtime {
		b.WriteString(" " + FormatTime(n.ModTime))
	}
	// Names from the image stay on this one line whatever they hold.
	b.WriteString(" " + report.OneLine(n.Path))
	if n.Link != "" {
		b.WriteString(" -> " + report.OneLine(n.Link))
	}
	if n.Filter != "" {
		b.WriteString(" [" + report.OneLine(n.Filter) + "]")
	}
	for _, x := range n.Xattrs {
		b.WriteString(" [" + report.OneLine(x.Name) + "=" + XattrValue(x) + "]")
	}
	return b.String()
}
