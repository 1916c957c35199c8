package erofs

import (
	"io"
	"iter"

	"github.com/isodiff/isodiff/internal/seq"
	"github.com/isodiff/isodiff/tree"
)

// Walk bounds: deeper nesting, or more entries held in the listings of
// the open directories, is reported as corrupt.
const (
	maxDepth = 1024
	maxHeld  = 1 << 22
)

// A Walker yields every node of the image in tree.Compare order:
// depth-first pre-order from the root "/", each directory's children
// sorted bytewise by name. It holds only the listings of the directories
// on the current path, plus the nids of the directories visited so far, to
// reject cycles and directories reached twice. A Walker is for one
// goroutine.
type Walker struct {
	r       *Reader
	started bool
	stack   []frame
	held    int
	seen    map[uint64]struct{}
	charged int64
	err     error
}

type frame struct {
	path    string
	ents    []dirent
	next    int
	charged int64
}

const seenCost = 48

// Walk returns a Walker over the whole image.
func (r *Reader) Walk() *Walker {
	return &Walker{r: r, seen: make(map[uint64]struct{})}
}

// All yields every node as Walk does; it stops at the first error, which
// it yields.
func (r *Reader) All() iter.Seq2[*Entry, error] {
	return seq.All(func() (func() (*Entry, error), func()) {
		w := r.Walk()
		return w.Next, w.Close
	})
}

// Next returns the next node, or io.EOF after the last. After an error,
// Next keeps returning that error.
func (w *Walker) Next() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	e, err := w.next()
	if err != nil {
		w.err = err
		w.release()
		return nil, err
	}
	return e, nil
}

// Close gives back what the walk holds; Next then returns io.EOF.
func (w *Walker) Close() {
	if w.err == nil {
		w.err = io.EOF
	}
	w.release()
}

func (w *Walker) release() {
	for _, f := range w.stack {
		w.r.budget.Release(f.charged)
	}
	w.stack = nil
	w.r.budget.Release(w.charged)
	w.charged = 0
	w.seen = nil
}

func (w *Walker) next() (*Entry, error) {
	if !w.started {
		w.started = true
		e, err := w.visit("/", uint64(w.r.Super.RootNid), 2, SuperblockOffset+14)
		return e, err
	}
	for len(w.stack) > 0 {
		top := &w.stack[len(w.stack)-1]
		if top.next == len(top.ents) {
			w.held -= len(top.ents)
			w.r.budget.Release(top.charged)
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		d := top.ents[top.next]
		top.next++
		return w.visit(tree.Join(top.path, d.name), d.nid, d.ftype, d.off)
	}
	return nil, io.EOF
}

func (w *Walker) visit(path string, nid uint64, ftype uint8, ref int64) (*Entry, error) {
	r := w.r
	e, err := r.entryAt(nid, path, ref)
	if err != nil {
		return nil, err
	}
	if err := checkType(e, ftype); err != nil {
		return nil, err
	}
	if !e.Mode.IsDir() {
		return e, nil
	}
	if _, dup := w.seen[nid]; dup {
		return nil, corrupt(e.iloc, "directory "+path, "nid %d reached twice (cycle or hard-linked directory)", nid)
	}
	if len(w.stack) >= maxDepth {
		return nil, corrupt(e.iloc, "directory "+path, "nesting deeper than %d", maxDepth)
	}
	if err := r.budget.Charge(seenCost, "erofs directories visited", e.iloc); err != nil {
		return nil, err
	}
	w.charged += seenCost
	w.seen[nid] = struct{}{}
	ents, charged, err := r.readDir(e)
	if err != nil {
		return nil, withPath(err, path)
	}
	if w.held += len(ents); w.held > maxHeld {
		r.budget.Release(charged)
		return nil, corrupt(e.iloc, "directory "+path, "more than %d entries in the open directories", maxHeld)
	}
	w.stack = append(w.stack, frame{path: path, ents: ents, charged: charged})
	return e, nil
}
