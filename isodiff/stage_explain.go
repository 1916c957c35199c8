package isodiff

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/diffoscope"
	"github.com/isodiff/isodiff/internal/explain"
	"github.com/isodiff/isodiff/report"
)

// Defaults of the explain stage's options.
const (
	DefaultExplainMax        = 500
	DefaultDiffoscopeTimeout = diffoscope.DefaultTimeout
	DefaultDiffoscopeMemory  = diffoscope.DefaultMemoryBytes
	DefaultDiffoscopeMaxSize = 64 << 20
	// DefaultExplainBudget bounds the explain stage and the diffoscope
	// hand-off together: the built-in explanations of a real live-build
	// pair take seconds, and a pair with hundreds of small diverging files
	// (grub-rescue-pc's cdrom against its floppy image: 288) gets its
	// least-explained files handed to diffoscope first, the rest listed.
	DefaultExplainBudget = 30 * time.Second
)

// errExplainBudget is the cause of the explain budget's deadline.
var errExplainBudget = errors.New("the explain budget ran out")

// explainDetailBytes caps the rendered explanation of one file, so that
// 500 explained files keep report.json within a few MiB.
const explainDetailBytes = 32 << 10

// runExplain explains each file the content stage found to differ: the
// built-in comparison (internal/explain) gives the stage's Explanations,
// one per file, naming it by scope and path; then, when diffoscope is on PATH and not disabled, it runs on each
// pair the built-in comparison did not account for completely, bounded.
func runExplain(ctx context.Context, s *session, st *report.Stage) {
	content := s.report.Stage(report.StageContent)
	maxFiles := s.opts.ExplainMax
	if maxFiles == 0 {
		maxFiles = DefaultExplainMax
	}
	if maxFiles < 0 {
		st.Status = report.StatusSkipped
		st.Notes = append(st.Notes, "explanations disabled")
		return
	}
	var todo []divergent
	for _, d := range s.diverging {
		if content == nil || d.finding >= len(content.Findings) || content.Findings[d.finding].Container {
			continue // a squashfs image: its inner files are explained on their own
		}
		if content.Findings[d.finding].Ignored != "" {
			continue // an ignore rule matched it: not worth the budget
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		st.Status = report.StatusSkipped
		st.Notes = append(st.Notes, "no diverging file to explain")
		return
	}
	if len(todo) > maxFiles {
		st.Notes = append(st.Notes, fmt.Sprintf("%d diverging files: the first %d are explained (--explain-max)", len(todo), maxFiles))
		todo = todo[:maxFiles]
	}
	spend := s.opts.ExplainBudget
	if spend == 0 {
		spend = DefaultExplainBudget
	}
	// One deadline for the built-in explanations and the diffoscope
	// hand-off together; the stage's own ctx still ends everything.
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(parent, spend, errExplainBudget)
	defer cancel()
	budgetSpent := func() bool { return parent.Err() == nil && ctx.Err() != nil }
	opts := explain.Options{TempDir: s.opts.TempDir, MaxDetailBytes: explainDetailBytes}
	type pending struct {
		d divergent
		// Only what the hand-off needs of the result is kept: a result can
		// hold half a MiB, and there can be hundreds.
		complete bool
		format   string
	}
	var explained []pending
	complete := 0
	var notExplained []string
	isoDiverging := map[string]divergent{} // every diverging ISO file, squashfs images included
	for _, d := range s.diverging {
		if d.scope == report.ISOTree {
			isoDiverging[d.path] = d
		}
	}
	dupOf := s.sameContents(ctx, todo)
	// The stage's results are its own: one explanation per diverging file
	// explained, naming it by scope and path (report.ExplanationOf).
	explainedAt := map[int]int{} // index in todo -> index in st.Explanations
	emit := func(k int, e report.Explanation) {
		e.Scope, e.Path = todo[k].scope, todo[k].path
		explainedAt[k] = len(st.Explanations)
		st.Explanations = append(st.Explanations, e)
	}
	duplicates := 0
	for k, d := range todo {
		if parent.Err() != nil {
			return
		}
		if budgetSpent() {
			notExplained = append(notExplained, where(d))
			continue
		}
		s.progress(Progress{Stage: st.Name, Step: "explaining", Done: int64(k), Total: int64(len(todo)), Item: d.path})
		if isChecksumList(d.scope, d.path) {
			// Its lines follow from the files it names: said so, or,
			// when they do not, explained as any text.
			if text, follows, err := s.explainChecksumList(ctx, d, isoDiverging); err == nil && text != "" {
				summary, details, _ := strings.Cut(text, "\n")
				emit(k, report.Explanation{Format: "checksum list", Summary: summary, Details: details,
					Hints: []string{HintChecksumList}, Complete: follows, FollowsFromOthers: follows})
				explained = append(explained, pending{d: d, complete: follows, format: "text"})
				if follows {
					complete++
				}
				continue
			}
		}
		if first := dupOf[k]; first >= 0 {
			// The same bytes on each side as a pair explained already
			// (one initrd in three places): explained once.
			if i, ok := explainedAt[first]; ok {
				e := st.Explanations[i]
				e.SameAs = where(todo[first])
				emit(k, e)
				duplicates++
				continue
			}
		}
		in := [2]explain.Input{{Name: d.path, Size: d.size[0], Open: d.open[0]}, {Name: d.path, Size: d.size[1], Open: d.open[1]}}
		pairOpts := opts
		if d.spans != nil && d.at[0] != nil && d.at[1] != nil {
			// The content stage proved the files equal outside a few
			// blocks: read those in place instead of decoding (and, for
			// ELF files, spooling) both files whole. Without spans, whole
			// files are read anyway, and spooling decodes both sides at once.
			for i := range in {
				if at, err := d.at[i](); err == nil {
					in[i].At = at
				}
			}
			for _, sp := range d.spans {
				pairOpts.Spans = append(pairOpts.Spans, explain.Range{Start: sp.Start, End: sp.End})
			}
		}
		res, err := explain.Explain(ctx, in[0], in[1], pairOpts)
		if budgetSpent() && (res == nil || !res.Complete) {
			notExplained = append(notExplained, where(d)) // cut off by the budget: not a problem of the images
			continue
		}
		if err != nil && ctx.Err() == nil {
			side := -1
			var se *tree.SideError
			if errors.As(err, &se) {
				side = se.Side
			}
			at := func(off int64) int64 { return off }
			for _, c := range s.containers {
				if c.scope() == d.scope {
					at = c.imageOffset(side)
				}
			}
			st.Problems = append(st.Problems, s.problemAt(side, st.Name, at, d.scope, fmt.Errorf("%s: %w", d.path, err)))
		}
		if res == nil {
			continue
		}
		detailBytes := explainDetailBytes
		emit(k, explanationOf(res, &detailBytes))
		if res.Complete {
			complete++
		}
		explained = append(explained, pending{d: d, complete: res.Complete, format: res.Format})
	}
	st.Status = report.StatusDiffers
	st.Notes = append(st.Notes, fmt.Sprintf("%s explained, %d completely by the built-in comparison", plural(len(explained), "diverging file"), complete))
	if duplicates > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d more with the same contents on each side as a file explained: explained once", duplicates))
	}
	if len(notExplained) > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("%d diverging file(s) not explained: the explain budget (%v, --explain-budget) ran out: %s",
			len(notExplained), spend, listCapped(notExplained, 20)))
	}

	// The diffoscope hand-off.
	if s.opts.NoDiffoscope {
		st.Notes = append(st.Notes, "diffoscope hand-off disabled: "+report.FileSqfsDiff+" holds the built-in explanations")
		return
	}
	exe := diffoscope.Find(s.opts.DiffoscopeCommand)
	if exe == "" {
		st.Notes = append(st.Notes, "diffoscope not found on PATH: "+report.FileSqfsDiff+" holds the built-in explanations")
		return
	}
	maxSize := s.opts.DiffoscopeMaxSize
	if maxSize <= 0 {
		maxSize = DefaultDiffoscopeMaxSize
	}
	lim := diffoscope.Limits{Timeout: s.opts.DiffoscopeTimeout, MemoryBytes: s.opts.DiffoscopeMemory, Command: exe,
		AllowVM: s.opts.DiffoscopeVM}
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultDiffoscopeTimeout
	}
	// The budget goes first to the pairs the built-in comparison explained
	// least: those it could only compare as bytes, then smaller pairs
	// before larger ones (more of them get explained).
	slices.SortStableFunc(explained, func(x, y pending) int {
		if bx, by := x.format == "data", y.format == "data"; bx != by {
			if bx {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.d.size[0]+x.d.size[1], y.d.size[0]+y.d.size[1])
	})
	var skippedComplete, skippedSize, skippedVM, skippedBudget []string
	ran, failed := 0, 0
	for k, p := range explained {
		if parent.Err() != nil {
			return
		}

		s.progress(Progress{Stage: st.Name, Step: "diffoscope", Done: int64(k), Total: int64(len(explained)), Item: p.d.path})
		where := where(p.d)
		switch {
		case p.complete:
			skippedComplete = append(skippedComplete, where)
			continue
		case p.format == "fat" && !lim.AllowVM:
			// diffoscope reads filesystem images only through libguestfs
			// (a virtual machine): the built-in FAT reader is as good.
			skippedVM = append(skippedVM, where)
			continue
		case p.d.size[0] > maxSize || p.d.size[1] > maxSize:
			skippedSize = append(skippedSize, fmt.Sprintf("%s (%d/%d bytes)", where, p.d.size[0], p.d.size[1]))
			continue
		case budgetSpent():
			skippedBudget = append(skippedBudget, where)
			continue
		}
		runLim := lim
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < runLim.Timeout {
			runLim.Timeout = max(time.Until(dl), time.Second)
		}
		out, err := s.handOff(ctx, p.d, maxSize, runLim)
		if budgetSpent() && err != nil {
			err = fmt.Errorf("stopped: the explain budget (%v, --explain-budget) ran out", spend)
		}
		ran++
		var body strings.Builder
		fmt.Fprintf(&body, "# %s: diffoscope %s\n", where, strings.Join(diffoscope.Args("a/"+baseName(p.d.path), "b/"+baseName(p.d.path), lim), " "))
		if err != nil {
			failed++
			fmt.Fprintf(&body, "# diffoscope stopped: %v\n", err)
			if out != "" {
				body.WriteString("# output so far:\n")
			}
			st.Notes = append(st.Notes, fmt.Sprintf("diffoscope on %s: %v (partial output kept)", where, err))
		}
		if err == nil && strings.TrimSpace(out) == "" {
			body.WriteString("# diffoscope found no difference\n")
		}
		body.WriteString(out)
		st.Texts = append(st.Texts, report.Text{Name: "diffoscope", Scope: p.d.scope, Body: body.String()})
	}
	note := fmt.Sprintf("diffoscope ran on %s", plural(ran, "file pair"))
	if failed > 0 {
		note += fmt.Sprintf(" (%d stopped early)", failed)
	}
	if len(skippedComplete) > 0 {
		note += fmt.Sprintf("; skipped %d explained completely by the built-in comparison: %s", len(skippedComplete), listCapped(skippedComplete, 10))
	}
	if len(skippedSize) > 0 {
		note += fmt.Sprintf("; skipped %d over the %d-byte size limit: %s", len(skippedSize), maxSize, listCapped(skippedSize, 10))
	}
	if len(skippedVM) > 0 {
		note += fmt.Sprintf("; skipped %d filesystem image(s) the built-in reader explains (diffoscope would need a virtual machine: --diffoscope-vm): %s", len(skippedVM), listCapped(skippedVM, 10))
	}
	if len(skippedBudget) > 0 {
		note += fmt.Sprintf("; not run on %d: the explain budget (%v) ran out: %s", len(skippedBudget), spend, listCapped(skippedBudget, 20))
	}
	st.Notes = append(st.Notes, note)
}

// handOff copies one diverging pair into a private directory and runs
// diffoscope on it.
func (s *session) handOff(ctx context.Context, d divergent, maxSize int64, lim diffoscope.Limits) (string, error) {
	var rs [2]io.Reader
	for i := range rs {
		r, err := d.open[i]()
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", s.in[i].Name, err)
		}
		if c, ok := r.(io.Closer); ok {
			defer c.Close()
		}
		rs[i] = bytecmp.ContextReader(ctx, r)
	}
	pair, err := diffoscope.Extract(s.opts.TempDir, d.path, rs[0], rs[1], maxSize)
	if err != nil {
		return "", err
	}
	defer pair.Remove()
	start := time.Now()
	out, err := pair.Run(ctx, lim) // its own $TMPDIR inside the pair's private directory
	s.logf("diffoscope %s: %.1fs", d.path, time.Since(start).Seconds())
	return out, err
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// sameContents finds the diverging pairs whose two sides hold the same
// bytes as an earlier pair's: dupOf[k] is that pair's index, or -1. Only
// pairs whose sizes equal another pair's are hashed (both sides, whole), so
// the usual pair costs nothing here.
func (s *session) sameContents(ctx context.Context, todo []divergent) []int {
	dupOf := make([]int, len(todo))
	bySize := map[[2]int64][]int{}
	for k, d := range todo {
		dupOf[k] = -1
		bySize[d.size] = append(bySize[d.size], k)
	}
	for _, ks := range bySize {
		if len(ks) < 2 {
			continue
		}
		first := map[[2]string]int{}
		for _, k := range ks {
			var key [2]string
			ok := true
			for i := range key {
				r, err := todo[k].open[i]()
				if err != nil {
					ok = false
					break
				}
				h := sha256.New()
				_, err = io.Copy(h, bytecmp.ContextReader(ctx, r))
				if c, isCloser := r.(io.Closer); isCloser {
					c.Close()
				}
				if err != nil {
					ok = false
					break
				}
				key[i] = string(h.Sum(nil))
			}
			if !ok {
				continue
			}
			if f, seen := first[key]; seen {
				dupOf[k] = f
			} else {
				first[key] = k
			}
		}
	}
	return dupOf
}

// where names a diverging file as the short answer does.
func where(d divergent) string {
	return d.scope.Where(d.path)
}

func listCapped(ss []string, max int) string {
	if len(ss) > max {
		return strings.Join(ss[:max], ", ") + fmt.Sprintf(", ... (%d more)", len(ss)-max)
	}
	return strings.Join(ss, ", ")
}

// explanationOf turns the built-in comparison's result into the report's
// explanation, its details capped at *detailBytes in all (as the rendered
// text was), the rest marked truncated.
func explanationOf(r *explain.Result, detailBytes *int) report.Explanation {
	e := report.Explanation{Name: r.Name, Format: r.Format, Summary: r.Summary, Hints: r.Hints, Complete: r.Complete}
	if d := r.Details; d != "" {
		if len(d) > *detailBytes {
			n := max(*detailBytes, 0)
			for n > 0 && !utf8.RuneStart(d[n]) {
				n--
			}
			d = d[:n] + "\n... (details truncated)"
		}
		*detailBytes -= len(d)
		e.Details = d
	}
	for i := range r.Children {
		if *detailBytes <= 0 {
			e.Details += "\n... (details truncated)"
			break
		}
		e.Children = append(e.Children, explanationOf(&r.Children[i], detailBytes))
	}
	return e
}
