package isodiff

import (
	"context"
	"errors"
	"fmt"

	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// isoTreeOptions says which fields the two ISO trees can be compared on:
// without Rock Ridge on both sides there are no owners or link counts.
func (s *session) isoTreeOptions(a, b *iso9660.Image) treediff.Options {
	rr := a.Namespace == iso9660.NamespaceRockRidge && b.Namespace == iso9660.NamespaceRockRidge
	return treediff.Options{ListingWithoutMtime: s.ignore.hidesMtime(), IgnoreDirSize: true, IgnoreNlink: !rr, IgnoreOwner: !rr}
}

func isoNode(e *iso9660.Entry) *tree.Node { return &e.Node }

// runTOC merge-walks the two ISO trees: added, removed and changed nodes,
// the unified diff of the two listings, and the squashfs images found.
func runTOC(ctx context.Context, s *session, st *report.Stage) {
	ims, ok := s.images(st)
	if !ok {
		st.Notes = append(st.Notes, "the ISO trees could not be compared: an image has no readable volume descriptor")
		return
	}
	if ims[0].Namespace != ims[1].Namespace {
		st.Notes = append(st.Notes, fmt.Sprintf("trees read as %s (A) and %s (B)", ims[0].Namespace, ims[1].Namespace))
	}
	s.discover(0)
	s.discover(1)
	to := s.isoTreeOptions(ims[0], ims[1])
	lister := treediff.Lister{Scope: report.ISOTree, Opts: to, Budget: s.budget,
		Diff: treediff.Unified{NameA: s.in[0].Name, NameB: s.in[1].Name, MaxBytes: s.opts.MaxDiffBytes}}
	for i, im := range ims {
		for _, rep := range im.Repairs() {
			s.report.AddDamage(report.Damage{Image: "AB"[i : i+1], Path: s.in[i].Name, Kind: report.DamageRepaired,
				Structure: rep.What, Offset: rep.Off, Message: rep.String(), Size: s.in[i].Size})
		}
	}
	// Damage the readers tolerated (malformed Rock Ridge data, continuation
	// areas that loop or are shared, data past the end) is a problem of
	// the image at each path that carries it, grouped by where it is.
	var damage problemGroups
	wa, wb := ims[0].Walk(), ims[1].Walk()
	defer wa.Close()
	defer wb.Close()
	err := treediff.Merge(ctx, wa.Next, wb.Next, isoNode, func(a, b *iso9660.Entry, inA, inB bool) error {
		if inA && a.Damage != nil {
			damage.add(0, a.Path, a.Damage)
		}
		if inB && b.Damage != nil {
			damage.add(1, b.Path, b.Damage)
		}
		treediff.VisitPair(&lister, a, b, inA, inB, isoNode)
		return lister.Err
	})
	st.Problems = append(st.Problems, damage.problems(s, st.Name, nil)...)
	for i := range lister.Findings {
		f := &lister.Findings[i]
		// A squashfs image that only changed size did so because of what is
		// inside it, which the squashfs stage reports.
		f.Derived = f.Kind == report.KindChanged && len(f.Fields) == 1 && f.Fields[0].Name == "size" && s.isContainer(f.Path)
	}
	st.Findings = append(st.Findings, lister.Findings...)
	if err != nil {
		side := -1
		var se *tree.SideError
		if errors.As(err, &se) {
			side, err = se.Side, se.Err
		}
		st.Problems = append(st.Problems, s.problem(side, st.Name, 0, report.Scope{}, err))
		st.Notes = append(st.Notes, "the tree walk stopped early: nodes after the problem were not compared")
	}
	if body := lister.Diff.String(); body != "" {
		st.Texts = append(st.Texts, report.Text{Name: "toc-diff", Body: body})
	}
}
