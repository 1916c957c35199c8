package isodiff

import (
	"fmt"
	"strings"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/report"
)

// problemGroups collects errors met on many paths and reports one problem
// per failing structure: a damaged fragment block shared by hundreds of
// small files, or one Rock Ridge continuation area that thousands of
// records point at, is one problem that counts and names a few of the
// paths it reaches, not one line per path saying the same.
type problemGroups struct {
	order  []string
	groups map[string]*problemGroup
}

type problemGroup struct {
	err   error // as met on the first path (the others name the same bytes)
	paths []string
	n     int
}

// maxGroupPaths is how many paths a grouped problem names.
const maxGroupPaths = 3

// add records err, met on path; side is 0 or 1 when the error is known to
// come from one image and does not say so itself, else -1.
func (g *problemGroups) add(side int, path string, err error) {
	if side >= 0 && sideOf(err) < 0 {
		err = tree.NewSideError(side, err)
	}
	// The bytes at fault identify the structure: messages may differ in
	// what pointed at them (each record's own CE entry), not in what failed.
	off := errOffset(err, func(off int64) int64 { return off })
	key := fmt.Sprintf("%d\x00%d", sideOf(err), off)
	if off < 0 {
		key += "\x00" + err.Error()
	}
	if g.groups == nil {
		g.groups = map[string]*problemGroup{}
	}
	p := g.groups[key]
	if p == nil {
		p = &problemGroup{err: err}
		g.groups[key] = p
		g.order = append(g.order, key)
	}
	p.n++
	if len(p.paths) < maxGroupPaths {
		p.paths = append(p.paths, path)
	}
}

// problems returns the report problems of stage, in the order first met;
// c is the container the paths are in (nil for the ISO's own tree).
func (g *problemGroups) problems(s *session, stage string, c *container) []report.Problem {
	out := make([]report.Problem, 0, len(g.order))
	for _, key := range g.order {
		p := g.groups[key]
		who := strings.Join(p.paths, ", ")
		if p.n > len(p.paths) {
			who = fmt.Sprintf("%d paths (%s and %d more)", p.n, who, p.n-len(p.paths))
		}
		out = append(out, s.pairProblem(stage, c, fmt.Errorf("%s: %w", who, p.err)))
	}
	return out
}
