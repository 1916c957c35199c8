package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/field"
)

// htmlHostileNames are hostileNames and what aims at HTML in particular.
var htmlHostileNames = append([]string{
	"<script>alert(1)</script>",
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	"</pre></details></code><script>alert(1)</script>",
	"<!-- x --><style>body{display:none}</style>",
	"&lt;script&gt; &#60;b&#62; &amp;",
	"javascript:alert(1)",
	"\u202egnp.exe", // right-to-left override
	"::error::x",
	"nul\x00byte \xff\xfe",
	strings.Repeat("<", 64<<10), // a 64 KiB value, every byte escaped by HTML
}, hostileNames...)

// htmlTags are the elements the page is made of: any other tag in the
// output would have come from an image.
var htmlTags = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true,
	"header": true, "main": true, "section": true, "footer": true, "div": true, "h1": true, "h2": true, "h3": true,
	"p": true, "span": true, "strong": true, "code": true, "pre": true, "table": true, "thead": true, "tbody": true,
	"tr": true, "th": true, "td": true, "ol": true, "ul": true, "li": true, "details": true, "summary": true}

// htmlAttrs are the attributes the page uses, with the values they may take.
var htmlAttrs = map[string]*regexp.Regexp{
	"lang": regexp.MustCompile(`^en$`), "charset": regexp.MustCompile(`^utf-8$`),
	"http-equiv": regexp.MustCompile(`^Content-Security-Policy$`), "name": regexp.MustCompile(`^(referrer|viewport)$`),
	"content": regexp.MustCompile(`^[-a-z0-9 ;'=,.]*$`), "id": regexp.MustCompile(`^[a-z-]+$`),
	"class": regexp.MustCompile(`^[a-z -]+$`), "start": regexp.MustCompile(`^[0-9]+$`),
}

var (
	anyTagRE = regexp.MustCompile(`<[^>]*>`)
	tagRE    = regexp.MustCompile(`^<(/?)([a-z0-9]+)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>`)
	attrRE   = regexp.MustCompile(`([a-z-]+)(?:="([^"]*)")?`)
)

// htmlStructure checks page as an HTML tokenizer would see it, with the
// standard library only: every '<' opens one of the page's own tags (or the
// doctype), with only the page's attributes and values, the elements nest
// properly, and the text between them has every '&' starting an entity.
// It returns the text content, entities decoded, one string per element
// boundary.
func htmlStructure(t *testing.T, page string) []string {
	t.Helper()
	rest, ok := strings.CutPrefix(page, "<!DOCTYPE html>\n")
	if !ok {
		t.Fatalf("no doctype: %.100q", page)
	}
	var stack []string
	var texts []string
	inStyle := false
	for rest != "" {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			i = len(rest)
		}
		text := rest[:i]
		if !inStyle {
			for rest := text; ; {
				j := strings.IndexByte(rest, '&')
				if j < 0 {
					break
				}
				rest = rest[j+1:]
				if !entityOK(rest) {
					t.Fatalf("a bare or unknown entity in text: &%.20q", rest)
				}
			}
			texts = append(texts, html.UnescapeString(text))
		} else if strings.Contains(text, "</") {
			t.Errorf("style holds %q", text)
		}
		rest = rest[i:]
		if rest == "" {
			break
		}
		m := tagRE.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("a '<' that is not one of the page's tags: %.200q", rest)
		}
		closing, name, attrs := m[1] == "/", m[2], m[3]
		if !htmlTags[name] {
			t.Errorf("unexpected element <%s%s>", m[1], name)
		}
		for _, a := range attrRE.FindAllStringSubmatch(attrs, -1) {
			re, known := htmlAttrs[a[1]]
			if !known || !re.MatchString(a[2]) {
				t.Errorf("unexpected attribute %s=%q on <%s>", a[1], a[2], name)
			}
		}
		switch {
		case name == "meta":
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, name)
		}
		inStyle = name == "style" && !closing
		rest = rest[len(m[0]):]
	}
	if len(stack) != 0 {
		t.Errorf("elements left open: %v", stack)
	}
	return texts
}

// entityOK reports whether s, what follows a '&', is a character
// reference html/template writes.
func entityOK(s string) bool {
	for _, e := range []string{"lt;", "gt;", "amp;", "quot;", "apos;"} {
		if strings.HasPrefix(s, e) {
			return true
		}
	}
	digits, ok := strings.CutPrefix(s, "#")
	n := len(digits) - len(strings.TrimLeft(digits, "0123456789"))
	return ok && n > 0 && strings.HasPrefix(digits[n:], ";")
}

// textOf returns the text content of each element with the given
// opening tag, tags inside it removed and entities decoded.
func textOf(page, open, close string) []string {
	var out []string
	for _, part := range strings.Split(page, open)[1:] {
		body, _, _ := strings.Cut(part, close)
		out = append(out, html.UnescapeString(anyTagRE.ReplaceAllString(body, "")))
	}
	return out
}

// TestHTMLHostileNames: names from a crafted image in every field render
// as inert text: the page is made only of its own elements and attributes
// (no script, no image, no event handler, nothing from a name), each name
// reads back as the text renderings show it (on one line, excerpted, with
// controls and bidi characters escaped), and no line of the page is one a
// CI runner would act on.
func TestHTMLHostileNames(t *testing.T) {
	r := hostileReport(htmlHostileNames...)
	r.A.Path, r.B.Path = htmlHostileNames[0], htmlHostileNames[1]
	r.A.SHA256 = htmlHostileNames[2]
	r.Tool = htmlHostileNames[3]
	r.AddDamage(Damage{Image: "B", Path: htmlHostileNames[1], Kind: DamageTruncated, Structure: htmlHostileNames[4],
		Message: htmlHostileNames[0], Comparison: htmlHostileNames[2], CutOff: slices.Clone(htmlHostileNames)})
	r.Stage(StageContent).Findings[0].FromDamage = true
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">`) {
		t.Error("no Content-Security-Policy forbidding scripts and remote loads")
	}
	texts := htmlStructure(t, page)
	text := strings.Join(texts, "")
	for _, name := range htmlHostileNames {
		for _, want := range []string{SafeText(inline("/c/" + name)), safeMid(inline(name))} {
			if !strings.Contains(text, want) {
				t.Errorf("%.40q: the page's text lacks %.80q", name, want)
			}
		}
	}
	for _, r := range page {
		if r != '\n' && r != '\t' && escapeRune(r) != "" {
			t.Errorf("the page holds %U raw", r)
		}
	}
	for _, line := range strings.FieldsFunc(page, func(r rune) bool { return strings.ContainsRune("\n\r\v\f\u0085\u2028\u2029", r) }) {
		if cmds := ciCommands(line); len(cmds) > 0 {
			t.Errorf("a CI runner would act on %v in %.200q", cmds, line)
		}
	}
	// The 64 KiB value is excerpted, with its length and digest.
	big := htmlHostileNames[10]
	sum := sha256.Sum256([]byte("/c/" + big))
	if mark := fmt.Sprintf("... [%d bytes, sha256 %s]", len(big)+3, hex.EncodeToString(sum[:8])); !strings.Contains(text, mark) {
		t.Errorf("no excerpt %q of the 64 KiB path", mark)
	}
	if len(page) > htmlMaxBytes {
		t.Errorf("the page is %d bytes", len(page))
	}
	checkShortAnswerAsSummary(t, r, page)
}

// checkShortAnswerAsSummary: the page's short answer is the summary's,
// line for line, and comes after the damage lines.
func checkShortAnswerAsSummary(t *testing.T, r *Report, page string) {
	t.Helper()
	var sum bytes.Buffer
	if err := WriteSummary(&sum, r); err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(sum.String(), " diverging location(s):\n")
	if !ok {
		t.Fatalf("no short answer in the summary:\n%s", sum.String())
	}
	var want []string
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "  ") || strings.Contains(line, "more diverging location(s), listed in") {
			break // the summary keeps about 40 lines; the page has them all
		}
		want = append(want, strings.TrimPrefix(line, "  "))
	}
	var lines []string
	for _, ol := range strings.Split(page, `<ol class="answer"`)[1:] {
		body, _, _ := strings.Cut(ol, "</ol>")
		lines = append(lines, textOf(body, "<li>", "</li>")...)
	}
	if len(lines) > len(want) && len(want) == shortAnswerMax-5 {
		lines = lines[:len(want)]
	}
	if len(want) == 0 || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page's short answer:\n%s\nthe summary's:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if len(r.Damage) > 0 {
		if !strings.Contains(page, "<h1>Image "+r.Damage[0].Image+" damaged; ") {
			t.Errorf("the headline does not say image %s is damaged", r.Damage[0].Image)
		}
		d := strings.Index(page, `<section id="damage">`)
		a := strings.Index(page, `<section id="short-answer">`)
		if d < 0 || a < d || !strings.Contains(page[d:a], html.EscapeString(SafeText(strings.Split(damageLine(r.Damage[0]), "\n")[0]))) {
			t.Errorf("the damage lines are not said before the short answer")
		}
	}
}

// TestHTMLFolds: long lists and texts show their first htmlFoldItems items,
// the rest in a nested <details> that says how many.
func TestHTMLFolds(t *testing.T) {
	r := &Report{A: Image{Path: "a.iso", Size: 1}, B: Image{Path: "b.iso", Size: 2}}
	s := &Stage{Name: StageSquashfs, Status: StatusDiffers}
	var body strings.Builder
	for i := range 1000 {
		s.Findings = append(s.Findings, Finding{Scope: ContainerScope("squashfs", "/s"), Path: fmt.Sprintf("/f%04d", i), Kind: KindChanged, Type: "-",
			Fields: []field.Change{{Name: "mode", A: "-rw-r--r--", B: "-rwxr-xr-x"}}}) // not mtime-only: those fold into one line
		fmt.Fprintf(&body, "+line %d\n", i)
	}
	for i := range 300 {
		s.Notes = append(s.Notes, fmt.Sprintf("note %d", i))
	}
	s.Texts = []Text{{Name: "sqfs-ls-diff", Scope: ContainerScope("squashfs", "/s"), Body: body.String()}}
	r.Stages = []*Stage{s}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	htmlStructure(t, page)
	for _, want := range []string{
		"<summary>800 more locations</summary>\n<ol class=\"answer\" start=\"201\">",
		"<summary>800 more findings</summary>",
		"<summary>800 more lines</summary>",
		"<summary>100 more notes</summary>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Item 200 is the last shown, item 201 the first folded.
	fold := strings.Index(page, "<summary>800 more findings</summary>")
	if i, j := strings.Index(page, ">/f0199<"), strings.Index(page, ">/f0200<"); i < 0 || i > fold || j < fold {
		t.Errorf("findings folded at the wrong item (%d, %d, fold at %d)", i, j, fold)
	}
	if strings.Contains(page, "left out") {
		t.Error("a page far below the limit says it left something out")
	}
	checkShortAnswerAsSummary(t, r, page)
}

// TestHTMLLimit: a report larger than the limit makes a page within it
// that says what it left out and points to the text files, keeping what
// matters first (the verdict, the stages, the short answer's start).
func TestHTMLLimit(t *testing.T) {
	r := &Report{A: Image{Path: "a.iso", Size: 1}, B: Image{Path: "b.iso", Size: 2}}
	s := &Stage{Name: StageContent, Status: StatusDiffers}
	for i := range 20000 {
		// Every byte of these names is escaped as 4 or 5 bytes.
		name := fmt.Sprintf("/%05d", i) + strings.Repeat(`<"&>`, 50)
		s.Findings = append(s.Findings, Finding{Scope: ISOTree, Path: name, Kind: KindContent,
			Content: &ContentDiff{SizeA: 1, SizeB: 1}, Explanation: testExplanation(strings.Repeat("<", 400)+"\nline 2", "<hint>")})
	}
	s.Texts = []Text{{Name: "toc-diff", Body: strings.Repeat(strings.Repeat("+<>", 300)+"\n", 5000)}}
	r.Stages = []*Stage{{Name: StageSizes, Status: StatusDiffers}, s}
	for _, limit := range []int{1 << 20, 4 << 20} {
		var b bytes.Buffer
		if err := writeHTML(&b, r, limit); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		if len(page) > limit {
			t.Errorf("limit %d: the page is %d bytes", limit, len(page))
		}
		if len(page) < limit/2 {
			t.Errorf("limit %d: the page is only %d bytes", limit, len(page))
		}
		htmlStructure(t, page)
		lim := sizeString(int64(limit))
		for _, want := range []string{
			"This page is limited to " + lim,
			"of 20000 locations of the short answer left out: this page is limited to " + lim,
			"checklist.md, iso-header-cmp.txt, toc-diff.txt, sqfs-ls-diff.txt, sqfs-diff.txt, report.json",
			"<td><strong>content</strong></td>",
			"/00000" + html.EscapeString(strings.Repeat(`<"&>`, 50)),
		} {
			if !strings.Contains(page, want) {
				t.Errorf("limit %d: the page lacks %q", limit, want)
			}
		}
		if !regexp.MustCompile(`<li>\d+ of 20000 findings under iso</li>`).MatchString(page) || !strings.Contains(page, "<li>5000 of 5000 lines of toc-diff</li>") {
			t.Errorf("limit %d: the notice does not count what was left out:\n%.3000s", limit, page[strings.Index(page, `id="left-out"`):])
		}
	}
}

// TestHTMLLimitSmallItems: when the estimate misses (here: the markup of
// each item left out of it, and many small findings whose markup outweighs
// their text), the first rendering is over the limit; the page is rendered
// again with less, and ends within the limit, still mostly full.
func TestHTMLLimitSmallItems(t *testing.T) {
	defer func(n int) { htmlItemOverhead = n }(htmlItemOverhead)
	htmlItemOverhead = 0
	r := &Report{A: Image{Path: "a.iso"}, B: Image{Path: "b.iso"}}
	s := &Stage{Name: StageContent, Status: StatusDiffers}
	for i := range 20000 {
		s.Findings = append(s.Findings, Finding{Scope: ISOTree, Path: fmt.Sprint("/", i), Kind: KindContent,
			Content: &ContentDiff{}, Explanation: testExplanation("x", "h")})
	}
	r.Stages = []*Stage{s}
	const limit = 256 << 10
	v := newHTMLView(r, limit-htmlReserve, limit)
	var first bytes.Buffer
	if err := htmlPage.Execute(&first, v); err != nil {
		t.Fatal(err)
	}
	if first.Len() <= limit {
		t.Fatalf("the first rendering is within the limit (%d bytes): the case does not test the second", first.Len())
	}
	var b bytes.Buffer
	if err := writeHTML(&b, r, limit); err != nil {
		t.Fatal(err)
	}
	if b.Len() > limit || b.Len() < limit/2 || !strings.Contains(b.String(), "of 20000 findings under iso</li>") {
		t.Errorf("the page is %d bytes (limit %d)", b.Len(), limit)
	}
	htmlStructure(t, b.String())
}

// TestHTMLIdentical: identical images make a short page saying so, exit 0.
func TestHTMLIdentical(t *testing.T) {
	r := &Report{Identical: true, A: Image{Path: "a.iso", Size: 2048, SHA256: "ab"}, B: Image{Path: "b.iso", Size: 2048, SHA256: "ab"}}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	htmlStructure(t, b.String())
	for _, want := range []string{"The images are identical", "exit status 0", "Nothing else to check", "2048 bytes (2 KiB)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(b.String(), `id="stages"`) {
		t.Error("an identical pair shows the stage table")
	}
}
