package treediff

import (
	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// Lister turns the pairs of a merge-walk into metadata findings (added,
// removed, changed nodes) and the unified diff of the two listings. The ISO
// tree and every squashfs tree are compared with it.
type Lister struct {
	Scope    report.Scope // the findings' scope
	Opts     Options      // which fields count
	Diff     Unified      // the listing diff, built as the walk goes
	Findings []report.Finding
	// Budget is charged for each finding kept. Once it refuses one, Err
	// holds the refusal and no more findings are kept: the caller should
	// end its walk with Err.
	Budget *budget.Budget
	Err    error
}

// FindingSize estimates what a finding holds in memory, for budgets.
func FindingSize(f *report.Finding) int64 {
	n := int64(160 + len(f.Scope.Container) + len(f.Path) + len(f.Type))
	for _, c := range f.Fields {
		n += int64(64 + len(c.Name) + len(c.A) + len(c.B))
	}
	return n
}

// keep appends f to the findings if the budget allows.
func (l *Lister) keep(f report.Finding) {
	if l.Err != nil {
		return
	}
	if err := l.Budget.Charge(FindingSize(&f), "findings of "+l.Scope.String(), -1); err != nil {
		l.Err = err
		return
	}
	l.Findings = append(l.Findings, f)
}

// Visit records one path of the walk: a is nil when the path is only in B,
// b is nil when it is only in A.
func (l *Lister) Visit(a, b *tree.Node) {
	switch {
	case a != nil && b != nil:
		if sameListing(a, b, l.Opts) {
			// Nothing to report and the same line on both sides: render
			// it only if it becomes context of a hunk.
			l.Diff.EqualFunc(func() string { return ListingLine(a, l.Opts) })
			return
		}
		la, lb := ListingLine(a, l.Opts), ListingLine(b, l.Opts)
		if ch := CompareNodes(a, b, l.Opts); len(ch) > 0 {
			l.keep(report.Finding{Scope: l.Scope, Path: a.Path, Kind: report.KindChanged, Type: tree.TypeLetter(a.Mode), Fields: ch})
		}
		if la == lb {
			l.Diff.Equal(la)
		} else {
			l.Diff.Delete(la)
			l.Diff.Insert(lb)
		}
	case a != nil:
		l.keep(report.Finding{Scope: l.Scope, Path: a.Path, Kind: report.KindRemoved, Type: tree.TypeLetter(a.Mode)})
		l.Diff.Delete(ListingLine(a, l.Opts))
	case b != nil:
		l.keep(report.Finding{Scope: l.Scope, Path: b.Path, Kind: report.KindAdded, Type: tree.TypeLetter(b.Mode)})
		l.Diff.Insert(ListingLine(b, l.Opts))
	}
}

// VisitPair is Visit for the arguments of a Merge visit function: it takes
// the node of each side that has the path.
func VisitPair[E any](l *Lister, a, b E, inA, inB bool, node func(E) *tree.Node) {
	var na, nb *tree.Node
	if inA {
		na = node(a)
	}
	if inB {
		nb = node(b)
	}
	l.Visit(na, nb)
}

// sameListing reports whether a and b agree in every field ListingLine
// renders and CompareNodes compares (a sufficient condition for equal
// lines and no changes; the slow path decides the rest).
func sameListing(a, b *tree.Node, o Options) bool {
	if a.Mode != b.Mode || a.Path != b.Path || a.Link != b.Link || a.DevMajor != b.DevMajor || a.DevMinor != b.DevMinor ||
		a.Size != b.Size || a.Filter != b.Filter || len(a.Xattrs) != len(b.Xattrs) {
		return false
	}
	if !o.IgnoreNlink && a.Nlink != b.Nlink || !o.IgnoreOwner && (a.UID != b.UID || a.GID != b.GID) {
		return false
	}
	if !o.IgnoreMtime && !a.ModTime.Equal(b.ModTime) {
		return false
	}
	for i := range a.Xattrs {
		if a.Xattrs[i].Name != b.Xattrs[i].Name || !a.Xattrs[i].SameValue(b.Xattrs[i]) {
			return false
		}
	}
	return true
}
