package isodiff

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
)

// runContent compares the bytes of every regular file present in both
// images: first the ISO's own files, then it reports each root image's files
// from the content half of the read plan's tree comparison (plan.go).
func runContent(ctx context.Context, s *session, st *report.Stage) {
	s.isoContent(ctx, st)
	for _, c := range s.containers {
		s.openContainer(ctx, c) // the squashfs stage has, unless it was stopped
		if !c.treesComparable() {
			continue
		}
		t := s.compareTrees(ctx, c) // the read plan's, run by the squashfs stage unless it was stopped
		res, err := t.content, t.err
		if res == nil {
			if err != nil {
				st.Problems = append(st.Problems, s.pairProblem(st.Name, c, err))
			}
			continue
		}
		for i, f := range res.findings {
			s.diverging = append(s.diverging, divergent{
				finding: len(st.Findings), scope: f.Scope, path: f.Path,
				size:  [2]int64{f.Content.SizeA, f.Content.SizeB},
				open:  res.open[i],
				at:    res.at[i],
				spans: res.spans[i],
			})
			st.Findings = append(st.Findings, f)
		}
		var groups problemGroups
		for _, p := range res.problems {
			groups.add(-1, p.path, p.err)
		}
		st.Problems = append(st.Problems, groups.problems(s, st.Name, c)...)
		if err != nil {
			st.Problems = append(st.Problems, s.pairProblem(st.Name, c, err))
		}
		note := fmt.Sprintf("%s: %d file pair(s) compared, %d proven equal from compressed bytes", c.path, res.compared, res.sameByRaw)
		if res.knownStored > 0 {
			note += fmt.Sprintf(" (%d stored bytes not read again: equal in the hashing pass)", res.knownStored)
		}
		st.Notes = append(st.Notes, note)
	}
	s.unhideContainers(st)
	s.attributeOwners(ctx, st)
}

// unhideContainers shows in the short answer a squashfs image's own
// content difference when nothing found inside it accounts for it (its
// data could not be read, say): a difference found is never left unshown.
func (s *session) unhideContainers(st *report.Stage) {
	inner := map[string]bool{} // container scopes with a difference of their own
	for _, stg := range s.report.Stages {
		if stg.Name != report.StageSquashfs && stg != st {
			continue
		}
		for _, f := range stg.Findings {
			if p, ok := f.Scope.InContainer(); ok && !f.Derived {
				inner[p] = true
			}
		}
	}
	explained := func(path string) bool {
		for p := range inner {
			if p == path || strings.HasPrefix(p, path+nestedSeparator) { // an image inside an archive
				return true
			}
		}
		return false
	}
	for i := range st.Findings {
		f := &st.Findings[i]
		if f.Container && !explained(f.Path) {
			f.Container = false
		}
	}
}

// isoContent compares the ISO-level files present in both trees.
func (s *session) isoContent(ctx context.Context, st *report.Stage) {
	ims, ok := s.images(nil) // the toc stage has recorded why not
	if !ok {
		return
	}
	wa, wb := ims[0].Walk(), ims[1].Walk()
	defer wa.Close()
	defer wb.Close()
	err := treediff.Merge(ctx, wa.Next, wb.Next, isoNode, func(a, b *iso9660.Entry, inA, inB bool) error {
		if !inA || !inB || !a.Mode.IsRegular() || !b.Mode.IsRegular() {
			return nil
		}
		var c *container
		for _, k := range s.containers {
			if k.path == a.Path {
				c = k
			}
		}
		if c != nil && c.knownIdentical() {
			return nil // hashed equal by the squashfs stage
		}
		var res bytecmp.Result
		var err error
		if first, ok := c.pairingFirstDiff(); ok {
			// The hashing passes compared both squashfs images chunk by
			// chunk: nothing is read again.
			res = bytecmp.Result{Equal: first < 0, FirstDiff: first}
		} else {
			res, err = bytecmp.FirstDiff(bytecmp.ContextReader(ctx, ims[0].Open(a)), bytecmp.ContextReader(ctx, ims[1].Open(b)))
		}
		if err != nil {
			st.Problems = append(st.Problems, s.pairProblem(st.Name, nil, fmt.Errorf("%s: %w", a.Path, err)))
			return nil
		}
		if !res.Equal {
			ia, ib := ims[0], ims[1]
			s.diverging = append(s.diverging, divergent{
				finding: len(st.Findings), scope: report.ISOTree, path: a.Path,
				size: [2]int64{a.Size, b.Size},
				open: [2]func() (io.Reader, error){
					func() (io.Reader, error) { return ia.Open(a), nil },
					func() (io.Reader, error) { return ib.Open(b), nil },
				},
			})
			st.Findings = append(st.Findings, report.Finding{
				Scope: report.ISOTree, Path: a.Path, Kind: report.KindContent, Type: "-",
				Content:   &report.ContentDiff{SizeA: a.Size, SizeB: b.Size, FirstDiff: res.FirstDiff},
				Container: c != nil && c.opened(0) && c.opened(1) || s.nestedIn(a.Path),
			})
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		st.Problems = append(st.Problems, s.pairProblem(st.Name, nil, err))
	}
}

// pairingFirstDiff returns where the two sides of container c first
// differ, as the hashing passes found; ok is false when they were not
// compared that way (c is nil, or the passes were not paired or stopped).
func (c *container) pairingFirstDiff() (int64, bool) {
	if c == nil {
		return -1, false
	}
	return c.pairing.firstDiff()
}
