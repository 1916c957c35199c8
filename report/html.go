package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

// The HTML report (report.html, WriteHTML) is one self-contained page: no
// script, no remote style, font or image (a Content-Security-Policy meta tag
// forbids them), readable without JavaScript and printable. It shows, in
// order: the two images and the verdict, the damage, the short answer as the
// summary gives it, the stage checklist, each scope's findings and the
// stages' diff texts in <details> elements.
//
// Every image-derived string is first made what the text renderings make it
// (inline or OneLine, then SafeText: on one line, excerpted when long,
// controls, bidi and invisible characters shown as escapes, CI runner
// commands defused) and then escaped by html/template, only ever in text
// content: no image-derived value is placed in an attribute, a URL, a style
// or a tag name.
//
// Long lists and texts are folded (the first htmlFoldItems items, the rest
// in a nested <details>), and the page never exceeds htmlMaxBytes: what did
// not fit is left out, and the page says what and points to the text files.

const (
	// htmlMaxBytes bounds report.html.
	htmlMaxBytes = 16 << 20
	// htmlFoldItems is how many items of a list, or lines of a text, are
	// shown before the rest is folded.
	htmlFoldItems = 200
	// htmlReserve is kept out of the content budget for the page's own
	// markup and style.
	htmlReserve = 64 << 10
)

// htmlItemOverhead is the markup budgeted per item, on top of its escaped
// text (a variable for the test of a first rendering over the limit).
var htmlItemOverhead = 96

// WriteHTML writes the report as one self-contained HTML page of at most
// 16 MiB (report.html).
func WriteHTML(w io.Writer, r *Report) error { return writeHTML(w, r, htmlMaxBytes) }

// writeHTML renders the page within limit bytes: the content is budgeted
// from an estimate of its escaped size, and should the page still come out
// larger, it is rendered again with a budget cut in proportion (at last with
// none: the verdict and what was left out).
func writeHTML(w io.Writer, r *Report, limit int) error {
	r = r.resolved()
	budget := max(limit-htmlReserve, limit/2)
	var buf bytes.Buffer
	for try := 0; ; try++ {
		buf.Reset()
		if err := htmlPage.Execute(&buf, newHTMLView(r, budget, limit)); err != nil {
			return err
		}
		if buf.Len() <= limit || budget == 0 {
			break
		}
		if try < 3 {
			budget = int(int64(budget) * int64(limit) / int64(buf.Len()) * 9 / 10)
		} else {
			budget = 0
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlBudget is what is left of the page's content budget. Once an item
// does not fit, nothing more is taken, so what the page leaves out is the
// end of each list from that item on and everything after it.
type htmlBudget struct {
	left     int
	omitted  []string // what was left out, for the notice at the top
	stopped  bool
	limitStr string
}

// htmlCost estimates the bytes s takes once escaped by html/template (the
// characters it escapes take at most 5 bytes; NUL becomes U+FFFD).
func htmlCost(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<', '>', '&', '\'', '"', '+', 0:
			n += 4
		}
	}
	return n
}

func (b *htmlBudget) take(cost int) bool {
	if b.stopped || cost > b.left {
		b.stopped = true
		return false
	}
	b.left -= cost
	return true
}

// htmlFold is a list shown as its first htmlFoldItems items, the rest in a
// nested <details>, and the count of items left out by the size limit.
type htmlFold[T any] struct {
	Head, Rest []T
	RestStart  int // the number of Rest's first item
	Omitted    int
	// OmittedNote says what was left out, on the page where the list is.
	OmittedNote string
}

// fold converts src's items while the budget lasts; what is the name of
// the items for the notice ("locations of the short answer").
func fold[S, T any](b *htmlBudget, src []S, what string, conv func(S) (T, int)) htmlFold[T] {
	f := htmlFold[T]{RestStart: htmlFoldItems + 1}
	for i, s := range src {
		t, cost := conv(s)
		if !b.take(cost + htmlItemOverhead) {
			f.Omitted = len(src) - i
			f.OmittedNote = fmt.Sprintf("%d of %d %s left out: this page is limited to %s (the text files hold them all)", f.Omitted, len(src), what, b.limitStr)
			b.omitted = append(b.omitted, fmt.Sprintf("%d of %d %s", f.Omitted, len(src), what))
			break
		}
		if i < htmlFoldItems {
			f.Head = append(f.Head, t)
		} else {
			f.Rest = append(f.Rest, t)
		}
	}
	return f
}

// safeStr makes a string of the page's text, already on one line (inline),
// what the text renderings print at the start of a line.
func safeStr(s string) (string, int) {
	s = SafeText(s)
	return s, htmlCost(s)
}

// safeMid is SafeText for a value printed after other text on its line, as
// the summary prints what differs after a location: "::" is defused only at
// the start of a line.
func safeMid(s string) string {
	return strings.TrimPrefix(SafeText("."+s), ".")
}

type htmlView struct {
	Title        string
	Tool         string
	Started      string
	Elapsed      string
	Images       []htmlImage
	Verdict      string
	VerdictClass string
	Headline     string
	ExitMeaning  string
	Incomplete   bool
	Identical    bool
	Damage       []htmlDamage
	AnswerCount  int
	Answer       htmlFold[htmlAnswer]
	AnswerNone   string
	Stages       []htmlStage
	Scopes       []htmlScope
	FindingCount int
	Texts        []htmlText
	Omitted      []string
	Limit        string
}

type htmlImage struct {
	Label, Path, Size, SHA256 string
}

type htmlDamage struct {
	Repaired bool
	Lines    []string
}

type htmlAnswer struct {
	Where, What, Hints string
}

type htmlStage struct {
	Name, Status, Time string
	StatusClass        string // s-same, s-differs, s-failed or s-skipped
	Findings           int
	Problems, Notes    htmlFold[string]
}

type htmlScope struct {
	Name     string
	Count    int
	Findings htmlFold[htmlFinding]
}

type htmlFinding struct {
	Path, Kind, Type string
	Tags             []string
	Changes          []string
	Content          string
	Explanation      htmlFold[htmlLine]
	Hint             string
}

type htmlText struct {
	Stage, Name, Scope string
	LineCount          int
	Lines              htmlFold[htmlLine]
}

type htmlLine struct {
	Class, Text string
}

func newHTMLView(r *Report, budget, limit int) *htmlView {
	b := &htmlBudget{left: budget, limitStr: sizeString(int64(limit))}
	v := &htmlView{Identical: r.Identical, Limit: b.limitStr}
	v.Tool, _ = safeStr(inline(r.Tool))
	if !r.Started.IsZero() {
		v.Started = r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if r.Elapsed != 0 {
		v.Elapsed = formatSeconds(time.Duration(r.Elapsed)) + " s"
	}

	// The verdict, with what the exit status means.
	switch code := r.ExitCode(); {
	case r.Identical:
		v.Verdict, v.VerdictClass = "identical", "ok"
		v.ExitMeaning = "exit status 0: the images are byte-identical (same size and SHA-256)"
	case code == 1:
		v.Verdict, v.VerdictClass = "different", "differ"
		v.ExitMeaning = "exit status 1: the images differ, and every stage ran to the end"
	default:
		v.Verdict, v.VerdictClass = "trouble", "trouble"
		v.ExitMeaning = "exit status 2: trouble: a stage failed, an image is damaged or the run was stopped; what could be found is below"
	}
	v.Incomplete = r.Failed()

	// The content, in the order it matters when the page is too large:
	// the images, the damage, the stage checklist, the short answer, the
	// findings, the texts.
	for _, im := range []struct {
		label string
		im    Image
	}{{"A", r.A}, {"B", r.B}} {
		path, c := safeStr(inline(im.im.Path))
		b.take(c + htmlItemOverhead)
		v.Images = append(v.Images, htmlImage{Label: im.label, Path: path,
			Size: fmt.Sprintf("%d bytes (%s)", im.im.Size, sizeString(im.im.Size)), SHA256: orUnknown(safeMid(inline(im.im.SHA256)))})
	}
	v.Title = "isodiff: " + v.Verdict
	if r.Identical {
		v.Headline = "The images are identical"
	}
	for _, d := range r.Damage {
		hd := htmlDamage{Repaired: d.Kind == DamageRepaired}
		for _, line := range strings.Split(damageLine(d), "\n") {
			s, c := safeStr(strings.TrimSpace(line))
			if !b.take(c + htmlItemOverhead) {
				b.omitted = append(b.omitted, "damage lines")
				break
			}
			hd.Lines = append(hd.Lines, s)
		}
		v.Damage = append(v.Damage, hd)
	}
	if !r.Identical {
		for _, s := range r.Stages {
			hs := htmlStage{Name: s.Name, Status: string(s.Status), Findings: len(s.Findings),
				Time: formatSeconds(time.Duration(s.Elapsed)) + " s"}
			hs.Name, _ = safeStr(inline(s.Name))
			hs.Status, _ = safeStr(inline(string(s.Status)))
			switch s.Status {
			case StatusSame, StatusDiffers, StatusFailed, StatusSkipped:
				hs.StatusClass = "s-" + string(s.Status)
			}
			hs.Problems = fold(b, s.Problems, "problems of stage "+hs.Name, func(p Problem) (string, int) { return safeStr(p.String()) })
			hs.Notes = fold(b, s.Notes, "notes of stage "+hs.Name, func(n string) (string, int) { return safeStr(inline(n)) })
			v.Stages = append(v.Stages, hs)
		}

		// The short answer, as the summary gives it.
		view := r.withoutDamageFindings()
		ans := answer(view) // all of them, paged: the summary keeps about 40
		v.AnswerCount = len(ans)
		switch {
		case len(ans) == 0 && len(r.Damage) > 0:
			v.AnswerNone = "none besides what is said above"
		case len(ans) == 0 && view.Failed():
			v.AnswerNone = "no difference found, but the analysis is incomplete (see the failed stages)"
		case len(ans) == 0:
			v.AnswerNone = "the images differ, but no stage could name a difference"
		}
		v.Answer = fold(b, ans, "locations of the short answer", func(a shortAnswer) (htmlAnswer, int) {
			h := htmlAnswer{Where: SafeText(inline(a.where)), What: safeMid(strings.Join(inlineAll(dedupe(a.what)), ", "))}
			if len(a.hints) > 0 {
				h.Hints = safeMid("[" + strings.Join(inlineAll(dedupe(a.hints)), ", ") + "]")
			}
			return h, htmlCost(h.Where) + htmlCost(h.What) + htmlCost(h.Hints)
		})
		if len(ans) == 1 {
			v.Headline = "1 diverging location"
		} else {
			v.Headline = fmt.Sprintf("%d diverging locations", len(ans))
		}
		// A damaged image is said first, in the headline too.
		var damaged []string
		for _, d := range r.Damage {
			if d.Kind != DamageRepaired && !slices.Contains(damaged, d.Image) {
				damaged = append(damaged, d.Image)
			}
		}
		if len(damaged) > 0 {
			img, _ := safeStr(inline(strings.Join(damaged, " and ")))
			if len(damaged) == 1 {
				v.Headline = "Image " + img + " damaged; " + v.Headline
			} else {
				v.Headline = "Images " + img + " damaged; " + v.Headline
			}
		}

		// Each scope's findings.
		for _, g := range groupByScope(r.Findings()) {
			hs := htmlScope{Count: len(g.findings)}
			hs.Name, _ = safeStr(inline(g.scope.String()))
			v.FindingCount += len(g.findings)
			hs.Findings = fold(b, g.findings, "findings under "+hs.Name, func(f Finding) (htmlFinding, int) { return htmlFindingOf(b, f) })
			v.Scopes = append(v.Scopes, hs)
		}

		// The diff texts, stage by stage.
		for _, s := range r.Stages {
			for _, t := range s.Texts {
				ht := htmlText{Stage: s.Name}
				ht.Stage, _ = safeStr(inline(s.Name))
				ht.Name, _ = safeStr(inline(t.Name))
				ht.Scope, _ = safeStr(inline(t.Scope.String()))
				body := strings.TrimSuffix(t.Body, "\n")
				var lines []string
				if body != "" {
					lines = strings.Split(body, "\n")
				}
				ht.LineCount = len(lines)
				what := "lines of " + ht.Name
				if ht.Scope != "" {
					what += " " + ht.Scope
				}
				ht.Lines = fold(b, lines, what, func(l string) (htmlLine, int) {
					s, c := safeStr(l)
					return htmlLine{Class: diffClass(l), Text: s}, c
				})
				v.Texts = append(v.Texts, ht)
			}
		}
	}
	v.Omitted = b.omitted
	return v
}

// htmlFindingOf renders one finding as the checklist and sqfs-diff.txt do:
// its field changes, its content difference, its explanation line by line
// and its hint. The explanation's lines are folded like a list.
func htmlFindingOf(b *htmlBudget, f Finding) (htmlFinding, int) {
	h := htmlFinding{Kind: string(f.Kind)}
	var cost int
	h.Path, cost = safeStr(inline(f.Path))
	h.Type, _ = safeStr(inline(f.Type))
	switch f.Kind {
	case KindAdded:
		h.Tags = append(h.Tags, "only in B")
	case KindRemoved:
		h.Tags = append(h.Tags, "only in A")
	}
	if f.Container {
		h.Tags = append(h.Tags, "container: its inner differences are listed under its own scope")
	}
	if f.derived() {
		h.Tags = append(h.Tags, "follows from the other differences")
	}
	if f.FromDamage {
		h.Tags = append(h.Tags, "follows from the damage")
	}
	for _, tag := range h.Tags {
		cost += len(tag) + 32
	}
	for _, c := range f.Fields {
		s := safeMid(changeString(c))
		cost += htmlCost(s) + 16
		h.Changes = append(h.Changes, s)
	}
	if f.Content != nil {
		h.Content = f.Content.String()
		cost += len(h.Content)
	}
	ex := f.explanation()
	if hint := ex.Hint(); hint != "" {
		h.Hint = safeMid(inline(hint))
		cost += htmlCost(h.Hint)
	}
	if ex != nil {
		// A unified diff in an explanation (from its "--- " line on) is
		// coloured like the diff texts.
		lines := strings.Split(ex.Text(), "\n")
		inDiff := false
		h.Explanation = fold(b, lines, "explanation lines of "+h.Path, func(l string) (htmlLine, int) {
			inDiff = inDiff || strings.HasPrefix(l, "--- ")
			text, cost := safeStr(excerpt(l, maxInlineBytes))
			if inDiff {
				return htmlLine{Class: diffClass(l), Text: text}, cost
			}
			return htmlLine{Text: text}, cost
		})
	}
	return h, cost
}

// diffClass is the style of a line of a diff text.
func diffClass(line string) string {
	switch {
	case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"), strings.HasPrefix(line, "###"):
		return "meta"
	case strings.HasPrefix(line, "@@"):
		return "hunk"
	case strings.HasPrefix(line, "+"):
		return "add"
	case strings.HasPrefix(line, "-"):
		return "del"
	case strings.HasPrefix(line, "#"):
		return "meta"
	}
	return ""
}

// sizeString shows n bytes in the largest binary unit, one decimal.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return trimUnit(float64(n)/(1<<30), "GiB")
	case n >= 1<<20:
		return trimUnit(float64(n)/(1<<20), "MiB")
	case n >= 1<<10:
		return trimUnit(float64(n)/(1<<10), "KiB")
	}
	return fmt.Sprintf("%d bytes", n)
}

func trimUnit(x float64, unit string) string {
	s := fmt.Sprintf("%.1f", x)
	return strings.TrimSuffix(s, ".0") + " " + unit
}

var htmlPage = template.Must(template.New("report.html").Parse(htmlTemplate))

// htmlTemplate is the page. Image-derived values appear only as text
// content ({{.}} between tags), never inside a tag.
const htmlTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--mono:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;
--ok:#1a7f37;--ok-bg:#dafbe1;--differ:#9a6700;--differ-bg:#fff8c5;--bad:#cf222e;--bad-bg:#ffebe9;--add-bg:#e6ffec;--del-bg:#ffebe9;--hunk:#0550ae}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;font:14px/1.5 -apple-system,"Segoe UI","Noto Sans","DejaVu Sans",Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:0 24px 48px}
h1{font-size:26px;margin:4px 0 6px;font-weight:600}
h2{font-size:18px;font-weight:600;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;font-weight:600;margin:20px 0 8px}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
.banner{padding:22px 24px 18px;border-bottom:1px solid var(--line);margin-bottom:8px}
.banner .wrap{max-width:1132px;margin:0 auto}
.banner.ok{background:var(--ok-bg);border-top:6px solid var(--ok)}
.banner.differ{background:var(--differ-bg);border-top:6px solid var(--differ)}
.banner.trouble{background:var(--bad-bg);border-top:6px solid var(--bad)}
.kicker{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
.verdict{display:inline-block;padding:1px 10px;border-radius:12px;color:#fff;font-size:13px;font-weight:600;vertical-align:middle;margin-left:8px;text-transform:uppercase;letter-spacing:.04em}
.ok .verdict{background:var(--ok)}.differ .verdict{background:var(--differ)}.trouble .verdict{background:var(--bad)}
.exit{margin:0;color:var(--fg)}
.meta{color:var(--muted);font-size:12px;margin-top:6px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}
th{background:var(--soft);font-weight:600;font-size:12.5px;color:var(--muted)}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.images td.mono{overflow-wrap:anywhere}
.notice{border:1px solid var(--line);border-left:4px solid var(--differ);background:var(--differ-bg);padding:10px 14px;margin:14px 0;border-radius:4px}
.damage{border:1px solid #ff818266;border-left:4px solid var(--bad);background:var(--bad-bg);padding:10px 14px;margin:14px 0;border-radius:4px}
.damage.repaired{border-left-color:var(--differ);background:var(--differ-bg);border-color:var(--line)}
.damage p,.notice p,.notice li{margin:4px 0;overflow-wrap:anywhere}
ol.answer{margin:6px 0;padding-left:34px}
ol.answer li{padding:3px 0;overflow-wrap:anywhere}
.loc{font-family:var(--mono);font-size:12.5px;font-weight:600;background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:0 5px}
.hints{color:var(--hunk);font-family:var(--mono);font-size:12px}
.status{display:inline-block;min-width:64px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.s-same{background:var(--ok-bg);color:var(--ok)}.s-differs{background:var(--differ-bg);color:var(--differ)}
.s-failed{background:var(--bad-bg);color:var(--bad)}.s-skipped{background:var(--soft);color:var(--muted)}
.stages td.notes{font-size:12.5px;overflow-wrap:anywhere}
.problem{color:var(--bad)}
.notes div{margin:1px 0}
.finding{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:8px 12px}
.finding .path{font-family:var(--mono);font-weight:600;font-size:13px;word-break:break-all}
.kind{display:inline-block;font-size:11px;border:1px solid var(--line);border-radius:10px;padding:0 7px;margin-left:6px;color:var(--muted);vertical-align:1px}
.tag{display:inline-block;font-size:11px;border-radius:10px;padding:0 7px;margin-left:6px;background:var(--soft);color:var(--muted)}
.finding ul{margin:4px 0;padding-left:20px}
.finding li{font-family:var(--mono);font-size:12.5px;word-break:break-all}
.hint{margin-top:4px;font-size:12.5px}.hint code{color:var(--hunk)}
pre{margin:4px 0;padding:8px 10px;background:var(--soft);border:1px solid var(--line);border-radius:4px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
pre span{display:block}
pre .add{background:var(--add-bg)}pre .del{background:var(--del-bg)}pre .hunk{color:var(--hunk)}pre .meta{color:var(--muted);font-weight:600}
details{margin:6px 0}
details>summary{cursor:pointer;padding:4px 0}
details.text{border:1px solid var(--line);border-radius:6px;padding:4px 12px}
details.text>summary{font-weight:600}
details.more>summary{color:var(--hunk);font-size:12.5px}
.omitted{color:var(--bad);font-style:italic}
footer{color:var(--muted);font-size:12px;border-top:1px solid var(--line);margin-top:40px;padding-top:10px}
@media print{
 body{font-size:11px}
 .banner{border-bottom:2px solid #000;padding:8px 0}
 details::details-content{content-visibility:visible;display:contents}
 details>summary{list-style:none}
 .finding,tr{break-inside:avoid}
 pre{white-space:pre-wrap}
}
</style>
</head>
<body>
<header class="banner {{.VerdictClass}}"><div class="wrap">
<div class="kicker">isodiff report{{if .Tool}} · {{.Tool}}{{end}}</div>
<h1>{{.Headline}}<span class="verdict">{{.Verdict}}</span></h1>
<p class="exit">{{.ExitMeaning}}</p>
{{if .Incomplete}}<p class="exit"><strong>The analysis is incomplete:</strong> see the failed stages in the checklist below.</p>{{end}}
{{if or .Started .Elapsed}}<div class="meta">{{if .Started}}started {{.Started}}{{end}}{{if .Elapsed}} · took {{.Elapsed}}{{end}}</div>{{end}}
</div></header>
<main>
{{if .Omitted}}<div class="notice" id="left-out"><p><strong>This page is limited to {{.Limit}}, and some of the report did not fit.</strong> Left out:</p>
<ul>{{range .Omitted}}<li>{{.}}</li>{{end}}</ul>
<p>The text files written next to it (checklist.md, iso-header-cmp.txt, toc-diff.txt, sqfs-ls-diff.txt, sqfs-diff.txt, report.json) hold everything.</p></div>
{{end}}
<section id="images">
<h2>Images</h2>
<table class="images">
<thead><tr><th></th><th>path</th><th class="num">size</th><th>SHA-256</th></tr></thead>
<tbody>
{{range .Images}}<tr><th>{{.Label}}</th><td class="mono">{{.Path}}</td><td class="num">{{.Size}}</td><td class="mono">{{.SHA256}}</td></tr>
{{end}}</tbody>
</table>
</section>
{{if .Identical}}
<p>Same size and SHA-256. Nothing else to check.</p>
{{else}}
{{if .Damage}}<section id="damage">
<h2>Damage</h2>
{{range .Damage}}<div class="damage{{if .Repaired}} repaired{{end}}">{{range .Lines}}<p>{{.}}</p>{{end}}</div>
{{end}}</section>
{{end}}
<section id="short-answer">
<h2>Short answer: {{.AnswerCount}} diverging location(s)</h2>
{{if .AnswerNone}}<p>{{.AnswerNone}}</p>{{end}}
{{with .Answer}}{{if .Head}}<ol class="answer">
{{range .Head}}<li><code class="loc">{{.Where}}</code>: {{.What}}{{if .Hints}} <span class="hints">{{.Hints}}</span>{{end}}</li>
{{end}}</ol>
{{if .Rest}}<details class="more"><summary>{{len .Rest}} more locations</summary>
<ol class="answer" start="{{.RestStart}}">
{{range .Rest}}<li><code class="loc">{{.Where}}</code>: {{.What}}{{if .Hints}} <span class="hints">{{.Hints}}</span>{{end}}</li>
{{end}}</ol></details>
{{end}}{{end}}{{if .OmittedNote}}<p class="omitted">{{.OmittedNote}}</p>{{end}}{{end}}
</section>
<section id="stages">
<h2>Stages</h2>
<table class="stages">
<thead><tr><th>stage</th><th>status</th><th class="num">findings</th><th class="num">time</th><th>problems and notes</th></tr></thead>
<tbody>
{{range .Stages}}<tr><td><strong>{{.Name}}</strong></td><td><span class="status {{.StatusClass}}">{{.Status}}</span></td><td class="num">{{.Findings}}</td><td class="num">{{.Time}}</td><td class="notes">
{{with .Problems}}{{range .Head}}<div class="problem">problem: {{.}}</div>{{end}}{{if .Rest}}<details class="more"><summary>{{len .Rest}} more problems</summary>{{range .Rest}}<div class="problem">problem: {{.}}</div>{{end}}</details>{{end}}{{if .OmittedNote}}<div class="omitted">{{.OmittedNote}}</div>{{end}}{{end}}
{{with .Notes}}{{range .Head}}<div>{{.}}</div>{{end}}{{if .Rest}}<details class="more"><summary>{{len .Rest}} more notes</summary>{{range .Rest}}<div>{{.}}</div>{{end}}</details>{{end}}{{if .OmittedNote}}<div class="omitted">{{.OmittedNote}}</div>{{end}}{{end}}
</td></tr>
{{end}}</tbody>
</table>
</section>
<section id="findings">
<h2>Findings ({{.FindingCount}})</h2>
{{if not .Scopes}}<p>No stage recorded a finding.</p>{{end}}
{{range .Scopes}}<h3>{{.Name}} <span class="kind">{{.Count}} finding(s)</span></h3>
{{with .Findings}}{{range .Head}}{{template "finding" .}}{{end}}
{{if .Rest}}<details class="more"><summary>{{len .Rest}} more findings</summary>
{{range .Rest}}{{template "finding" .}}{{end}}</details>{{end}}
{{if .OmittedNote}}<p class="omitted">{{.OmittedNote}}</p>{{end}}{{end}}
{{end}}</section>
{{if .Texts}}<section id="diffs">
<h2>Listing and content diffs</h2>
{{range .Texts}}<details class="text"><summary>{{.Stage}}: {{.Name}}{{if .Scope}} {{.Scope}}{{end}} <span class="kind">{{.LineCount}} line(s)</span></summary>
{{with .Lines}}{{if .Head}}<pre>{{range .Head}}<span{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</span>{{end}}</pre>{{end}}
{{if .Rest}}<details class="more"><summary>{{len .Rest}} more lines</summary><pre>{{range .Rest}}<span{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</span>{{end}}</pre></details>{{end}}
{{if .OmittedNote}}<p class="omitted">{{.OmittedNote}}</p>{{end}}{{end}}
</details>
{{end}}</section>
{{end}}
{{end}}
<footer>Written by isodiff. Every name and text from the images is shown escaped as in the text reports (controls, bidi and invisible characters as \x.., \u.. escapes; long values excerpted with their length and SHA-256). The full report is in report.json and the text files.</footer>
</main>
</body>
</html>
{{define "finding"}}<div class="finding"><div><span class="path">{{.Path}}</span><span class="kind">{{.Kind}}{{if .Type}} {{.Type}}{{end}}</span>{{range .Tags}}<span class="tag">{{.}}</span>{{end}}</div>
{{if or .Changes .Content}}<ul>{{range .Changes}}<li>{{.}}</li>{{end}}{{if .Content}}<li>{{.Content}}</li>{{end}}</ul>{{end}}
{{with .Explanation}}{{if .Head}}<pre>{{range .Head}}<span{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</span>{{end}}</pre>{{end}}{{if .Rest}}<details class="more"><summary>{{len .Rest}} more lines</summary><pre>{{range .Rest}}<span{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</span>{{end}}</pre></details>{{end}}{{if .OmittedNote}}<p class="omitted">{{.OmittedNote}}</p>{{end}}{{end}}
{{if .Hint}}<div class="hint">hint: <code>{{.Hint}}</code></div>{{end}}</div>
{{end}}`
