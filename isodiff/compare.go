// Package isodiff tells why two builds of the same Linux live ISO are not
// byte-identical.
//
// Compare runs a staged analysis, cheap to expensive, reading both images in
// place (nothing is extracted, no image or tree is held in memory):
//
//  1. sizes:    size and SHA-256 of both images, hashed concurrently. Equal
//     hashes end the analysis: the images are identical. When a few cheap
//     reads show the images differ, the same pass (one read per image)
//     also hashes each squashfs image and compares the two chunk by chunk
//     (hashpass.go), which later stages use instead of reading again.
//  2. header:   the volume descriptors field by field, the 32 KiB system
//     area (its differing byte ranges, its MBR and GPT decoded), and the
//     El Torito boot catalog with each boot image compared by hash.
//  3. toc:      a merge-walk of the two ISO trees (Rock Ridge names, modes,
//     owners and times where present, else Joliet, else plain ISO 9660).
//  4. squashfs: every root filesystem image inside the ISO (squashfs or
//     EROFS: the configured paths, default /live/filesystem.squashfs, and
//     any file that starts with either magic, also inside an uncompressed
//     cpio), read in place (an io.SectionReader over the ISO, or the ISO
//     file's extents wherever they lie): its hash, its superblock field by
//     field, and the metadata half of one merge-walk of both trees.
//  5. content:  the bytes of every regular file present in both images, at
//     the ISO level and, from the same merge-walk, inside each root image.
//
// What several stages need is the read plan (plan.go), computed once.
//  6. explain:  how and probably why each diverging file differs, by a
//     built-in format-aware comparison, and diffoscope (when installed) on
//     the pairs that comparison does not account for completely.
//
// Every stage runs even when an earlier one failed; a stage that meets a
// problem records it (file, stage, byte offset, error) and the report marks
// it failed. The result is a report.Report, which package report renders.
package isodiff

import (
	"context"
	"fmt"
	"github.com/isodiff/isodiff/internal/guard"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/report"
)

// Version is reported in the report's tool field.
const Version = "0.2.0"

// DefaultMemoryBudget is Options.MemoryBudget's default: 192 MiB, so that
// with the fixed working memory a comparison stays within 256 MiB.
const DefaultMemoryBudget = 192 << 20

// DefaultSquashfs is the squashfs image a Debian live ISO carries.
const DefaultSquashfs = "/live/filesystem.squashfs"

// Options tune a comparison. The zero value is ready to use: every zero
// field means its documented default, never "none" or "off"; a limit that
// can be turned off is turned off by a negative value (ExplainMax,
// MemoryBudget). The CLI's flags say "0: none" for the same two; it sets
// the negative value.
type Options struct {
	// Squashfs names files inside the ISO to compare as squashfs images.
	// Empty means DefaultSquashfs. Files not named here that start with the
	// squashfs magic are compared too, unless NoScan is set.
	Squashfs []string
	NoScan   bool
	// IgnoreMtime is the ignore rule "mtime" (and modification times are
	// left out of the listing diffs).
	IgnoreMtime bool
	// Ignore lists ignore rules (see ignore.go: mtime, owner, nlink,
	// timestamps, directory-metadata, semantic, path:GLOB): the differences
	// they match are marked ignored (report.Finding.Ignored), counted and
	// listed apart, never dropped. CompareInputs refuses an unknown rule.
	Ignore []string
	// MaxDiffBytes caps each listing diff text (16 MiB if zero).
	MaxDiffBytes int
	// ExplainMax is the most diverging files the explain stage explains
	// (DefaultExplainMax if zero; negative turns the stage off).
	ExplainMax int
	// TempDir holds the private directories of the explain stage and the
	// diffoscope hand-off (os.TempDir() if empty).
	TempDir string
	// NoDiffoscope turns the diffoscope hand-off off. Otherwise diffoscope
	// (DiffoscopeCommand, default the one on PATH) runs on each diverging
	// file pair the built-in explanation does not account for completely
	// and that is at most DiffoscopeMaxSize bytes, each run bounded by
	// DiffoscopeTimeout and DiffoscopeMemory (zero: the Default values).
	NoDiffoscope      bool
	DiffoscopeCommand string
	// DiffoscopeVM lets diffoscope compare filesystem images through
	// libguestfs, which boots a virtual machine; off, such pairs keep the
	// built-in FAT reader's explanation.
	DiffoscopeVM bool
	// ExplainBudget bounds the explain stage and the diffoscope hand-off
	// together (DefaultExplainBudget if zero): diffoscope gets the pairs
	// the built-in comparison explained least first, each run bounded by
	// what is left, and the stage notes list what was left unexplained.
	ExplainBudget     time.Duration
	DiffoscopeTimeout time.Duration
	DiffoscopeMemory  int64
	DiffoscopeMaxSize int64
	// TimeLimit, when positive, bounds the whole analysis: when it passes,
	// the running stage stops and records a problem saying so, the later
	// stages are skipped, and the report so far is returned (ExitCode 2).
	// A cancelled ctx does the same and also returns ctx's error. A CI step
	// thus gets its artefacts in bounded time, however large or hostile
	// the images (a file can claim terabytes of sparse data).
	TimeLimit time.Duration
	// MemoryBudget bounds what one comparison holds because the images say
	// so: every structure the readers, walks, findings and explanations
	// keep is charged to one budget of this many bytes (DefaultMemoryBudget
	// if zero; negative: unlimited). Reaching it is a problem naming the
	// structure and its offset (ExitCode 2); the other stages still run.
	// Fixed working memory (read buffers, fixed-size caches, the runtime)
	// comes on top: about 40 MiB.
	MemoryBudget int64
	// Logf, when set, receives one line per stage as it starts and ends.
	Logf func(format string, args ...any)
	// Progress, when set, is told how the comparison goes: each stage as
	// it starts, the bytes of both images read by the hashing pass, the
	// files compared, the pairs explained and handed to diffoscope. It is
	// called often and from several goroutines: it must be quick and safe
	// for concurrent use (a terminal progress bar throttles its drawing).
	Progress func(Progress)
}

// Progress is one report of how far a comparison is.
type Progress struct {
	Stage string // the running stage, a report.Stage* name
	Step  string // what is counted, e.g. "reading both images"; "" when the stage starts
	Done  int64
	Total int64  // -1 when not known in advance
	Bytes bool   // Done and Total count bytes, else items
	Item  string // the file being worked on, when there is one
}

// Input is one image to compare: a name for messages and a way to read it.
type Input struct {
	Name string
	R    io.ReaderAt
	Size int64
}

// Compare compares two image files. It returns an error only when a file
// cannot be opened or ctx is cancelled (then with the report so far); every
// other problem is recorded in the report, whose ExitCode says 0 identical,
// 1 different, 2 trouble.
func Compare(ctx context.Context, pathA, pathB string, opts Options) (*report.Report, error) {
	fa, err := os.Open(pathA)
	if err != nil {
		return nil, err
	}
	defer fa.Close()
	fb, err := os.Open(pathB)
	if err != nil {
		return nil, err
	}
	defer fb.Close()
	sa, err := fa.Stat()
	if err != nil {
		return nil, err
	}
	sb, err := fb.Stat()
	if err != nil {
		return nil, err
	}
	for _, in := range []struct {
		path string
		fi   os.FileInfo
	}{{pathA, sa}, {pathB, sb}} {
		if !in.fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file (%s)", in.path, describeMode(in.fi.Mode()))
		}
	}
	return CompareInputs(ctx, Input{pathA, fa, sa.Size()}, Input{pathB, fb, sb.Size()}, opts)
}

// A stage is one step of the pipeline: it fills its report.Stage from the
// session's shared state, and may leave state for later stages.
type stage struct {
	name string
	run  func(ctx context.Context, s *session, st *report.Stage)
}

// pipeline is the order of the analysis.
var pipeline = []stage{
	{report.StageSizes, runSizes},
	{report.StageHeader, runHeader},
	{report.StageTOC, runTOC},
	{report.StageSquashfs, runSquashfs},
	{report.StageContent, runContent},
	{report.StageExplain, runExplain},
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.String()
}

// CompareInputs compares two images given as io.ReaderAt. When ctx is
// cancelled, the running stage stops, the later ones are not run, and the
// report so far is returned together with ctx's error.
func CompareInputs(ctx context.Context, a, b Input, opts Options) (*report.Report, error) {
	if len(opts.Squashfs) == 0 {
		opts.Squashfs = []string{DefaultSquashfs}
	}
	specs := opts.Ignore
	if opts.IgnoreMtime {
		specs = append(slices.Clone(specs), "mtime")
	}
	ignore, err := parseIgnore(specs)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.MemoryBudget == 0:
		opts.MemoryBudget = DefaultMemoryBudget
	case opts.MemoryBudget < 0:
		opts.MemoryBudget = 0
	}
	s := newSession(a, b, opts)
	s.ignore = ignore
	r := &report.Report{
		Schema:  report.SchemaVersion,
		Tool:    "isodiff " + Version,
		Started: time.Now().UTC().Truncate(time.Second),
		A:       report.Image{Path: a.Name, Size: a.Size},
		B:       report.Image{Path: b.Name, Size: b.Size},
	}
	s.report = r
	stageCtx := budget.NewContext(ctx, s.budget)
	if opts.TimeLimit > 0 {
		var cancel context.CancelFunc
		stageCtx, cancel = context.WithTimeout(stageCtx, opts.TimeLimit)
		defer cancel()
	}
	s.ctx = stageCtx
	defer s.close()
	both := s.in[0].Name + ", " + s.in[1].Name
	for _, stg := range pipeline {
		st := &report.Stage{Name: stg.name}
		r.Stages = append(r.Stages, st)
		if r.Identical && stg.name != report.StageSizes {
			st.Status = report.StatusSkipped
			st.Notes = append(st.Notes, "images are identical")
			continue
		}
		if stageCtx.Err() != nil {
			st.Problems = append(st.Problems, report.Problem{File: both, Stage: stg.name, Offset: -1,
				Message: "not run: " + stopReason(ctx, opts.TimeLimit)})
			st.Finish()
			continue
		}
		s.logf("stage %s: start", stg.name)
		s.progress(Progress{Stage: stg.name})
		start := time.Now()
		refusedBefore, _ := s.budget.Refusals()
		if stg.name == report.StageSquashfs {
			refusedBefore -= s.refusedAhead // met by its work, done ahead
		}
		aheadBefore := s.refusedAhead
		runGuarded(stageCtx, s, stg, st)
		s.ignore.apply(st)
		if stageCtx.Err() != nil {
			// Reads cut off by the stop are not problems of the images.
			st.Problems = slices.DeleteFunc(st.Problems, func(p report.Problem) bool {
				return strings.HasSuffix(p.Message, context.DeadlineExceeded.Error()) ||
					strings.HasSuffix(p.Message, context.Canceled.Error())
			})
			st.Problems = append(st.Problems, report.Problem{File: both, Stage: stg.name, Offset: -1,
				Message: "stopped: " + stopReason(ctx, opts.TimeLimit) + " during this stage; what it found until then is kept"})
		}
		refusedBefore += s.refusedAhead - aheadBefore // the squashfs stage reports them
		if n, last := s.budget.Refusals(); n > refusedBefore && !slices.ContainsFunc(st.Problems, func(p report.Problem) bool {
			return strings.Contains(p.Message, "memory budget")
		}) {
			// A reader met the budget and the error was absorbed on the way
			// (a walk that ends early looks like a shorter tree): say so.
			st.Problems = append(st.Problems, report.Problem{File: both, Stage: stg.name, Offset: last.Off, Message: last.Error()})
		}
		st.Elapsed = report.Duration(time.Since(start))
		st.Finish()
		s.logf("stage %s: %s, %d finding(s), %d problem(s), %.2fs", stg.name, st.Status, len(st.Findings), len(st.Problems), time.Since(start).Seconds())
		for _, c := range s.containers {
			if c.decodes != nil {
				hits, misses := c.decodes.Stats()
				s.logf("  %s: %d block(s) decoded, %d copied from the other image's decoding", c.path, misses, hits)
			}
		}
	}
	r.Elapsed = report.Duration(time.Since(r.Started))
	if lim := s.budget.Limit(); lim > 0 {
		s.logf("memory budget: at most %.1f MiB of %.0f MiB held for the images", float64(s.budget.Peak())/(1<<20), float64(lim)/(1<<20))
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	return r, nil
}

// stopReason says why the stages stopped: the caller's cancellation (a
// signal, with its cause when the caller gave one) or the time limit.
func stopReason(ctx context.Context, limit time.Duration) string {
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if cause == nil || cause == context.Canceled {
			return "interrupted"
		}
		return "interrupted (" + cause.Error() + ")"
	}
	return fmt.Sprintf("the time limit (%v) passed", limit)
}

// runGuarded runs a stage so that a bug in it (a panic) is recorded as the
// stage's problem instead of ending the whole analysis.
// Work a stage starts on other goroutines (the read plan's, treediff's)
// guards itself the same way (internal/guard).
func runGuarded(ctx context.Context, s *session, stg stage, st *report.Stage) {
	if err := guard.Run(func() error { stg.run(ctx, s, st); return nil }); err != nil {
		st.Problems = append(st.Problems, report.Problem{
			File: s.in[0].Name + ", " + s.in[1].Name, Stage: stg.name, Offset: -1, Message: err.Error(),
		})
	}
}
