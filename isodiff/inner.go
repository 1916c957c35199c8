package isodiff

import (
	"context"
	"io"

	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/erofsdiff"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/sqfsdiff"
	"github.com/isodiff/isodiff/squashfs"
)

// Root filesystem image formats a container can hold.
const (
	formatSquashfs = "squashfs"
	formatEROFS    = "erofs"
)

// innerContent is what comparing the files of one container pair found,
// whatever its format: the content stage reports it and the explain stage
// reopens the diverging files through it.
type innerContent struct {
	findings            []report.Finding
	open                [][2]func() (io.Reader, error)
	at                  [][2]func() (io.ReaderAt, error)
	spans               [][]report.Range
	problems            []innerProblem
	compared, sameByRaw int
	knownStored         int64
}

type innerProblem struct {
	path string
	err  error
}

// opened reports whether side i of c was opened as a filesystem image.
func (c *container) opened(i int) bool { return c.reader[i] != nil || c.erofs[i] != nil }

// compareInner merge-walks the two opened filesystem images of c once, for
// metadata and contents (the read plan's tree comparison).
func (s *session) compareInner(ctx context.Context, c *container) *treeComparison {
	t := &treeComparison{}
	switch c.format() {
	case formatEROFS:
		opts := s.erofsOptions(c)
		t.findings = erofsdiff.Superblock(c.erofs[0], c.erofs[1], opts)
		meta, content, err := erofsdiff.Compare(ctx, c.erofs[0], c.erofs[1], opts)
		t.findings, t.listing, t.content, t.err = append(t.findings, meta.Findings...), meta.ListingDiff, fromEROFS(c.erofs, content), err
	default:
		opts := s.sqfsOptions(c)
		t.findings = sqfsdiff.Superblock(c.reader[0], c.reader[1], opts)
		meta, content, err := sqfsdiff.Compare(ctx, c.reader[0], c.reader[1], opts)
		t.findings, t.listing, t.content, t.err = append(t.findings, meta.Findings...), meta.ListingDiff, fromSquashfs(c.reader, content), err
	}
	return t
}

func fromSquashfs(r [2]*squashfs.Reader, res *sqfsdiff.ContentResult) *innerContent {
	if res == nil {
		return nil
	}
	in := fromPairs(res.Pairs, r[0].Open, r[1].Open, r[0].OpenFile, r[1].OpenFile)
	in.findings, in.spans, in.compared, in.sameByRaw, in.knownStored = res.Findings, res.Spans, res.Compared, res.SameByRaw, res.KnownStored
	for _, p := range res.Problems {
		in.problems = append(in.problems, innerProblem{p.Path, p.Err})
	}
	return in
}

func fromEROFS(r [2]*erofs.Reader, res *erofsdiff.ContentResult) *innerContent {
	if res == nil {
		return nil
	}
	in := fromPairs(res.Pairs, r[0].Open, r[1].Open, r[0].OpenFile, r[1].OpenFile)
	in.findings, in.spans, in.compared, in.sameByRaw, in.knownStored = res.Findings, res.Spans, res.Compared, res.SameByRaw, res.KnownStored
	for _, p := range res.Problems {
		in.problems = append(in.problems, innerProblem{p.Path, p.Err})
	}
	return in
}

// fromPairs makes the reopening functions of each diverging pair, whatever
// the reader: streaming (openA, openB) and random access (atA, atB).
func fromPairs[E any, F io.ReaderAt](pairs [][2]E, openA, openB func(E) (io.Reader, error), atA, atB func(E) (F, error)) *innerContent {
	in := &innerContent{}
	for _, p := range pairs {
		ea, eb := p[0], p[1]
		in.open = append(in.open, [2]func() (io.Reader, error){
			func() (io.Reader, error) { return openA(ea) },
			func() (io.Reader, error) { return openB(eb) },
		})
		in.at = append(in.at, [2]func() (io.ReaderAt, error){
			func() (io.ReaderAt, error) { return atA(ea) },
			func() (io.ReaderAt, error) { return atB(eb) },
		})
	}
	return in
}

func (s *session) erofsOptions(c *container) erofsdiff.Options {
	var same func(off, n int64) bool
	if c.pairing != nil { // sameAt waits for the pass while it runs
		same = c.pairing.sameAt
	}
	return erofsdiff.Options{
		SameStored:          same,
		Scope:               c.scope(),
		NameA:               s.in[0].Name + ":" + c.path,
		NameB:               s.in[1].Name + ":" + c.path,
		MaxListingDiffBytes: s.opts.MaxDiffBytes,
		Budget:              s.budget,
		Compared:            s.comparedProgress(c),
	}
}
