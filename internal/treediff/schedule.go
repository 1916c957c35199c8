package treediff

import (
	"context"
	"github.com/isodiff/isodiff/internal/guard"
	"runtime"
	"slices"
	"sync"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// FileComparer compares the contents of regular-file pairs for a Schedule.
// Each worker has its own, used from that worker's goroutine only, so it
// can keep buffers and memos from one pair to the next.
type FileComparer[E any] interface {
	// CompareFiles returns nil when a and b hold the same bytes, else where
	// they differ. byRaw reports that equality was proven from stored
	// (compressed) bytes alone. spans are, for a differing pair, the byte
	// ranges outside which the two files are proven equal, nil when not
	// known; the Schedule copies them, so the comparer may reuse the slice.
	// It stops with ctx's error when ctx ends, even within a file.
	CompareFiles(ctx context.Context, a, b E) (diff *report.ContentDiff, byRaw bool, spans []report.Range, err error)
	// KnownStored is how many stored bytes (per image) the comparer has
	// found equal so far without reading them.
	KnownStored() int64
	// Release gives back what the comparer holds; the worker calls it
	// when it is done.
	Release()
}

// Problem is an error met on one path while the comparison went on.
type Problem struct {
	Path string
	Err  error
}

// ContentResult is what a Schedule's content comparison found, in walk
// order (the differs copy it into their own result types).
type ContentResult[E any] struct {
	Findings []report.Finding
	// Pairs and Spans hold, for each finding, the two entries compared and
	// the comparer's spans.
	Pairs    [][2]E
	Spans    [][]report.Range
	Problems []Problem
	// Compared counts regular-file pairs compared, SameByRaw those proven
	// identical from their stored bytes, KnownStored the stored bytes
	// found equal without reading them.
	Compared, SameByRaw int
	KnownStored         int64
}

// Schedule is one merge-walk of two trees (Merge, over the two walks read
// ahead by Prefetch) that compares metadata as it goes and spreads the
// comparison of file contents over workers. The walk runs in one goroutine:
// it hands each pair to Lister, and batches runs of consecutive
// regular-file pairs present in both trees into jobs for Workers
// comparers, so that decoding is spread over the cores. Runs keep
// neighbours together: files whose data share a stored block are compared
// by one worker, which can decode that block once. A hard-linked inode
// pair is compared once, at its first path. Results are collected in walk
// order whatever order the workers finish in, and the budget is charged
// for each job's findings and problems as they arrive; a refusal cancels
// the walk and the workers and is returned.
type Schedule[E any] struct {
	// NextA and NextB are the two walks' next functions, in tree.Compare
	// order, returning io.EOF at the end.
	NextA, NextB func() (E, error)
	// CloseA and CloseB, when set, end the walks (give back what a walk
	// abandoned early holds); each is called once its walk is no longer
	// read, from the goroutine that reads it.
	CloseA, CloseB func()
	// Node gives an entry's node.
	Node func(E) *tree.Node
	// Lister, when set, is given every pair of the walk (metadata
	// findings and the listing diff); when its budget refuses a finding,
	// the walk ends with the refusal.
	Lister *Lister
	// NewComparer, when set, makes each worker's comparer: regular files
	// present in both trees are then compared. It is called from the
	// worker's goroutine.
	NewComparer func() FileComparer[E]
	// Workers is how many comparers run at once (GOMAXPROCS if zero).
	Workers int
	// Scope labels the content findings.
	Scope report.Scope
	// Budget is charged for the content findings and problems kept.
	Budget *budget.Budget
	// Compared, when set, is told how many regular-file pairs have been
	// compared so far, as the count grows.
	Compared func(n int)
}

// walkAhead is how many entries each walk is read ahead of the merge.
const walkAhead = 256

// jobSize is how many consecutive file pairs a worker takes at once.
const jobSize = 64

type job[E any] struct {
	seq   int
	pairs [][2]E
}

type jobResult[E any] struct {
	seq             int
	findings        []report.Finding
	pairs           [][2]E
	spans           [][]report.Range
	problems        []Problem
	compared, byRaw int
	knownStored     int64
}

// Run walks both trees once. It returns what the content comparison found
// (empty without NewComparer) and the error that ended the walk: a walk
// error, ctx's error, or a budget refusal. The metadata results are in
// Lister.
func (s *Schedule[E]) Run(ctx context.Context) (*ContentResult[E], error) {
	doContent := s.NewComparer != nil
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if !doContent {
		workers = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job[E], workers)
	results := make(chan jobResult[E], workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			cmp := s.NewComparer()
			defer cmp.Release()
			for j := range jobs {
				results <- s.run(ctx, cmp, j)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	walkErr := make(chan error, 1)
	go func() {
		defer close(jobs)
		walkErr <- guard.Run(func() error { return s.walk(ctx, jobs, doContent) }) // a bug ends the walk as an error
	}()

	// Collect in walk order: results arrive in any order.
	res := &ContentResult[E]{}
	pending := map[int]jobResult[E]{}
	next := 0
	var budgetErr error
	for r := range results {
		if budgetErr != nil {
			continue // drain: the walk is being cancelled
		}
		held := int64(0)
		for i := range r.findings {
			held += FindingSize(&r.findings[i]) + 16*int64(len(r.spans[i])) + 64
		}
		for _, p := range r.problems {
			held += int64(len(p.Path)+len(p.Err.Error())) + 64
		}
		if err := s.Budget.Charge(held, "content findings of "+s.Scope.String(), -1); err != nil {
			budgetErr = err
			cancel()
			continue
		}
		pending[r.seq] = r
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			res.Findings = append(res.Findings, r.findings...)
			res.Pairs = append(res.Pairs, r.pairs...)
			res.Spans = append(res.Spans, r.spans...)
			res.Problems = append(res.Problems, r.problems...)
			res.Compared += r.compared
			if s.Compared != nil {
				s.Compared(res.Compared)
			}
			res.SameByRaw += r.byRaw
			res.KnownStored += r.knownStored
		}
	}
	err := <-walkErr
	if budgetErr != nil {
		err = budgetErr
	}
	return res, err
}

// walk merge-walks the two trees (each read ahead by Prefetch), hands each
// pair to the Lister and queues runs of regular-file pairs on jobs; it
// returns what ended the walk early, if anything.
func (s *Schedule[E]) walk(ctx context.Context, jobs chan<- job[E], doContent bool) error {
	seen := map[[2]uint64]bool{} // hard-linked inode pairs already queued
	nextA, stopA := Prefetch(s.NextA, walkAhead, s.CloseA)
	defer stopA()
	nextB, stopB := Prefetch(s.NextB, walkAhead, s.CloseB)
	defer stopB()
	j := job[E]{}
	send := func() bool {
		if len(j.pairs) == 0 {
			return true
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return false
		}
		j = job[E]{seq: j.seq + 1}
		return true
	}
	err := Merge(ctx, nextA, nextB, s.Node, func(ea, eb E, inA, inB bool) error {
		if s.Lister != nil {
			VisitPair(s.Lister, ea, eb, inA, inB, s.Node)
			if s.Lister.Err != nil {
				return s.Lister.Err
			}
		}
		if !doContent || !inA || !inB {
			return nil
		}
		na, nb := s.Node(ea), s.Node(eb)
		if !na.Mode.IsRegular() || !nb.Mode.IsRegular() {
			return nil
		}
		if na.Nlink > 1 || nb.Nlink > 1 {
			key := [2]uint64{na.Inode, nb.Inode}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		j.pairs = append(j.pairs, [2]E{ea, eb})
		if len(j.pairs) == jobSize && !send() {
			return ctx.Err()
		}
		return nil
	})
	if err == nil && !send() {
		err = ctx.Err()
	}
	return err
}

// run compares a job's file pairs with c.
func (s *Schedule[E]) run(ctx context.Context, c FileComparer[E], j job[E]) jobResult[E] {
	r := jobResult[E]{seq: j.seq}
	before := c.KnownStored()
	for _, p := range j.pairs {
		if ctx.Err() != nil {
			break
		}
		ea, eb := p[0], p[1]
		r.compared++
		var diff *report.ContentDiff
		var byRaw bool
		var spans []report.Range
		err := guard.Run(func() (err error) { // a bug met on one pair is that pair's problem
			diff, byRaw, spans, err = c.CompareFiles(ctx, ea, eb)
			return err
		})
		path := s.Node(ea).Path
		if err != nil {
			if ctx.Err() != nil {
				break // cancelled, not a problem of this file
			}
			r.problems = append(r.problems, Problem{Path: path, Err: err})
			continue
		}
		if byRaw {
			r.byRaw++
		}
		if diff != nil {
			r.findings = append(r.findings, report.Finding{Scope: s.Scope, Path: path, Kind: report.KindContent, Type: "-", Content: diff})
			r.pairs = append(r.pairs, p)
			r.spans = append(r.spans, slices.Clone(spans))
		}
	}
	r.knownStored = c.KnownStored() - before
	return r
}
