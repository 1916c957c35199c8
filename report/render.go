package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/isodiff/isodiff/tree"
)

// Names of the files WriteDir writes. The first eight are the ones the
// reproducibility CI step has always published; keep them stable.
const (
	FileSizes          = "sizes.txt"
	FileSHA256         = "sha256.txt"
	FileHeaderCmp      = "iso-header-cmp.txt"
	FileTOCDiff        = "toc-diff.txt"
	FileSquashfsSHA256 = "squashfs-sha256.txt"
	FileSqfsLsDiff     = "sqfs-ls-diff.txt"
	FileSqfsDiff       = "sqfs-diff.txt"
	FileChecklist      = "checklist.md"
	FileJSON           = "report.json"
	FileHTML           = "report.html"
)

// WriteDir writes every report file into dir, creating it if needed. Each
// file is written to a temporary name and renamed into place, so an
// interrupted run never leaves a half-written file under a final name.
func WriteDir(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer, *Report) error
	}{
		{FileSizes, WriteSizes},
		{FileSHA256, WriteSHA256},
		{FileHeaderCmp, WriteHeaderCmp},
		{FileTOCDiff, WriteTOCDiff},
		{FileSquashfsSHA256, WriteSquashfsSHA256},
		{FileSqfsLsDiff, WriteSqfsLsDiff},
		{FileSqfsDiff, WriteSqfsDiff},
		{FileChecklist, WriteChecklist},
		{FileJSON, WriteJSON},
		{FileHTML, WriteHTML},
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), func(w io.Writer) error { return f.write(w, r) }); err != nil {
			return fmt.Errorf("report: write %s: %w", f.name, err)
		}
	}
	return nil
}

// WriteFile writes one rendering of r (WriteHTML, WriteJSON, ...) to path
// as WriteDir writes its files: through a temporary file in the same
// directory renamed into place, so an interrupted run leaves the old file
// or the new one, and a symlink planted at path is replaced, not written
// through.
func WriteFile(path string, r *Report, render func(io.Writer, *Report) error) error {
	return writeAtomic(path, func(w io.Writer) error { return render(w, r) })
}

func writeAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteJSON writes the report as indented JSON (schema in schema.md), with
// the characters and CI runner prefixes the text renderings escape written
// as JSON escapes (jsonSafe, safe.go): it decodes to the same Report.
func WriteJSON(w io.Writer, r *Report) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return jsonSafe(w, append(js, '\n'))
}

// stageProblems renders a stage's problems as comment lines, so that every
// text file says what failed in the stage that feeds it.
func stageProblems(w io.Writer, r *Report, names ...string) {
	for _, name := range names {
		s := r.Stage(name)
		if s == nil {
			fmt.Fprintf(w, "# stage %s did not run\n", name)
			continue
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "# stage %s failed: %s\n", name, p)
		}
	}
}

// String renders a problem as "file: stage: offset N: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(inline(p.File))
	if !p.Scope.IsZero() {
		b.WriteString(" (" + inline(p.Scope.String()) + ")")
	}
	b.WriteString(": " + p.Stage)
	if p.Offset >= 0 {
		fmt.Fprintf(&b, ": offset %d", p.Offset)
	}
	b.WriteString(": " + inline(p.Message))
	return b.String()
}

// writeSizes is WriteSizes before escaping (safe.go).
func writeSizes(w io.Writer, r *Report) error {
	stageProblems(w, r, StageSizes)
	fmt.Fprintf(w, "%d %s\n%d %s\n", r.A.Size, inline(r.A.Path), r.B.Size, inline(r.B.Path))
	if r.A.Size == r.B.Size {
		fmt.Fprintln(w, "sizes: equal")
	} else {
		fmt.Fprintf(w, "sizes: differ by %+d bytes\n", r.B.Size-r.A.Size)
	}
	return nil
}

// writeSHA256 is WriteSHA256 before escaping (safe.go).
func writeSHA256(w io.Writer, r *Report) error {
	stageProblems(w, r, StageSizes)
	for _, im := range []Image{r.A, r.B} {
		if im.SHA256 != "" {
			fmt.Fprintf(w, "%s  %s\n", im.SHA256, inline(im.Path))
		}
	}
	if r.Identical {
		fmt.Fprintln(w, "# identical")
	}
	return nil
}

// writeHeaderCmp is WriteHeaderCmp before escaping (safe.go).
func writeHeaderCmp(w io.Writer, r *Report) error {
	stageProblems(w, r, StageHeader)
	s := r.Stage(StageHeader)
	if s == nil {
		return nil
	}
	if len(s.Findings) == 0 && len(s.Problems) == 0 {
		fmt.Fprintln(w, "ISO headers, system area, partition tables and El Torito: identical")
	}
	for _, f := range s.Findings {
		writeFieldFinding(w, f)
	}
	writeTexts(w, s.Texts, "")
	return nil
}

func writeFieldFinding(w io.Writer, f Finding) {
	fmt.Fprintf(w, "%s: %s\n", inline(f.Path), f.Kind)
	for _, c := range f.Fields {
		fmt.Fprintf(w, "  %s\n", changeString(c))
	}
	if f.Content != nil {
		fmt.Fprintf(w, "  %s\n", f.Content)
	}
	writeExplanation(w, f.explanation().Text())
}

// writeExplanation writes an explanation's lines indented, each excerpted
// when long.
func writeExplanation(w io.Writer, explanation string) {
	if explanation == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(explanation, "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", excerpt(line, maxInlineBytes))
	}
}

func writeTexts(w io.Writer, texts []Text, name string) {
	for _, t := range texts {
		if name != "" && t.Name != name {
			continue
		}
		if !t.Scope.IsZero() {
			fmt.Fprintf(w, "### %s %s\n", t.Name, inline(t.Scope.String()))
		} else if name == "" {
			fmt.Fprintf(w, "### %s\n", t.Name)
		}
		io.WriteString(w, t.Body)
		if !strings.HasSuffix(t.Body, "\n") && t.Body != "" {
			io.WriteString(w, "\n")
		}
	}
}

// writeTOCDiff is WriteTOCDiff before escaping (safe.go).
func writeTOCDiff(w io.Writer, r *Report) error {
	stageProblems(w, r, StageTOC)
	if s := r.Stage(StageTOC); s != nil {
		writeTexts(w, s.Texts, "toc-diff")
	}
	return nil
}

// writeSquashfsSHA256 is WriteSquashfsSHA256 before escaping (safe.go).
func writeSquashfsSHA256(w io.Writer, r *Report) error {
	stageProblems(w, r, StageSquashfs)
	switch {
	case r.Identical:
		fmt.Fprintln(w, "# the images are identical (same size and SHA-256): so is every squashfs image inside them")
	case len(r.Containers) == 0:
		fmt.Fprintln(w, "# no squashfs image found in either ISO")
	}
	for _, c := range r.Containers {
		for _, side := range []struct {
			label string
			at    *ContainerAt
			iso   string
		}{{"a", c.A, r.A.Path}, {"b", c.B, r.B.Path}} {
			if side.at == nil {
				fmt.Fprintf(w, "# %s: %s not present\n", inline(side.iso), inline(c.Path))
				continue
			}
			sum := side.at.SHA256
			if sum == "" {
				sum = strings.Repeat("?", 64)
			}
			fmt.Fprintf(w, "%s  %s:%s\n", sum, inline(side.iso), inline(c.Path))
		}
		// Its superblock and compressor options, field by field: the text
		// files say what the summary says.
		if s := r.Stage(StageSquashfs); s != nil {
			for _, f := range s.Findings {
				if p, ok := f.Scope.InContainer(); ok && p == c.Path && f.Kind == KindHeader && !strings.HasSuffix(f.Path, " image)") {
					fmt.Fprintf(w, "# %s %s: %s\n", inline(c.Path), inline(f.Path), Describe(f))
				}
			}
		}
	}
	return nil
}

// writeSqfsLsDiff is WriteSqfsLsDiff before escaping (safe.go).
func writeSqfsLsDiff(w io.Writer, r *Report) error {
	stageProblems(w, r, StageSquashfs)
	if s := r.Stage(StageSquashfs); s != nil {
		writeTexts(w, s.Texts, "sqfs-ls-diff")
	}
	return nil
}

// writeSqfsDiff is WriteSqfsDiff before escaping (safe.go).
func writeSqfsDiff(w io.Writer, r *Report) error {
	stageProblems(w, r, StageContent)
	ex := r.Stage(StageExplain)
	if ex != nil {
		stageProblems(w, r, StageExplain)
		defer func() {
			for _, n := range ex.Notes {
				fmt.Fprintf(w, "# explain: %s\n", inline(n))
			}
			writeTexts(w, ex.Texts, "")
		}()
	}
	s := r.Stage(StageContent)
	if s == nil {
		return nil
	}
	if len(s.Findings) == 0 && len(s.Problems) == 0 {
		fmt.Fprintln(w, "no file present in both images differs in content")
	}
	for _, f := range s.Findings {
		fmt.Fprintf(w, "%s %s: %s\n", inline(f.Scope.String()), inline(f.Path), f.Content)
		if f.Container {
			fmt.Fprintln(w, "  (a compared container: its inner differences are listed under its own scope)")
		}
		writeExplanation(w, f.explanation().Text())
		if hint := f.explanation().Hint(); hint != "" {
			fmt.Fprintf(w, "  hint: %s\n", inline(hint))
		}
	}
	writeTexts(w, s.Texts, "")
	return nil
}

// String renders a content difference in one line.
func (c *ContentDiff) String() string {
	if c == nil {
		return ""
	}
	if c.SizeA == c.SizeB {
		return fmt.Sprintf("content differs (same size %d), first difference at byte %d", c.SizeA, c.FirstDiff)
	}
	return fmt.Sprintf("content differs (size %d -> %d), first difference at byte %d", c.SizeA, c.SizeB, c.FirstDiff)
}

// writeChecklist is WriteChecklist before escaping (safe.go). Every
// image-derived value is Markdown-escaped: names, paths and hints in code
// spans (codeSpan), the rest as escaped text (mdText), and no line is long
// enough for safeWriter to cut it inside a code span (mdLineBudget).
func writeChecklist(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "# isodiff checklist\n\n- A: %s (%d bytes)\n- B: %s (%d bytes)\n\n", codeSpan(r.A.Path), r.A.Size, codeSpan(r.B.Path), r.B.Size)
	if r.Identical {
		fmt.Fprintln(w, "**Identical**: same size and SHA-256. Nothing else to check.")
		return nil
	}
	fmt.Fprintln(w, "| stage | status | findings | notes |\n|---|---|---|---|")
	for _, s := range r.Stages {
		box := "[x]"
		if s.Status == StatusFailed {
			box = "[ ] **failed**"
		}
		var notes []string
		for _, n := range s.Notes {
			notes = append(notes, inline(n))
		}
		for _, p := range s.Problems {
			notes = append(notes, p.String())
		}
		fmt.Fprintf(w, "| %s %s | %s | %d | %s |\n", box, mdText(s.Name), mdText(string(s.Status)), len(s.Findings), mdText(joinCapped(notes, "; ", mdLineBudget)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Short answer")
	fmt.Fprintln(w)
	for _, d := range r.Damage {
		for _, line := range strings.Split(damageLine(d), "\n") {
			fmt.Fprintln(w, mdText(strings.TrimSpace(line)))
			fmt.Fprintln(w)
		}
	}
	if view := r.withoutDamageFindings(); len(r.Damage) > 0 && len(answer(view)) == 0 {
		fmt.Fprintln(w, "- none besides what is said above")
	} else {
		writeShortAnswerMarkdown(w, view)
	}
	if line := ignoredLine(r); line != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, mdText(line))
	}
	groups := groupByScope(r.Findings())
	for _, g := range groups {
		fmt.Fprintf(w, "\n## %s\n\n", mdText(inline(g.scope.String())))
		for _, f := range g.findings {
			fmt.Fprintf(w, "- %s %s\n", codeSpan(f.Path), mdDescribe(f))
			if hint := f.explanation().Hint(); hint != "" {
				fmt.Fprintf(w, "  - hint: %s\n", codeSpan(hint))
			}
		}
	}
	return nil
}

// mdDescribe is Describe for checklist.md: field changes in code spans, the
// rest escaped, at most about mdLineBudget bytes.
func mdDescribe(f Finding) string {
	var parts []string
	switch f.Kind {
	case KindAdded:
		parts = append(parts, "only in B")
	case KindRemoved:
		parts = append(parts, "only in A")
	}
	for _, c := range f.Fields {
		parts = append(parts, codeSpan(changeString(c)))
	}
	if f.Content != nil {
		parts = append(parts, mdText(f.Content.String()))
	}
	if f.Container {
		parts = append(parts, "(container, see its inner differences)")
	}
	if f.derived() {
		parts = append(parts, "(follows from the other differences)")
	}
	if f.Ignored != "" {
		parts = append(parts, "(ignored: "+inline(f.Ignored)+")")
	}
	if ex := f.explanation(); ex != nil {
		parts = append(parts, "— "+mdText(inline(ex.Headline())))
	}
	return joinCapped(parts, "; ", mdLineBudget)
}

// writeShortAnswerMarkdown is writeShortAnswer for checklist.md: each
// location in a code span, what differs there escaped, the hints in code
// spans.
func writeShortAnswerMarkdown(w io.Writer, r *Report) {
	ans := answer(r)
	if len(ans) == 0 {
		writeShortAnswer(w, r, "- ")
		return
	}
	for _, a := range ans {
		what := dedupe(a.what)
		for i := range what {
			what[i] = mdText(inline(what[i]))
		}
		line := "- " + codeSpan(a.where) + ": " + joinCapped(what, ", ", mdLineBudget/2)
		if len(a.hints) > 0 {
			hints := dedupe(a.hints)
			for i := range hints {
				hints[i] = codeSpan(hints[i])
			}
			line += " \\[" + joinCapped(hints, ", ", mdLineBudget/4) + "\\]"
		}
		fmt.Fprintln(w, line)
	}
}

type scopeGroup struct {
	scope    Scope
	findings []Finding
}

func groupByScope(fs []Finding) []scopeGroup {
	index := map[Scope]int{}
	var groups []scopeGroup
	for _, f := range fs {
		i, ok := index[f.Scope]
		if !ok {
			i = len(groups)
			index[f.Scope] = i
			groups = append(groups, scopeGroup{scope: f.Scope})
		}
		groups[i].findings = append(groups[i].findings, f)
	}
	return groups
}

// Describe says in one line what differs in a finding.
func Describe(f Finding) string {
	var parts []string
	switch f.Kind {
	case KindAdded:
		parts = append(parts, "only in B")
	case KindRemoved:
		parts = append(parts, "only in A")
	}
	if len(f.Fields) > 0 {
		var fs []string
		for _, c := range f.Fields {
			fs = append(fs, changeString(c))
		}
		parts = append(parts, strings.Join(fs, ", "))
	}
	if f.Content != nil {
		parts = append(parts, f.Content.String())
	}
	if f.Container {
		parts = append(parts, "(container, see its inner differences)")
	}
	if f.derived() {
		parts = append(parts, "(follows from the other differences)")
	}
	if ex := f.explanation(); ex != nil {
		parts = append(parts, "— "+inline(ex.Headline()))
	}
	return strings.Join(parts, "; ")
}

// shortAnswer is one diverging path and what differs there.
type shortAnswer struct {
	rank  int
	scope Scope
	path  string
	where string
	what  []string
	hints []string
	owner *Owner
}

// answer merges the findings by location: the short answer names each
// diverging path once, with everything that differs there.
func answer(r *Report) []shortAnswer {
	index := map[string]int{}
	var out []shortAnswer
	all := r.Findings()
	onlyDerived := true
	for _, f := range all {
		if !f.Container && !f.derived() {
			onlyDerived = false
		}
	}
	// A directory only in one image stands for everything below it: its
	// entries are counted on its line, not listed (the files list them).
	type dirKey struct {
		scope Scope
		path  string
		kind  Kind
	}
	var openDir *dirKey
	below := map[string]int{} // where of the directory -> entries below
	var dirWhere string
	for _, f := range all {
		if f.Container || (f.derived() && !onlyDerived) {
			continue // explained by other findings
		}
		if f.Ignored != "" {
			continue // counted on a line of its own
		}
		if openDir != nil && f.Scope == openDir.scope && f.Kind == openDir.kind && strings.HasPrefix(f.Path, strings.TrimSuffix(openDir.path, "/")+"/") {
			below[dirWhere]++
			continue
		}
		openDir = nil
		where := f.Scope.Where(f.Path)
		if f.Scope == ISOHeader {
			where = "[" + f.Path + "]"
		}
		i, ok := index[where]
		if !ok {
			i = len(out)
			index[where] = i
			out = append(out, shortAnswer{where: where, rank: scopeRank(f.Scope), scope: f.Scope, path: f.Path})
		}
		a := &out[i]
		if (f.Kind == KindAdded || f.Kind == KindRemoved) && f.Type == "d" {
			openDir, dirWhere = &dirKey{f.Scope, f.Path, f.Kind}, where
		}
		switch f.Kind {
		case KindAdded:
			a.what = append(a.what, "only in B")
		case KindRemoved:
			a.what = append(a.what, "only in A")
		case KindContent:
			if ex := f.explanation(); ex != nil {
				a.what = append(a.what, "content: "+ex.Headline())
			} else {
				a.what = append(a.what, "content")
			}
		default:
			for _, c := range f.Fields {
				a.what = append(a.what, shortChange(c))
			}
			if f.Content != nil && len(f.Content.Ranges) > 0 {
				a.what = append(a.what, fmt.Sprintf("%d differing byte range(s) from byte %d", len(f.Content.Ranges), f.Content.FirstDiff))
			}
		}
		if f.Owner != nil {
			a.what = append(a.what, f.Owner.String())
			a.owner = f.Owner
		}
		if ex := f.explanation(); ex != nil {
			a.hints = append(a.hints, ex.Hints...)
		}
	}
	for i := range out {
		if n := below[out[i].where]; n > 0 {
			out[i].what = append(out[i].what, fmt.Sprintf("with %d entries below", n))
		}
	}
	// Outside in: the ISO's headers, its tree, then each squashfs tree, each
	// in walk order.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.scope != b.scope {
			return a.scope.String() < b.scope.String()
		}
		if a.rank == 0 {
			return false // headers keep the stage's order
		}
		return tree.Compare(a.path, b.path) < 0
	})
	return foldByPackage(foldTimeNoise(out))
}

// packageGroupMin is how many diverging files of one package (and one
// verdict) are said as one line.
const packageGroupMin = 5

// foldByPackage says the diverging files of one package that differ for
// one reason as one line: a snapshot that moved three packages reads as
// three lines however many files they hold.
func foldByPackage(out []shortAnswer) []shortAnswer {
	key := func(a shortAnswer) string {
		if a.owner == nil || a.owner.Package == "" {
			return ""
		}
		o := a.owner
		return a.scope.String() + "\x00" + o.Package + "\x00" + o.VersionA + "\x00" + o.VersionB + "\x00" + o.Verdict
	}
	count := map[string]int{}
	for _, a := range out {
		if k := key(a); k != "" {
			count[k]++
		}
	}
	folded := out[:0:0]
	done := map[string]bool{}
	for _, a := range out {
		k := key(a)
		if k == "" || count[k] < packageGroupMin {
			folded = append(folded, a)
			continue
		}
		if done[k] {
			continue
		}
		done[k] = true
		inner, _ := a.scope.InContainer()
		example := a.path
		if len(a.what) > 0 {
			example += ": " + a.what[0]
		}
		folded = append(folded, shortAnswer{rank: a.rank, scope: a.scope, path: a.path,
			where: fmt.Sprintf("%s > %d files of %s", inner, count[k], "package "+a.owner.Package),
			what:  []string{a.owner.String(), "e.g. " + example},
			hints: a.hints, owner: a.owner})
	}
	return folded
}

// timeNoiseMin is how many entries of one tree must differ only in their
// modification time before they are said as one line.
const timeNoiseMin = 5

// foldTimeNoise says the entries of one tree that differ only in their
// modification time (thousands, when a build does not clamp file times)
// as one line with their count, an example and where they are listed.
func foldTimeNoise(out []shortAnswer) []shortAnswer {
	onlyMtime := func(a shortAnswer) bool {
		if len(a.what) == 0 || len(a.hints) > 0 {
			return false
		}
		for _, w := range a.what {
			if !strings.HasPrefix(w, "mtime ") {
				return false
			}
		}
		return true
	}
	count := map[Scope]int{}
	for _, a := range out {
		if a.rank > 0 && onlyMtime(a) {
			count[a.scope]++
		}
	}
	folded := out[:0:0]
	done := map[Scope]bool{}
	for _, a := range out {
		n := count[a.scope]
		if a.rank == 0 || n < timeNoiseMin || !onlyMtime(a) {
			folded = append(folded, a)
			continue
		}
		if done[a.scope] {
			continue
		}
		done[a.scope] = true
		where, list := fmt.Sprintf("%d entries of the ISO tree", n), FileTOCDiff
		if inner, ok := a.scope.InContainer(); ok {
			where, list = fmt.Sprintf("%s > %d entries", inner, n), FileSqfsLsDiff
		}
		folded = append(folded, shortAnswer{rank: a.rank, scope: a.scope, path: a.path, where: where,
			what: []string{fmt.Sprintf("differ only in their modification time (e.g. %s: %s); listed in %s",
				a.path, a.what[0], list)},
			hints: []string{HintFileTimes}})
	}
	return folded
}

// shortAnswerMax is about how many lines the short answer of the summary
// and of report.html holds, whatever the size of the divergence: past it,
// the rest is counted per tree (checklist.md and report.json list all).
const shortAnswerMax = 40

// capAnswer keeps the first locations and says the rest as one line per
// tree, with their count.
func capAnswer(ans []shortAnswer) []shortAnswer {
	if len(ans) <= shortAnswerMax {
		return ans
	}
	keep := shortAnswerMax - 5
	var order []Scope
	rest := map[Scope]int{}
	for _, a := range ans[keep:] {
		if rest[a.scope] == 0 {
			order = append(order, a.scope)
		}
		rest[a.scope]++
	}
	out := slices.Clone(ans[:keep])
	for _, sc := range order {
		where := "the ISO's tree"
		if inner, ok := sc.InContainer(); ok {
			where = inner
		} else if sc == ISOHeader {
			where = "the ISO's headers"
		}
		out = append(out, shortAnswer{scope: sc, where: where,
			what: []string{fmt.Sprintf("%d more diverging location(s), listed in %s and %s", rest[sc], FileChecklist, FileJSON)}})
	}
	return out
}

func scopeRank(scope Scope) int {
	switch scope.Kind {
	case ScopeHeader:
		return 0
	case ScopeISO:
		return 1
	}
	return 2
}

func writeShortAnswer(w io.Writer, r *Report, bullet string) {
	ans := capAnswer(answer(r))
	if len(ans) == 0 {
		if r.Failed() {
			fmt.Fprintf(w, "%sno difference found, but the analysis is incomplete (see the failed stages)\n", bullet)
		} else {
			fmt.Fprintf(w, "%sthe images differ, but no stage could name a difference\n", bullet)
		}
		return
	}
	for _, a := range ans {
		line := bullet + inline(a.where) + ": " + strings.Join(inlineAll(dedupe(a.what)), ", ")
		if len(a.hints) > 0 {
			line += " [" + strings.Join(inlineAll(dedupe(a.hints)), ", ") + "]"
		}
		fmt.Fprintln(w, line)
	}
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// writeSummary is WriteSummary before escaping (safe.go).
func writeSummary(w io.Writer, r *Report) error {
	if r.Identical {
		_, err := fmt.Fprintf(w, "identical: %s and %s (%d bytes, sha256 %s)\n", inline(r.A.Path), inline(r.B.Path), r.A.Size, r.A.SHA256)
		return err
	}
	fmt.Fprintf(w, "A: %s  %d bytes  sha256 %s\n", inline(r.A.Path), r.A.Size, orUnknown(r.A.SHA256))
	fmt.Fprintf(w, "B: %s  %d bytes  sha256 %s\n\n", inline(r.B.Path), r.B.Size, orUnknown(r.B.SHA256))
	fmt.Fprintln(w, "stages:")
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-9s %-8s %3d finding(s)  %s\n", s.Name, s.Status, len(s.Findings), formatSeconds(time.Duration(s.Elapsed))+"s")
		for _, p := range s.Problems {
			fmt.Fprintf(w, "            problem: %s\n", p)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "            note: %s\n", inline(n))
		}
	}
	fmt.Fprintln(w)
	// The damage comes first: it explains what follows, and the findings
	// that only follow from it are left out of the locations.
	for _, d := range r.Damage {
		fmt.Fprintln(w, damageLine(d))
	}
	view := r.withoutDamageFindings()
	ans := answer(view)
	fmt.Fprintf(w, "%d diverging location(s):\n", len(ans))
	if len(ans) > 0 || len(r.Damage) == 0 {
		writeShortAnswer(w, view, "  ")
	} else {
		fmt.Fprintln(w, "  none besides what is said above")
	}
	if line := ignoredLine(r); line != "" {
		fmt.Fprintln(w, line)
	}
	if r.Failed() {
		fmt.Fprintln(w, "\nthe analysis is incomplete: see the failed stages above")
	}
	return nil
}

// ignoredLine counts the differences ignore rules matched, by rule: they
// are left out of the short answer, never dropped.
func ignoredLine(r *Report) string {
	counts := map[string]int{}
	var rules []string
	for _, f := range r.Findings() {
		if f.Ignored == "" {
			continue
		}
		if counts[f.Ignored] == 0 {
			rules = append(rules, f.Ignored)
		}
		counts[f.Ignored]++
	}
	if len(rules) == 0 {
		return ""
	}
	parts := make([]string, len(rules))
	total := 0
	for i, rule := range rules {
		parts[i] = fmt.Sprintf("%s %d", inline(rule), counts[rule])
		total += counts[rule]
	}
	return fmt.Sprintf("%d difference(s) ignored by the ignore rules (%s): listed in the report files, not above", total, strings.Join(parts, ", "))
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}
