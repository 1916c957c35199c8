package isodiff

import (
	"context"
	"sync"

	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/internal/guard"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// The read plan is the work on the images' bytes that several stages need,
// named and done once, by whichever stage asks first; the stages then only
// read its results and each reports its own part:
//
//  1. Discovery (discover.go): the root filesystem images in both ISO
//     trees (the container records, session.containers).
//  2. The hashing pass (hashpass.go), run by the sizes stage: one read per
//     image hashing it and each container, pairing the two sides of a
//     container chunk by chunk (container.sum, container.pairing).
//  3. Opening (openContainer): each container's bytes located in the ISO,
//     hashed if the pass left them out, and its image opened.
//  4. The tree comparison (compareTrees): one merge-walk of both trees of
//     a container pair, comparing metadata and contents together so each
//     tree is read once. The squashfs stage reports its metadata half, the
//     content stage its content half. When the probes already show a pair
//     differs, the sizes stage runs it (and opening) beside the hashing
//     pass (compareAhead): decoding fills the cores while the pass hashes,
//     and equal stored bytes are learnt from the pass as it gets to them.
//  5. The package databases (indexPackages, owners.go): each side's dpkg
//     database read with its listed paths hashed, beside the tree
//     comparison when that runs ahead; the content stage then asks which
//     packages own the diverging files.
//
// What a stage hands on goes forward only: the content stage's diverging
// files (session.diverging) to the explain stage, which lists its
// explanations in its own Stage.

// treeComparison is the read plan's comparison of a container pair's trees.
type treeComparison struct {
	findings []report.Finding // superblock and metadata
	listing  string           // the listings' unified diff
	content  *innerContent    // nil when the walk did not get to the files
	err      error            // what ended the walk early, for either half
}

// sideProblem is a problem the plan met on one side (side -1: both), at
// off in that image, for the stage that reports the step.
type sideProblem struct {
	side int
	off  int64
	err  error
}

// treesComparable reports whether c's two trees are to be compared: both
// sides opened, of one format, and their bytes differ or are not known to
// be equal (a side the hashing pass failed to read, opened beside it).
func (c *container) treesComparable() bool {
	return c.opened(0) && c.opened(1) && c.formats[0] == c.formats[1] && !c.knownIdentical()
}

// knownIdentical reports whether both sides of c were hashed alike.
func (c *container) knownIdentical() bool { return c.sum[0] != "" && c.sum[0] == c.sum[1] }

// compareTrees returns the comparison of c's two opened trees, merge-walking
// them the first time it is asked.
func (s *session) compareTrees(ctx context.Context, c *container) *treeComparison {
	c.treesOnce.Do(func() {
		if err := guard.Run(func() error { c.trees = s.compareInner(ctx, c); return nil }); err != nil {
			c.trees = &treeComparison{err: err} // it may run beside the pass, off the stage's goroutine
		}
	})
	return c.trees
}

// openContainer locates each side of c in its ISO, hashes what the hashing
// pass left out (both sides at once and paired when both need it), and
// opens each side's image, the first time it is asked; what fails is kept
// in c.openProblems.
func (s *session) openContainer(ctx context.Context, c *container) {
	c.openOnce.Do(func() {
		if err := guard.Run(func() error { s.open(ctx, c); return nil }); err != nil {
			c.openProblems = append(c.openProblems, sideProblem{-1, -1, err})
		}
	})
}

func (s *session) open(ctx context.Context, c *container) {
	for i, e := range c.entry {
		if e == nil {
			continue
		}
		f, err := s.section(i, e)
		if err != nil {
			off := int64(-1) // an empty file has no extent
			if len(e.Extents) > 0 {
				off = e.Extents[0].Offset
			}
			c.openProblems = append(c.openProblems, sideProblem{i, off, err})
			continue
		}
		c.files[i] = f
	}
	var todo [2]*passSection
	var src [2]hashSource
	for i, f := range c.files {
		if f != nil && c.sum[i] == "" && !c.inPass[i] {
			src[i] = f.hashSource(s.in[i], i)
			todo[i] = &src[i].sec
		}
	}
	if todo[0] != nil && todo[1] != nil {
		c.pairing = newChunkPairing(todo[0].n, todo[1].n)
		todo[0].pair, todo[1].pair = c.pairing, c.pairing
	}
	var hashErr [2]error
	var wg sync.WaitGroup
	for i, sc := range todo {
		if sc == nil {
			continue
		}
		s.logf("squashfs: hashing %s of %s (not done by the sizes stage)", c.path, s.in[i].Name)
		wg.Go(func() {
			hashErr[i] = guard.Run(func() error {
				_, sums, err := hashPass(ctx, src[i].r, src[i].size, false, []passSection{*sc})
				if err == nil {
					c.sum[i] = sums[0]
				}
				return err
			})
		})
	}
	wg.Wait()
	// Both squashfs images share their decoded blocks: two builds store
	// most blocks alike, and the comparison decodes them on both sides.
	if c.files[0] != nil && c.files[1] != nil && c.formats[0] == formatSquashfs && c.formats[1] == formatSquashfs {
		c.decodes, _ = squashfs.NewDecodeCache(0, s.budget) // refused: each decodes its own
	}
	for i, f := range c.files {
		if f == nil {
			continue
		}
		if hashErr[i] != nil {
			c.openProblems = append(c.openProblems, sideProblem{i, f.offset(), hashErr[i]})
			continue
		}
		var err error
		if c.formats[i] == formatEROFS {
			c.erofs[i], err = erofs.OpenOptions(f, f.Size(), erofs.Options{Budget: s.budget, Context: s.ctx})
		} else {
			c.reader[i], err = squashfs.OpenOptions(f, f.Size(), squashfs.Options{Budget: s.budget, Context: s.ctx, Shared: c.decodes})
		}
		if err != nil {
			c.openProblems = append(c.openProblems, sideProblem{i, f.offset(), err})
		}
	}
}
