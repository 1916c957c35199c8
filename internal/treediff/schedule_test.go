package treediff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/guard"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// fakeEntry is a walk entry whose content is data.
type fakeEntry struct {
	tree.Node
	data string
}

func fakeNode(e *fakeEntry) *tree.Node { return &e.Node }

func fakeFile(path, data string) *fakeEntry {
	return &fakeEntry{Node: tree.Node{Path: path, Mode: 0o644, Nlink: 1, Size: int64(len(data))}, data: data}
}

func fakeDir(path string) *fakeEntry {
	return &fakeEntry{Node: tree.Node{Path: path, Mode: fs.ModeDir | 0o755, Nlink: 2}}
}

// fakeWalk yields es in order, then io.EOF.
func fakeWalk(es []*fakeEntry) func() (*fakeEntry, error) {
	i := 0
	return func() (*fakeEntry, error) {
		if i == len(es) {
			return nil, io.EOF
		}
		i++
		return es[i-1], nil
	}
}

// fakeComparer compares data; equal data counts as proven from stored
// bytes (byRaw) and as len(data) known stored bytes. A differing pair's one
// span is [0, len(a.data)), returned in a slice reused from call to call
// (the Schedule must copy it). before, when set, runs first and may fail
// the comparison.
type fakeComparer struct {
	before   func(ctx context.Context, a *fakeEntry) error
	spans    []report.Range
	known    int64
	released *atomic.Int32
}

func (c *fakeComparer) CompareFiles(ctx context.Context, a, b *fakeEntry) (*report.ContentDiff, bool, []report.Range, error) {
	if c.before != nil {
		if err := c.before(ctx, a); err != nil {
			return nil, false, nil, err
		}
	}
	if a.data == b.data {
		c.known += int64(len(a.data))
		return nil, true, nil, nil
	}
	c.spans = append(c.spans[:0], report.Range{Start: 0, End: int64(len(a.data))})
	return &report.ContentDiff{SizeA: a.Size, SizeB: b.Size, FirstDiff: 0}, false, c.spans, nil
}

func (c *fakeComparer) KnownStored() int64 { return c.known }
func (c *fakeComparer) Release()           { c.released.Add(1) }

// TestScheduleOrder: findings, pairs, spans and problems come back in walk
// order though a later job finishes first; metadata goes to the Lister;
// counts and the Compared callback add up; every worker's comparer is
// released.
func TestScheduleOrder(t *testing.T) {
	const n = 200 // 4 jobs: 64, 64, 64, 8
	a := []*fakeEntry{fakeDir("/"), fakeFile("/a-only", "x")}
	b := []*fakeEntry{fakeDir("/"), fakeFile("/b-only", "x")}
	var want []string
	for i := range n {
		p := fmt.Sprintf("/f%04d", i)
		da := strings.Repeat("x", i+1) // a length of its own: spans tell files apart
		db := da
		if i%3 == 0 {
			db = da[:i] + "y" // same size: no metadata finding
			want = append(want, p)
		}
		a = append(a, fakeFile(p, da))
		b = append(b, fakeFile(p, db))
	}

	// The first file of job 0 waits until job 1 has compared a file: job
	// 1's result arrives first.
	job1 := make(chan struct{})
	var once sync.Once
	var overtaken atomic.Bool
	var released atomic.Int32
	before := func(ctx context.Context, e *fakeEntry) error {
		switch e.Path {
		case "/f0000":
			select {
			case <-job1:
				overtaken.Store(true)
			case <-time.After(10 * time.Second):
			}
		case "/f0064":
			once.Do(func() { close(job1) })
		case "/f0150":
			return errors.New("unreadable")
		}
		return nil
	}
	var counts []int
	lister := Lister{Opts: Options{}}
	s := Schedule[*fakeEntry]{NextA: fakeWalk(a), NextB: fakeWalk(b), Node: fakeNode, Lister: &lister, Workers: 4,
		NewComparer: func() FileComparer[*fakeEntry] { return &fakeComparer{before: before, released: &released} },
		Compared:    func(n int) { counts = append(counts, n) }}
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !overtaken.Load() {
		t.Error("job 1 did not finish before job 0")
	}
	want = slices.DeleteFunc(want, func(p string) bool { return p == "/f0150" })
	var got []string
	for i, f := range res.Findings {
		got = append(got, f.Path)
		if f.Kind != report.KindContent || res.Pairs[i][0].Path != f.Path || res.Pairs[i][1].Path != f.Path {
			t.Errorf("finding %d: %+v, pair %s ~ %s", i, f, res.Pairs[i][0].Path, res.Pairs[i][1].Path)
		}
		if w := []report.Range{{Start: 0, End: res.Pairs[i][0].Size}}; !slices.Equal(res.Spans[i], w) {
			t.Errorf("%s: spans %v, want %v", f.Path, res.Spans[i], w)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings in this order:\n%v\nwant\n%v", got, want)
	}
	if len(res.Problems) != 1 || res.Problems[0].Path != "/f0150" {
		t.Errorf("problems %+v", res.Problems)
	}
	equal := n - (n+2)/3
	if res.Compared != n || res.SameByRaw != equal {
		t.Errorf("compared %d, same by raw %d; want %d, %d", res.Compared, res.SameByRaw, n, equal)
	}
	var known int64
	for i := range n {
		if i%3 != 0 {
			known += int64(i + 1)
		}
	}
	if res.KnownStored != known {
		t.Errorf("known stored %d, want %d", res.KnownStored, known)
	}
	if !slices.IsSorted(counts) || len(counts) != 4 || counts[len(counts)-1] != n {
		t.Errorf("Compared told %v", counts)
	}
	if released.Load() != 4 {
		t.Errorf("%d comparers released, want 4", released.Load())
	}
	var meta []string
	for _, f := range lister.Findings {
		meta = append(meta, string(f.Kind)+" "+f.Path)
	}
	if w := []string{string(report.KindRemoved) + " /a-only", string(report.KindAdded) + " /b-only"}; !slices.Equal(meta, w) {
		t.Errorf("metadata findings %v, want %v", meta, w)
	}
}

// TestScheduleBudgetRefusal: when the budget refuses a job's findings, the
// walk and the workers are cancelled (a comparison waiting for the end of
// its context returns), the refusal is returned, nothing past it is kept,
// and the cancelled comparisons are not problems.
func TestScheduleBudgetRefusal(t *testing.T) {
	const n, workers = 640, 2
	var a, b []*fakeEntry
	for i := range n {
		p := fmt.Sprintf("/f%04d", i)
		a = append(a, fakeFile(p, "a"))
		b = append(b, fakeFile(p, "b"))
	}
	var calls atomic.Int32
	var stuck atomic.Bool
	before := func(ctx context.Context, e *fakeEntry) error {
		calls.Add(1)
		if e.Path < "/f0064" || stuck.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			stuck.Store(true) // not cancelled: let the rest run, to fail
			return nil
		}
	}
	var released atomic.Int32
	// The walks are abandoned: each is closed, once, after its last Next.
	var closedA, closedB atomic.Int32
	closing := func(next func() (*fakeEntry, error), closed *atomic.Int32) func() (*fakeEntry, error) {
		return func() (*fakeEntry, error) {
			if closed.Load() != 0 {
				t.Error("Next after Close")
			}
			return next()
		}
	}
	bud := budget.New(1000) // less than job 0's 64 findings
	s := Schedule[*fakeEntry]{NextA: closing(fakeWalk(a), &closedA), NextB: closing(fakeWalk(b), &closedB),
		CloseA: func() { closedA.Add(1) }, CloseB: func() { closedB.Add(1) }, Node: fakeNode, Workers: workers, Budget: bud,
		NewComparer: func() FileComparer[*fakeEntry] { return &fakeComparer{before: before, released: &released} },
		Compared:    func(int) { t.Error("Compared told of a refused job") }}
	res, err := s.Run(context.Background())
	var be *budget.ExceededError
	if !errors.As(err, &be) {
		t.Fatalf("err %v, want the budget's refusal", err)
	}
	if stuck.Load() {
		t.Error("a worker was not cancelled")
	}
	if len(res.Findings) != 0 || len(res.Problems) != 0 || res.Compared != 0 {
		t.Errorf("kept %d findings, %d problems, %d compared after the refusal", len(res.Findings), len(res.Problems), res.Compared)
	}
	if c := calls.Load(); c > 64+workers {
		t.Errorf("%d comparisons: the walk went on after the refusal", c)
	}
	if released.Load() != workers {
		t.Errorf("%d comparers released, want %d", released.Load(), workers)
	}
	if bud.Used() != 0 {
		t.Errorf("budget holds %d", bud.Used())
	}
	deadline := time.Now().Add(2 * time.Second) // the walks end on their own goroutines
	for (closedA.Load() == 0 || closedB.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if closedA.Load() != 1 || closedB.Load() != 1 {
		t.Errorf("walks closed %d and %d times, want once each", closedA.Load(), closedB.Load())
	}
}

// TestScheduleHardLinks: a hard-linked inode pair is compared once, at its
// first path; the same inode in A with another in B is another pair;
// files of one link have no identity to share; only regular files present
// in both are compared.
func TestScheduleHardLinks(t *testing.T) {
	link := func(path string, inode uint64) *fakeEntry {
		e := fakeFile(path, "d")
		e.Nlink, e.Inode = 2, inode
		return e
	}
	a := []*fakeEntry{fakeDir("/"), link("/a", 1), link("/b", 1), link("/c", 1), fakeFile("/d", "d"), fakeDir("/dir"), fakeFile("/e", "d"), link("/x", 1)}
	b := []*fakeEntry{fakeDir("/"), link("/a", 7), link("/b", 7), link("/c", 8), fakeFile("/d", "d"), fakeDir("/dir"), fakeFile("/e", "d"), link("/y", 7)}
	var mu sync.Mutex
	var compared []string
	before := func(_ context.Context, e *fakeEntry) error {
		mu.Lock()
		defer mu.Unlock()
		compared = append(compared, e.Path)
		return nil
	}
	var released atomic.Int32
	s := Schedule[*fakeEntry]{NextA: fakeWalk(a), NextB: fakeWalk(b), Node: fakeNode, Workers: 3,
		NewComparer: func() FileComparer[*fakeEntry] { return &fakeComparer{before: before, released: &released} }}
	res, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(compared)
	if w := []string{"/a", "/c", "/d", "/e"}; !slices.Equal(compared, w) || res.Compared != len(w) || res.SameByRaw != len(w) {
		t.Errorf("compared %v (%d, %d by raw), want %v", compared, res.Compared, res.SameByRaw, w)
	}

	// Without a comparer only metadata is compared (inode numbers are
	// not): /x removed, /y added.
	s = Schedule[*fakeEntry]{NextA: fakeWalk(a), NextB: fakeWalk(b), Node: fakeNode, Lister: &Lister{}}
	res, err = s.Run(context.Background())
	if err != nil || res.Compared != 0 || len(s.Lister.Findings) != 2 {
		t.Errorf("metadata only: %v, %d compared, findings %+v", err, res.Compared, s.Lister.Findings)
	}
}

// TestSchedulePanics: a bug met on the workers' or the walks' goroutines
// (a panic) is an error, not the end of the process: in a file comparison
// it is that pair's problem and the others are compared; in a walk it ends
// the walk with a *guard.PanicError; in the Lister too.
func TestSchedulePanics(t *testing.T) {
	var files []*fakeEntry
	for i := range 10 {
		files = append(files, fakeFile(fmt.Sprintf("/f%d", i), "x"))
	}
	all := append([]*fakeEntry{fakeDir("/")}, files...)
	var released atomic.Int32
	boom := func(ctx context.Context, e *fakeEntry) error {
		if e.Path == "/f3" {
			panic("comparer bug")
		}
		return nil
	}
	s := Schedule[*fakeEntry]{NextA: fakeWalk(all), NextB: fakeWalk(all), Node: fakeNode, Workers: 2,
		NewComparer: func() FileComparer[*fakeEntry] { return &fakeComparer{before: boom, released: &released} }}
	res, err := s.Run(context.Background())
	var pe *guard.PanicError
	if err != nil || len(res.Problems) != 1 || res.Problems[0].Path != "/f3" || !errors.As(res.Problems[0].Err, &pe) || res.Compared != 10 {
		t.Errorf("a comparer's panic: err %v, problems %+v, %d compared", err, res.Problems, res.Compared)
	}

	walk := fakeWalk(all)
	n := 0
	panicky := func() (*fakeEntry, error) {
		if n++; n == 5 {
			panic("reader bug")
		}
		return walk()
	}
	s = Schedule[*fakeEntry]{NextA: panicky, NextB: fakeWalk(all), Node: fakeNode, Workers: 2,
		NewComparer: func() FileComparer[*fakeEntry] { return &fakeComparer{released: &released} }}
	if _, err := s.Run(context.Background()); !errors.As(err, &pe) || pe.Value != "reader bug" {
		t.Errorf("a walk's panic: %v", err)
	}

	lister := Lister{Opts: Options{}}
	node := func(e *fakeEntry) *tree.Node {
		if e.Path == "/f7" && lister.Findings != nil {
			panic("lister bug")
		}
		return &e.Node
	}
	b := slices.Clone(all)
	b[1] = fakeFile("/f0", "yy") // a metadata finding first
	s = Schedule[*fakeEntry]{NextA: fakeWalk(all), NextB: fakeWalk(b), Node: node, Lister: &lister}
	if _, err := s.Run(context.Background()); !errors.As(err, &pe) || pe.Value != "lister bug" {
		t.Errorf("the merge's panic: %v", err)
	}
}
