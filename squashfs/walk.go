package squashfs

import (
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/seq"
	"github.com/isodiff/isodiff/tree"
)

// Walk bounds: deeper nesting, or more entries held in the listings of
// the open directories, is reported as corrupt.
const (
	maxDepth = 1024
	maxHeld  = 1 << 22
)

// A Walker yields every node of the image in tree.Compare order: depth-first
// pre-order from the root "/", each directory's children sorted bytewise by
// name. It holds only the listings of the directories on the current path,
// plus the inode numbers and listing positions of the directories visited
// so far (8 bytes each), to reject cycles, directories reached twice and
// listings shared between directories. A Walker is for one goroutine.
type Walker struct {
	r       *Reader
	started bool
	stack   []frame
	held    int                 // entries in the stack's listings
	seen    map[uint64]struct{} // visited directory inode numbers
	seenDir map[uint64]struct{} // visited listing positions
	charged int64               // budget held for seen and seenDir
	lastDir bool                // Next's last node was a directory whose listing is on top of the stack
	err     error
}

type frame struct {
	path    string
	ents    []dirent
	next    int
	charged int64 // budget held for ents
}

// seenCost is what one visited directory costs in the seen maps.
const seenCost = 2 * 48

// Walk returns a Walker over the whole image.
func (r *Reader) Walk() *Walker {
	return &Walker{r: r, seen: make(map[uint64]struct{}), seenDir: make(map[uint64]struct{})}
}

// All yields every node as a Walker does, with a nil error; after an
// error, which it yields with a nil *Entry, it stops. Breaking out of the
// loop early gives back what the walk holds.
func (r *Reader) All() iter.Seq2[*Entry, error] {
	return seq.All(func() (func() (*Entry, error), func()) {
		w := r.Walk()
		return w.Next, w.Close
	})
}

// Close ends the walk early and gives back what it holds (the open
// directories' listings and their budget charges); Next then returns
// io.EOF. A walk that ran to its end or to an error holds nothing.
func (w *Walker) Close() {
	if w.err == nil {
		w.err = io.EOF
	}
	w.release()
}

// Next returns the next node, or io.EOF after the last. After an error, Next
// keeps returning that error.
func (w *Walker) Next() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	depth := len(w.stack)
	e, err := w.next()
	if err != nil {
		w.err = err
		w.release()
		return nil, err
	}
	w.lastDir = e.Mode.IsDir() && len(w.stack) > depth
	return e, nil
}

// SkipDir makes the walk leave out what lies below the directory Next has
// just returned (its listing is dropped unread). It does nothing after any
// other node.
func (w *Walker) SkipDir() {
	if w.lastDir && len(w.stack) > 0 {
		top := w.stack[len(w.stack)-1]
		w.held -= len(top.ents)
		w.r.budget.Release(top.charged)
		w.stack = w.stack[:len(w.stack)-1]
		w.lastDir = false
	}
}

// release gives back what the walk held, at its end or first error.
func (w *Walker) release() {
	for _, f := range w.stack {
		w.r.budget.Release(f.charged)
	}
	w.stack = nil
	w.r.budget.Release(w.charged)
	w.charged = 0
	w.seen, w.seenDir = nil, nil
}

func (w *Walker) next() (*Entry, error) {
	if !w.started {
		w.started = true
		e, err := w.visit("/", w.r.Super.RootInode, TypeDir)
		if err == nil && !e.Mode.IsDir() {
			err = corrupt(int64(w.r.Super.InodeTableStart), "root inode", "type %d is not a directory", e.InodeType)
		}
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
		return w.visit(tree.Join(top.path, d.name), d.ref, d.typ)
	}
	return nil, io.EOF
}

// visit reads the node at path and, for a directory, pushes its listing.
func (w *Walker) visit(path string, ref uint64, typ uint16) (*Entry, error) {
	e, err := w.load(path, ref, typ)
	if err != nil {
		return nil, withPath(err, path)
	}
	return e, nil
}

// withPath adds the node's path to a *FormatError's What.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.What = fmt.Sprintf("%s of %s", fe.What, path)
	}
	return err
}

// node reads the node at path from inode reference ref, which a directory
// entry claiming basic type typ names, with its xattrs.
func (r *Reader) node(path string, ref uint64, typ uint16) (*Entry, error) {
	e, err := r.readInode(ref)
	if err != nil {
		return nil, err
	}
	e.Path = path
	if basic := (e.InodeType-1)%7 + 1; basic != int(typ) {
		return nil, corrupt(int64(r.Super.InodeTableStart+ref>>16), "inode", "type %d but directory entry says %d", e.InodeType, typ)
	}
	var held int64
	if e.Xattrs, held, err = r.xattrs(e.xattrIdx); err != nil {
		return nil, err
	}
	if err := budget.Attach(r.budget, e, held+int64(len(e.Link)), "squashfs xattrs and link target of "+path, int64(r.Super.XattrTableStart)); err != nil {
		return nil, err
	}
	return e, nil
}

func (w *Walker) load(path string, ref uint64, typ uint16) (*Entry, error) {
	r := w.r
	e, err := r.node(path, ref, typ)
	if err != nil {
		return nil, err
	}
	if !e.Mode.IsDir() {
		return e, nil
	}
	off := int64(r.Super.InodeTableStart + ref>>16)
	listing := uint64(e.dirBlock)<<16 | uint64(e.dirPos)
	if _, dup := w.seen[e.Inode]; dup {
		return nil, corrupt(off, "directory", "inode %d reached twice (cycle or hard-linked directory)", e.Inode)
	}
	if _, dup := w.seenDir[listing]; dup && e.dirSize > 0 {
		return nil, corrupt(off, "directory", "listing %d:%d shared with another directory", e.dirBlock, e.dirPos)
	}
	if len(w.stack) >= maxDepth {
		return nil, corrupt(off, "directory", "nesting deeper than %d", maxDepth)
	}
	if err := r.budget.Charge(seenCost, "squashfs directories visited", off); err != nil {
		return nil, err
	}
	w.charged += seenCost
	w.seen[e.Inode] = struct{}{}
	if e.dirSize > 0 { // an empty listing takes no room: it sits where the next one starts
		w.seenDir[listing] = struct{}{}
	}
	ents, charged, err := r.readDir(e)
	if err != nil {
		return nil, err
	}
	if w.held += len(ents); w.held > maxHeld {
		r.budget.Release(charged)
		return nil, corrupt(off, "directory", "more than %d entries in the open directories", maxHeld)
	}
	w.stack = append(w.stack, frame{path: path, ents: ents, charged: charged})
	return e, nil
}
