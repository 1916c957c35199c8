package isodiff

import (
	"context"
	"fmt"
	"sync"

	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/sqfsdiff"
	"github.com/isodiff/isodiff/squashfs"
)

// runSquashfs compares every squashfs image the tree walk found: its hash,
// its superblock and compressor options, and its tree, merge-walked. The
// same walk compares file contents; the content stage reports them.
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
		rc := report.Container{Path: c.path}
		var secs [2]*isoFile
		var wg sync.WaitGroup
		var hashErr [2]error
		for i, e := range c.entry {
			if e == nil {
				st.Notes = append(st.Notes, fmt.Sprintf("%s: only in %s", c.path, s.in[1-i].Name))
				continue
			}
			sec, err := s.section(i, e)
			if err != nil {
				off := int64(-1) // an empty file has no extent
				if len(e.Extents) > 0 {
					off = e.Extents[0].Offset
				}
				p := s.problem(i, st.Name, off, c.scope(), err)
				if p.Offset < 0 {
					p.Offset = off
				}
				st.Problems = append(st.Problems, p)
				continue
			}
			secs[i] = sec
		}
		// Sections the sizes stage's pass did not hash are hashed now, both
		// at once and, when both need it, compared chunk by chunk.
		var todo [2]*passSection
		var src [2]hashSource
		for i, sec := range secs {
			if sec != nil && c.sum[i] == "" {
				src[i] = sec.hashSource(s.in[i], i)
				todo[i] = &src[i].sec
			}
		}
		if todo[0] != nil && todo[1] != nil {
			c.pairing = newChunkPairing(todo[0].n, todo[1].n)
			todo[0].pair, todo[1].pair = c.pairing, c.pairing
		}
		for i, sc := range todo {
			if sc == nil {
				continue
			}
			s.logf("squashfs: hashing %s of %s (not done by the sizes stage)", c.path, s.in[i].Name)
			wg.Go(func() {
				_, sums, err := hashPass(ctx, src[i].r, src[i].size, false, []passSection{*sc})
				if err == nil {
					c.sum[i] = sums[0]
				}
				hashErr[i] = err
			})
		}
		wg.Wait()
		for i, sec := range secs {
			if sec == nil {
				continue
			}
			off := sec.offset()
			at := &report.ContainerAt{Offset: off, Size: sec.Size(), SHA256: c.sum[i]}
			if i == 0 {
				rc.A = at
			} else {
				rc.B = at
			}
			if hashErr[i] != nil {
				st.Problems = append(st.Problems, s.problem(i, st.Name, off, c.scope(), hashErr[i]))
				continue
			}
			var err error
			if c.formats[i] == formatEROFS {
				c.erofs[i], err = erofs.OpenOptions(sec, sec.Size(), erofs.Options{Budget: s.budget, Context: s.ctx})
			} else {
				c.reader[i], err = squashfs.OpenOptions(sec, sec.Size(), squashfs.Options{Budget: s.budget, Context: s.ctx})
			}
			if err != nil {
				st.Problems = append(st.Problems, s.problem(i, st.Name, off, c.scope(), err))
				continue
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
		if c.sum[0] == c.sum[1] {
			st.Notes = append(st.Notes, c.path+": identical")
			continue
		}
		// One merge-walk compares the metadata and, for the content stage
		// to report, the contents: each tree is read once.
		findings, listing, err := s.compareInner(ctx, c)
		content := c.content
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
	if c.pairing != nil && c.pairing.done() {
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
		Compared: func(n int) {
			s.progress(Progress{Stage: report.StageSquashfs, Step: "comparing files in " + c.path, Done: int64(n), Total: -1})
		},
	}
}
