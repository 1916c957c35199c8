package isodiff

import (
	"context"
	"fmt"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/sqfsdiff"
)

// runSquashfs reports, for every root filesystem image the read plan found
// (plan.go), where each side lies and its hash, the superblock and
// compressor options field by field, and the metadata half of the plan's
// tree comparison (the content stage reports the other half).
func runSquashfs(ctx context.Context, s *session, st *report.Stage) {
	for i := range s.in {
		s.discover(i)
		if err := s.discoverErr[i]; err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, report.Scope{}, fmt.Errorf("looking for squashfs images: %w", err)))
			st.Notes = append(st.Notes, fmt.Sprintf("the ISO tree of %s could not be walked to its end: squashfs images past the problem are not compared", s.in[i].Name))
		}
	}
	for _, want := range s.opts.Squashfs {
		if !s.isContainer(want) && s.discoverErr[0] == nil && s.discoverErr[1] == nil {
			st.Notes = append(st.Notes, fmt.Sprintf("%s: in neither ISO", want))
		}
	}
	if len(s.containers) == 0 {
		st.Status = report.StatusSkipped
		st.Notes = append(st.Notes, "no squashfs or EROFS image found in either ISO")
		return
	}
	for _, c := range s.containers {
		if err := ctx.Err(); err != nil {
			return
		}
		for i, e := range c.entry {
			if e == nil {
				st.Notes = append(st.Notes, fmt.Sprintf("%s: only in %s", c.path, s.in[1-i].Name))
			}
		}
		s.openContainer(ctx, c)
		for _, sp := range c.openProblems {
			p := s.problem(sp.side, st.Name, sp.off, c.scope(), sp.err)
			if p.Offset < 0 {
				p.Offset = sp.off
			}
			st.Problems = append(st.Problems, p)
		}
		rc := report.Container{Path: c.path}
		for i, f := range c.files {
			if f == nil {
				continue
			}
			at := &report.ContainerAt{Offset: f.offset(), Size: f.Size(), SHA256: c.sum[i]}
			if i == 0 {
				rc.A = at
			} else {
				rc.B = at
			}
		}
		rc.Format = c.format()
		s.report.Containers = append(s.report.Containers, rc)
		if c.formats[0] != "" && c.formats[1] != "" && c.formats[0] != c.formats[1] {
			st.Findings = append(st.Findings, report.Finding{Scope: c.scope(), Path: "(image)", Kind: report.KindHeader,
				Fields: []field.Change{{Name: "format", A: c.formats[0], B: c.formats[1]}}})
			st.Notes = append(st.Notes, fmt.Sprintf("%s: a %s image in A, a %s image in B: their trees are not compared", c.path, c.formats[0], c.formats[1]))
			continue
		}
		if !c.opened(0) || !c.opened(1) {
			continue
		}
		if c.knownIdentical() {
			st.Notes = append(st.Notes, c.path+": identical")
			continue
		}
		// The plan's tree comparison: one merge-walk of both trees for
		// metadata and contents; this stage reports the metadata.
		t := s.compareTrees(ctx, c)
		findings, listing, content, err := t.findings, t.listing, t.content, t.err
		st.Findings = append(st.Findings, findings...)
		// The images' bytes differ: say so, as a finding that follows from
		// those inside it when there are any, and as the difference itself
		// when the superblocks and trees are equal (the data differs, or is
		// damaged: the content stage tells which).
		explained := len(findings) > 0 || (content != nil && len(content.findings) > 0)
		for _, f := range st.Findings {
			explained = explained || (f.Scope == c.scope() && !f.Derived)
		}
		st.Findings = append(st.Findings, report.Finding{Scope: c.scope(), Path: "(" + c.format() + " image)", Kind: report.KindHeader,
			Fields:  []field.Change{{Name: "sha256", A: c.sum[0], B: c.sum[1]}},
			Derived: explained})
		if listing != "" {
			st.Texts = append(st.Texts, report.Text{Name: "sqfs-ls-diff", Scope: c.scope(), Body: listing})
		}
		if err != nil {
			st.Problems = append(st.Problems, s.pairProblem(st.Name, c, err))
		}
	}
}

func (s *session) sqfsOptions(c *container) sqfsdiff.Options {
	var same func(off, n int64) bool
	if c.pairing != nil { // sameAt waits for the pass while it runs
		same = c.pairing.sameAt
	}
	return sqfsdiff.Options{
		SameStored:          same,
		Scope:               c.scope(),
		NameA:               s.in[0].Name + ":" + c.path,
		NameB:               s.in[1].Name + ":" + c.path,
		ListingWithoutMtime: s.ignore.hidesMtime(),
		MaxListingDiffBytes: s.opts.MaxDiffBytes,
		Budget:              s.budget,
		Compared:            s.comparedProgress(c),
	}
}

// comparedProgress reports the files of c compared so far, as the squashfs
// stage's progress, except while the hashing pass runs beside the
// comparison (see session.hashing).
func (s *session) comparedProgress(c *container) func(n int) {
	return func(n int) {
		if !s.hashing.Load() {
			s.progress(Progress{Stage: report.StageSquashfs, Step: "comparing files in " + c.path, Done: int64(n), Total: -1})
		}
	}
}
