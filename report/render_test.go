package report

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/field"
)

func TestShortAnswerFoldsAddedDirectories(t *testing.T) {
	r := &Report{Stages: []*Stage{{Name: StageSquashfs, Findings: []Finding{
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/new", Kind: KindAdded, Type: "d"},
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/new/a", Kind: KindAdded, Type: "-"},
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/new/sub", Kind: KindAdded, Type: "d"},
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/new/sub/b", Kind: KindAdded, Type: "-"},
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/newer", Kind: KindAdded, Type: "-"},
		{Scope: ContainerScope("squashfs", "/s"), Path: "/etc/old", Kind: KindRemoved, Type: "-"},
	}}}}
	var b bytes.Buffer
	writeShortAnswer(&b, r, "")
	want := "/s > /etc/new: only in B, with 3 entries below\n/s > /etc/newer: only in B\n/s > /etc/old: only in A\n"
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// decodeCodeSpan reads the CommonMark code span at the start of s and
// returns its content and what follows it; ok is false when s does not
// start with a complete code span.
func decodeCodeSpan(s string) (content, rest string, ok bool) {
	n := len(s) - len(strings.TrimLeft(s, "`"))
	if n == 0 {
		return "", s, false
	}
	fence := s[:n]
	for i := n; i < len(s); {
		j := strings.Index(s[i:], fence)
		if j < 0 {
			return "", s, false
		}
		at := i + j
		end := at + n
		if (at > 0 && s[at-1] == '`') || (end < len(s) && s[end] == '`') {
			// part of a longer run: not the closing fence
			i = end + len(s[end:]) - len(strings.TrimLeft(s[end:], "`"))
			continue
		}
		c := s[n:at]
		if len(c) >= 2 && c[0] == ' ' && c[len(c)-1] == ' ' && strings.Trim(c, " ") != "" {
			c = c[1 : len(c)-1]
		}
		return c, s[end:], true
	}
	return "", s, false
}

// TestCodeSpan: every name, backticks and spaces included, comes back
// whole from its code span (CommonMark's rules).
func TestCodeSpan(t *testing.T) {
	names := append([]string{"plain", "a`b``c", "`", "``x``", " lead", "trail ", " both ", "` both `", "x```"}, hostileNames...)
	for _, name := range names {
		span := codeSpan(name)
		got, rest, ok := decodeCodeSpan(span)
		if !ok || rest != "" || got != inline(name) {
			t.Errorf("%q: code span %q reads back as %q (rest %q, ok %v)", name, span, got, rest, ok)
		}
	}
	if got := codeSpan("build_id_differences_only"); got != "`build_id_differences_only`" {
		t.Errorf("a plain name is padded or fenced: %q", got)
	}
}

// autolink finds what GFM's extended autolinks need literally in the source.
var autolink = regexp.MustCompile(`(?i)(^|[^\\]):/|www\.|[^` + "`" + `]@`)

// TestMdText: escaped text reads back as the value, and nothing in it is
// left for Markdown to act on.
func TestMdText(t *testing.T) {
	for _, name := range hostileNames {
		out := mdText(name)
		var back strings.Builder
		for i := 0; i < len(out); i++ {
			c := out[i]
			if c == '\\' && i+1 < len(out) && strings.IndexByte("\\`*_[]<&|~$#:.", out[i+1]) >= 0 {
				i++
				back.WriteByte(out[i])
				continue
			}
			if strings.HasPrefix(out[i:], "`@`") {
				i += 2
				back.WriteByte('@')
				continue
			}
			if strings.IndexByte("`*_[]<&|~$#@", c) >= 0 {
				t.Errorf("%q: %q left unescaped in %q", name, c, out)
			}
			back.WriteByte(c)
		}
		if back.String() != OneLine(name) {
			t.Errorf("%q: reads back as %q", name, back.String())
		}
		if autolink.MatchString(out) || strings.Contains(out, "\n") {
			t.Errorf("%q: an autolink or a line break is left in %q", name, out)
		}
	}
}

// TestChecklistMarkdown: in checklist.md every hostile path is one whole
// code span, and (with cmark-gfm installed) GitHub's Markdown makes no link,
// image, HTML, emphasis, heading or list of any image-derived text.
func TestChecklistMarkdown(t *testing.T) {
	r := hostileReport(hostileNames...)
	var b bytes.Buffer
	if err := WriteChecklist(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	spans := 0
	for _, line := range strings.Split(md, "\n") {
		rest, found := strings.CutPrefix(line, "- ")
		if !found || !strings.HasPrefix(rest, "`") {
			continue
		}
		content, _, ok := decodeCodeSpan(rest)
		if !ok {
			t.Errorf("a list item opens a code span it does not close: %q", line)
			continue
		}
		for _, name := range hostileNames {
			if content == SafeText(inline("/c/"+name)) {
				spans++
			}
		}
	}
	if spans != 2*len(hostileNames) { // in the short answer and under its scope
		t.Errorf("%d of %d content paths are whole code spans:\n%s", spans, 2*len(hostileNames), md)
	}

	cmark, err := exec.LookPath("cmark-gfm")
	if err != nil {
		t.Skip("cmark-gfm not installed: the rendering check is skipped")
	}
	cmd := exec.Command(cmark, "--unsafe", "-e", "table", "-e", "autolink", "-e", "strikethrough", "-e", "tasklist")
	cmd.Stdin = strings.NewReader(md)
	html, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	h := string(html)
	for _, bad := range []string{"<a ", "<img", "<em>", "<del>", "<script", "<h3", "<ol", "<blockquote", "<hr", "<pre", "<input"} {
		if strings.Contains(h, bad) {
			t.Errorf("checklist.md renders %s:\n%s", bad, h)
		}
	}
	if got, want := strings.Count(h, "<h2>"), 2+len(r.Findings())/2; got > want {
		t.Errorf("%d headings of level 2, at most %d expected", got, want)
	}
	if got := strings.Count(h, "<tr>"); got != 1+len(r.Stages) {
		t.Errorf("the stage table has %d rows, want %d", got, 1+len(r.Stages))
	}
	if got := strings.Count(h, "<strong>"); got != len(r.Stages) {
		t.Errorf("%d bold spans, want %d (one per failed stage)", got, len(r.Stages))
	}
}

// TestChecklistLinesNotCut: a finding with many long field values makes a
// long checklist.md line; it is shortened where Markdown allows (between
// code spans), never cut by the line bound inside a code span.
func TestChecklistLinesNotCut(t *testing.T) {
	f := Finding{Scope: ContainerScope("squashfs", "/s"), Path: "/f", Kind: KindChanged, Type: "-"}
	for i := range 300 {
		f.Fields = append(f.Fields, field.Change{Name: fmt.Sprintf("xattr user.%d", i), A: strings.Repeat("<a>`", 250), B: "x"})
	}
	r := &Report{Stages: []*Stage{{Name: StageSquashfs, Status: StatusDiffers, Findings: []Finding{f}}}}
	var b bytes.Buffer
	if err := WriteChecklist(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "line cut") {
		t.Fatalf("a checklist.md line was cut")
	}
	for _, line := range strings.Split(b.String(), "\n") {
		rest, ok := strings.CutPrefix(line, "- `/f` ")
		if !ok {
			continue
		}
		if !strings.HasSuffix(line, "more)") {
			t.Errorf("the long line does not say what it left out: ...%s", line[max(0, len(line)-100):])
		}
		for strings.HasPrefix(rest, "`") {
			_, after, ok := decodeCodeSpan(rest)
			if !ok {
				t.Fatalf("a code span is not closed: %.200s", rest)
			}
			rest = strings.TrimPrefix(after, "; ")
		}
	}
}

// testExplanation is a finding's own explanation made of a text (its first
// line the summary) and a hint.
func testExplanation(text, hint string) *Explanation {
	summary, details, _ := strings.Cut(text, "\n")
	e := &Explanation{Summary: summary, Details: details}
	if hint != "" {
		e.Hints = []string{hint}
	}
	return e
}
