package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/isodiff/isodiff/field"
)

// hostileNames are names a crafted image can carry, one per CI parser rule
// (see safe.go) and then some.
var hostileNames = []string{
	"dir\n\u00a0::error title=x::pwned",        // a line of its own, NBSP before "::"
	"x\n\u3000\u2003\t::add-mask::secret",      // other Unicode white space
	"x\r::error::carriage return",              // ReadLine splits on \r
	"x\u2028::error::line separator",           // log viewers split on U+2028
	"x\u2029::error::paragraph separator",      //
	"x\u0085::error::next line",                // NEL
	"x\v::error::vt\f::error::ff",              //
	"\u200b::error::zero width space",          // ignorable under ICU
	"\ufeff::error::byte order mark",           //
	"a##[error]b",                              // GitHub's TryParse: "##[" anywhere
	"##vso[task.setvariable variable=x]1",      // Azure: "##vso[" anywhere
	"#\u00ad#vso[task.complete result=Failed]", // soft hyphen, ignorable under ICU
	"x ##teamcity[buildStatus text='x']",       // TeamCity
	"section_start:123:name",                   // GitLab
	"y section_end:123:name\r\x1b[0K",          //
	"a`b``c",                                   // Markdown code span breakout
	"`lead and trail`",                         //
	"<img src=x onerror=alert(1)> [l](http://e.example) www.e.example u@e.example *em* _em_ ~~del~~ $x$ | cell &amp; #1",
	"evil\x1b[2J\u202e\u2066", // terminal and bidi controls
}

// ciCommands returns the CI runner commands one log line would trigger,
// emulating the runners' parsers (see safe.go) as eagerly as they can be:
// characters ICU's culture-sensitive matching may skip are dropped first.
func ciCommands(line string) []string {
	l := strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return -1
		}
		return r
	}, line)
	var found []string
	if strings.HasPrefix(strings.TrimLeftFunc(l, unicode.IsSpace), "::") {
		found = append(found, "GitHub ::command::")
	}
	for _, p := range []string{"##[", "##vso[", "##teamcity["} {
		if strings.Contains(l, p) {
			found = append(found, p)
		}
	}
	if gitlabSection.MatchString(l) {
		found = append(found, "GitLab section marker")
	}
	return found
}

// gitlabSection is GitLab's section marker without the "\r\e[0K" it needs
// after it (stricter than GitLab).
var gitlabSection = regexp.MustCompile(`section_((?:start)|(?:end)):(\d+):([a-zA-Z0-9_.-]+)`)

// hostileReport puts name everywhere a report carries image-derived text.
func hostileReport(names ...string) *Report {
	r := &Report{A: Image{Path: "a.iso"}, B: Image{Path: "b.iso"}}
	for _, stage := range []string{StageSizes, StageHeader, StageTOC, StageSquashfs, StageContent, StageExplain} {
		r.Stages = append(r.Stages, &Stage{Name: stage, Status: StatusFailed})
	}
	for _, name := range names {
		r.Containers = append(r.Containers, Container{Path: "/live/" + name, A: &ContainerAt{}})
		for _, s := range r.Stages {
			s.Problems = append(s.Problems, Problem{File: "b.iso", Stage: s.Name, Offset: 1, Message: "bad name " + name, Scope: ContainerScope("squashfs", "/live/"+name)})
			s.Notes = append(s.Notes, "note on "+name)
			s.Texts = append(s.Texts, Text{Name: map[string]string{StageTOC: "toc-diff", StageSquashfs: "sqfs-ls-diff"}[s.Name] + "x", Scope: ContainerScope("squashfs", "/"+name),
				Body: "-x /" + name + "\n" + name + "\n ::add-mask::secret\n##[group]x\n+ y ##vso[task.setvariable variable=X]1\n"})
			s.Texts = append(s.Texts, Text{Name: "toc-diff", Body: "+" + name + "\n"})
			s.Texts = append(s.Texts, Text{Name: "sqfs-ls-diff", Scope: ContainerScope("squashfs", "/"+name), Body: name})
		}
		r.Stage(StageHeader).Findings = append(r.Stage(StageHeader).Findings, Finding{Scope: ISOHeader, Path: name, Kind: KindHeader,
			Fields: []field.Change{{Name: "volume_id", A: name, B: "x"}}, Explanation: testExplanation(name, "")})
		r.Stage(StageTOC).Findings = append(r.Stage(StageTOC).Findings, Finding{Scope: ISOTree, Path: "/" + name, Kind: KindAdded, Type: "d"})
		r.Stage(StageSquashfs).Findings = append(r.Stage(StageSquashfs).Findings, Finding{Scope: ContainerScope("squashfs", "/live/"+name), Path: "/" + name, Kind: KindChanged, Type: "-",
			Fields: []field.Change{{Name: "xattr user." + name, A: name, B: "x"}, {Name: "link_target", OnlyB: true, B: name}}})
		r.Stage(StageContent).Findings = append(r.Stage(StageContent).Findings, Finding{Scope: ISOTree, Path: "/c/" + name, Kind: KindContent,
			Content: &ContentDiff{SizeA: 1, SizeB: 2}, Explanation: testExplanation("text: "+name+"\n"+name, name)})
	}
	return r
}

var renderers = map[string]func(io.Writer, *Report) error{
	"summary": WriteSummary, FileSizes: WriteSizes, FileSHA256: WriteSHA256, FileHeaderCmp: WriteHeaderCmp,
	FileTOCDiff: WriteTOCDiff, FileSquashfsSHA256: WriteSquashfsSHA256, FileSqfsLsDiff: WriteSqfsLsDiff,
	FileSqfsDiff: WriteSqfsDiff, FileChecklist: WriteChecklist, FileJSON: WriteJSON,
}

// TestHostileNames: names and texts from a crafted image cannot reach a
// terminal, a CI log or a log viewer raw in any rendering: no line a CI
// runner would take for a command, no control, bidi, invisible or
// line-breaking character but \n, and each name on one line.
func TestHostileNames(t *testing.T) {
	r := hostileReport(hostileNames...)
	for name, write := range renderers {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		for _, r := range out {
			if r != '\n' && r != '\t' && escapeRune(r) != "" {
				t.Errorf("%s: output holds %U raw", name, r)
				break
			}
		}
		// ReadLine splits on \n and \r; a viewer may split on more.
		for _, line := range strings.FieldsFunc(out, func(r rune) bool { return strings.ContainsRune("\n\r\v\f\u0085\u2028\u2029", r) }) {
			if cmds := ciCommands(line); len(cmds) > 0 {
				t.Errorf("%s: a CI runner would act on %v in %q", name, cmds, line)
			}
		}
	}
	// The short answer names each path on one line, whole. It holds about
	// 40 lines (shortAnswerMax): the names go in by eights (32 locations).
	var sum bytes.Buffer
	for i := 0; i < len(hostileNames); i += 8 {
		WriteSummary(&sum, hostileReport(hostileNames[i:min(i+8, len(hostileNames))]...))
	}
	oneLine := 0
	for _, line := range strings.Split(sum.String(), "\n") {
		if strings.HasPrefix(line, "  /c/") && strings.Contains(line, ": content: text: ") {
			oneLine++
		}
	}
	if oneLine != len(hostileNames) {
		t.Errorf("summary shows %d of %d names on one line:\n%s", oneLine, len(hostileNames), sum.String())
	}
	if want := "\n  " + `/c/dir\n` + "\u00a0::error title=x::pwned: content: text: "; !strings.Contains(sum.String(), want) {
		t.Errorf("summary lacks %q", want)
	}
	if strings.Contains(sum.String(), "\xff") {
		t.Error("invalid UTF-8 reached the summary")
	}
}

// TestJSONDefusedLosslessly: report.json holds no runner command and no
// raw character the text renderings escape, yet decodes to the very same
// Report.
func TestJSONDefusedLosslessly(t *testing.T) {
	r := hostileReport(hostileNames...)
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("report.json does not decode to the report")
	}
	for _, want := range []string{`\u0023#vso[`, `a\u0023#[error]`, `\u0073ection_start:123`, `\u2028`, `\u0085`, `\u200b`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report.json lacks %s", want)
		}
	}
}

// TestCIRules: each rule of appendSafeLine, one line at a time.
func TestCIRules(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"::error::x", `\x3a:error::x`},
		{" \t\u00a0\u3000\u2003::warning::x", " \t\u00a0\u3000\u2003" + `\x3a:warning::x`},
		{"\u0301::x", "\u0301" + `\x3a:x`}, // a combining mark after trimming
		{"\u200b::x", `\u200b::x`},         // escaped: the line starts with a backslash
		{"\u0085::x", `\x85::x`},
		{"a::b ::c", "a::b ::c"},
		{"a##[error]b", `a\x23#[error]b`},
		{"x ##vso[task.setvariable variable=x]1", `x \x23#vso[task.setvariable variable=x]1`},
		{"##teamcity[message text='x']", `\x23#teamcity[message text='x']`},
		{"## heading [x] #1 ##", "## heading [x] #1 ##"},
		{"#\u00ad#vso[x]", `#\u00ad#vso[x]`},
		{"section_start:123:name", `\x73ection_start:123:name`},
		{"a section_end:1:n", `a \x73ection_end:1:n`},
		{"a\rb\vc\fd\u2028e\u2029f", `a\x0db\x0bc\x0cd\u2028e\u2029f`},
		{"\x1b[2J\u202e\u2066\ufe0f\U000e0001\U000f0000\xff", `\x1b[2J\u202e\u2066\ufe0f\U000e0001\U000f0000\xff`},
		{"plain /usr/share/doc/ü.txt: content", "plain /usr/share/doc/ü.txt: content"},
	} {
		if got := string(appendSafeLine(nil, []byte(c.in))); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
		if cmds := ciCommands(c.want); len(cmds) > 0 {
			t.Errorf("%q: %v still acted on", c.in, cmds)
		}
	}
}

// TestOneLine: every line breaker is escaped, as the renderings show it.
func TestOneLine(t *testing.T) {
	if got, want := OneLine("a\nb\rc\vd\fe\u0085f\u2028g\u2029h"), `a\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := SafeText(OneLine("a\u2028b")); got != OneLine("a\u2028b") {
		t.Errorf("SafeText changes OneLine's escapes: %q", got)
	}
}

// TestSafeWriterPlain: ordinary text, split anywhere, passes unchanged.
func TestSafeWriterPlain(t *testing.T) {
	text := "stages:\n  sizes  differs\t1\n/usr/share/doc/ü.txt: content\n: not a command\nlast line without newline"
	var b bytes.Buffer
	sw := &safeWriter{w: &b}
	for i := 0; i < len(text); i += 7 {
		sw.Write([]byte(text[i:min(i+7, len(text))]))
	}
	if err := sw.flush(); err != nil || b.String() != text {
		t.Errorf("got %q, %v", b.String(), err)
	}
}

// TestSafeWriterLongLine: a line over maxLineBytes, written in pieces, is
// cut with its length and digest, the writer holds no more than
// maxLineBytes of it, and the next line is intact.
func TestSafeWriterLongLine(t *testing.T) {
	long := "::" + strings.Repeat("é", 150<<10) // 300 KiB + 2
	var b bytes.Buffer
	sw := &safeWriter{w: &b}
	text := long + "\nnext\n"
	for i := 0; i < len(text); i += 4093 {
		sw.Write([]byte(text[i:min(i+4093, len(text))]))
		if cap(sw.line) > 2*maxLineBytes {
			t.Fatalf("holds %d bytes of a line", cap(sw.line))
		}
	}
	if err := sw.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	sum := sha256.Sum256([]byte(long))
	wantMark := fmt.Sprintf("... [line cut: %d bytes, sha256 %s]", len(long), hex.EncodeToString(sum[:8]))
	if len(lines) != 3 || !strings.HasSuffix(lines[0], wantMark) || !strings.HasPrefix(lines[0], `\x3a:éé`) || lines[1] != "next" {
		t.Fatalf("got %d lines, first ends %q", len(lines), lines[0][max(0, len(lines[0])-80):])
	}
	if len(lines[0]) > maxLineBytes+len(wantMark) {
		t.Errorf("cut line is %d bytes", len(lines[0]))
	}
}

// TestLongValueBounded: a finding carrying a 64 KiB value (a field's
// value, a path, an explanation, a hint, a message, a note) renders as
// bounded lines in every text file, each long value as an excerpt with its
// length and digest.
func TestLongValueBounded(t *testing.T) {
	big := strings.Repeat("v", 64<<10)
	sum := sha256.Sum256([]byte(big))
	mark := fmt.Sprintf("... [%d bytes, sha256 %s]", len(big), hex.EncodeToString(sum[:8]))
	r := &Report{A: Image{Path: "a.iso"}, B: Image{Path: "b.iso"}}
	r.Stages = []*Stage{
		{Name: StageHeader, Status: StatusDiffers, Findings: []Finding{{Scope: ISOHeader, Path: "pvd", Kind: KindHeader,
			Fields: []field.Change{{Name: "application_id", A: big, B: "x"}}}}},
		{Name: StageSquashfs, Status: StatusFailed, Notes: []string{big},
			Problems: []Problem{{File: "b.iso", Stage: StageSquashfs, Offset: 1, Message: big}},
			Findings: []Finding{{Scope: ContainerScope("squashfs", "/s"), Path: "/f", Kind: KindChanged, Type: "-",
				Fields: []field.Change{{Name: "xattr user.big", A: big, B: big + "w"}}}}},
		{Name: StageContent, Status: StatusDiffers, Findings: []Finding{{Scope: ISOTree, Path: "/" + big, Kind: KindContent,
			Content: &ContentDiff{SizeA: 1, SizeB: 2}, Explanation: testExplanation(big, big)}}},
	}
	const bound = 8 << 10
	for name, write := range renderers {
		if name == FileJSON {
			continue // report.json keeps the values whole
		}
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if len(line) > bound {
				t.Errorf("%s: a line of %d bytes: %.100s...", name, len(line), line)
			}
		}
		if strings.Contains(b.String(), "v") && !strings.Contains(b.String(), mark) {
			t.Errorf("%s: no excerpt of the long value (%q):\n%.2000s", name, mark, b.String())
		}
	}
	if got := changeString(r.Stages[0].Findings[0].Fields[0]); got != `application_id: "`+big[:excerptBytes]+`"`+mark+" -> x" {
		t.Errorf("field change: %q", got)
	}
}

// FuzzSafeText: whatever the text, no line of its rendering is a CI runner
// command and no character the renderings escape is left raw.
func FuzzSafeText(f *testing.F) {
	for _, name := range hostileNames {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := SafeText(s)
		for _, r := range out {
			if r != '\n' && r != '\t' && escapeRune(r) != "" {
				t.Fatalf("%q renders %U raw: %q", s, r, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if cmds := ciCommands(line); len(cmds) > 0 {
				t.Fatalf("%q renders a line a runner acts on (%v): %q", s, cmds, line)
			}
		}
	})
}
