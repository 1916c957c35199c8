package isodiff

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/internal/pkgdb"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/parttable"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// session is what one comparison's stages share: the inputs, the options,
// the report they each add their own Stage to, and the read plan (plan.go):
// each side's parsed ISO, the root filesystem images found in the trees,
// the hashing pass's results, each image opened, and each pair's tree
// comparison, all computed once by whichever stage needs them first and
// only read afterwards. A stage writes only its own report.Stage; what it
// hands on (the content stage's diverging files) goes one way, forward.
type session struct {
	opts   Options
	in     [2]Input
	report *report.Report
	// budget is charged with everything image-derived the comparison
	// holds; ctx is the comparison's context (cancellation, time limit,
	// the budget), which readers opened once for all stages keep.
	budget *budget.Budget
	ctx    context.Context
	ignore ignoreRules

	isoOnce [2]sync.Once
	iso     [2]*iso9660.Image
	isoErr  [2]error

	// containers are the root filesystem images found in the ISO trees
	// (the plan's discovery), in walk order; discoverErr[i] is the error
	// that stopped side i's walk.
	discoverOnce [2]sync.Once
	containers   []*container
	discoverErr  [2]error

	// diverging are the files the content stage found to differ, with a way
	// to open each side again, for the stages that explain them.
	diverging []divergent

	// hashing is set while the sizes stage's hashing pass runs: the tree
	// comparison running beside it keeps its progress to itself then, so
	// that the progress line shows the pass (its bytes, its time left).
	hashing atomic.Bool

	// refusedAhead counts the budget refusals met by the squashfs stage's
	// work that the sizes stage did ahead (compareAhead): the squashfs
	// stage reports them, not the sizes stage.
	refusedAhead int64
}

// divergent is a file whose bytes differ between the two images.
type divergent struct {
	finding int // index in the content stage's findings
	scope   report.Scope
	path    string
	size    [2]int64
	open    [2]func() (io.Reader, error)
	// at opens random access to each side, and spans are the ranges
	// outside which the two are proven equal; both nil when not known.
	at    [2]func() (io.ReaderAt, error)
	spans []report.Range
}

// container is a root filesystem image (squashfs or EROFS) inside the ISO,
// on one or both sides: the read plan's record of it, filled step by step.
type container struct {
	// Discovery: where it is in each tree, and what each side holds
	// (formatSquashfs, formatEROFS) by its magic.
	path    string
	entry   [2]*iso9660.Entry
	formats [2]string
	// The hashing pass (or, for what it left out, openContainer): each
	// side's SHA-256, and the chunk-by-chunk comparison of the two sides
	// (nil when they were not paired).
	sum     [2]string
	pairing *chunkPairing
	// inPass[i]: the sizes stage's pass hashes side i, so opening it
	// (which may happen beside the pass: compareAhead) must not hash it
	// again; its sum is set when the pass ends.
	inPass [2]bool
	// Opening (openContainer, once): each side's bytes in the ISO and its
	// opened image, or the problems met on the way.
	openOnce     sync.Once
	files        [2]*isoFile
	reader       [2]*squashfs.Reader
	erofs        [2]*erofs.Reader
	decodes      *squashfs.DecodeCache // shared by both squashfs readers
	openProblems []sideProblem
	// The tree comparison (compareTrees, once): one merge-walk of both
	// trees, its metadata half reported by the squashfs stage and its
	// content half by the content stage.
	treesOnce sync.Once
	trees     *treeComparison
	// The package databases (indexPackages, once): each side's dpkg
	// database read with its paths hashed, for attributeOwners to ask
	// about the diverging files; nil on a side without one (dbErr says
	// why).
	dbOnce  sync.Once
	dbIndex [2]*pkgdb.Index
	dbErr   [2]error
}

// format is the container's format: side A's when known, else side B's.
func (c *container) format() string {
	if c.formats[0] != "" {
		return c.formats[0]
	}
	if c.formats[1] != "" {
		return c.formats[1]
	}
	return formatSquashfs
}

// scope names the container in findings: "squashfs:/live/filesystem.squashfs",
// "erofs:/LiveOS/squashfs.img".
func (c *container) scope() report.Scope { return report.ContainerScope(c.format(), c.path) }

func newSession(a, b Input, opts Options) *session {
	s := &session{opts: opts, in: [2]Input{a, b}, ctx: context.Background()}
	if opts.MemoryBudget > 0 {
		s.budget = budget.New(opts.MemoryBudget)
	}
	return s
}

func (s *session) progress(p Progress) {
	if s.opts.Progress != nil {
		s.opts.Progress(p)
	}
}

// progressReader counts the bytes read through it into done and reports
// them as step of stage.
type progressReader struct {
	r     io.ReaderAt
	s     *session
	done  *atomic.Int64
	total int64
	stage string
	step  string
}

func (p progressReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	p.s.progress(Progress{Stage: p.stage, Step: p.step, Done: p.done.Add(int64(n)), Total: p.total, Bytes: true})
	return n, err
}

func (s *session) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// image returns side i's parsed ISO, opening it on first use.
func (s *session) image(i int) (*iso9660.Image, error) {
	s.isoOnce[i].Do(func() {
		s.iso[i], s.isoErr[i] = iso9660.OpenOptions(s.in[i].R, s.in[i].Size, iso9660.Options{Budget: s.budget, Context: s.ctx})
	})
	return s.iso[i], s.isoErr[i]
}

// close gives back what the opened images hold charged.
func (s *session) close() {
	for i := range s.iso {
		if s.iso[i] != nil {
			s.iso[i].Close()
		}
	}
	for _, c := range s.containers {
		for _, x := range c.dbIndex {
			if x != nil {
				x.Close() // not asked about: no file diverged
			}
		}
	}
}

// images returns both sides' parsed ISOs. A side that cannot be opened is
// recorded as a problem of stage st (when st is not nil); ok is false
// unless both opened.
func (s *session) images(st *report.Stage) (ims [2]*iso9660.Image, ok bool) {
	for i := range ims {
		im, err := s.image(i)
		if err != nil && st != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, report.Scope{}, err))
		}
		ims[i] = im
	}
	return ims, ims[0] != nil && ims[1] != nil
}

// isContainer reports whether path was found to be a squashfs image.
func (s *session) isContainer(path string) bool {
	for _, c := range s.containers {
		if c.path == path {
			return true
		}
	}
	return false
}

// problem turns an error met while reading side i into a report.Problem
// that names the file, the stage and, when the error carries one, the byte
// offset in the image. base is added to offsets of errors found inside a
// section of the image (a squashfs at base), and scope names that section.
func (s *session) problem(i int, stage string, base int64, scope report.Scope, err error) report.Problem {
	return s.problemAt(i, stage, func(off int64) int64 { return base + off }, scope, err)
}

// problemAt is problem with the offsets of errors found inside a section
// mapped to the image by at (a container recorded in several extents).
func (s *session) problemAt(i int, stage string, at func(int64) int64, scope report.Scope, err error) report.Problem {
	file := ""
	if i >= 0 {
		file = s.in[i].Name
	} else {
		file = s.in[0].Name + ", " + s.in[1].Name
	}
	return report.Problem{File: file, Stage: stage, Offset: errOffset(err, at), Message: err.Error(), Scope: scope, Err: err}
}

// errOffset finds the image offset an error carries, or -1; at maps the
// offsets of errors from inside a section (a squashfs or EROFS image in
// the ISO) to the image.
func errOffset(err error, at func(int64) int64) int64 {
	var ie *iso9660.FormatError
	if errors.As(err, &ie) {
		return ie.Off
	}
	var se *squashfs.FormatError
	if errors.As(err, &se) {
		return at(se.Off)
	}
	var ee *erofs.FormatError
	if errors.As(err, &ee) {
		return at(ee.Off)
	}
	var pe *parttable.FormatError
	if errors.As(err, &pe) {
		return pe.Off
	}
	var be *budget.ExceededError
	if errors.As(err, &be) && be.Off >= 0 {
		return at(be.Off)
	}
	return -1
}

// pairProblem records an error from work on both sides (a merge-walk, a
// comparison), attributed to the side it came from when the error says so.
// Inside a container, offsets are made relative to the whole image.
func (s *session) pairProblem(stage string, c *container, err error) report.Problem {
	side := sideOf(err)
	if c == nil {
		return s.problem(side, stage, 0, report.ISOTree, err)
	}
	return s.problemAt(side, stage, c.imageOffset(side), c.scope(), err)
}

// imageOffset maps an offset inside side i's copy of c to its offset in
// the image, through the extents it is recorded in (identity when the side
// is not known or not located).
func (c *container) imageOffset(i int) func(int64) int64 {
	if i >= 0 && c.files[i] != nil {
		return c.files[i].imageOffset
	}
	if i >= 0 && c.entry[i] != nil && len(c.entry[i].Extents) > 0 {
		base := c.entry[i].Extents[0].Offset
		return func(off int64) int64 { return base + off }
	}
	return func(off int64) int64 { return off }
}

// sideOf returns 0 or 1 for an error that names its side, else -1.
func sideOf(err error) int {
	var se *tree.SideError
	if errors.As(err, &se) {
		return se.Side
	}
	return -1
}
