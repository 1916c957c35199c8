package report_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

var anyTag = regexp.MustCompile(`<[^>]*>`)

// textOfAll returns the text of each element of dom that starts with open
// (up to the next close), tags removed and entities decoded.
func textOfAll(dom, open, close string) []string {
	var out []string
	for _, part := range strings.Split(dom, open)[1:] {
		body, _, _ := strings.Cut(part, close)
		out = append(out, html.UnescapeString(anyTag.ReplaceAllString(body, "")))
	}
	return out
}

// TestHTMLChromiumDemo compares the demo pair, writes its report files and
// has headless Chromium render report.html: the DOM Chromium builds holds
// the verdict, the summary's short answer line for line and in order, the
// stage table, the diffs in <details> and no script; the screenshot is a
// 1280x2000 PNG with the page's colours (the inline style applied under the
// Content-Security-Policy).
func TestHTMLChromiumDemo(t *testing.T) {
	rep, err := isodiff.Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso", isodiff.Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := report.WriteDir(dir, rep); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, report.FileHTML)
	dom := string(report.Chromium(t, page, "--dump-dom"))

	// The summary's short answer, line for line, in order.
	var sum bytes.Buffer
	if err := report.WriteSummary(&sum, rep); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\n(\d+) diverging location\(s\):\n`).FindStringSubmatchIndex(sum.String())
	if m == nil {
		t.Fatalf("no short answer in the summary:\n%s", sum.String())
	}
	count, after := sum.String()[m[2]:m[3]], sum.String()[m[1]:]
	var want []string
	for _, line := range strings.Split(after, "\n") {
		if line, ok := strings.CutPrefix(line, "  "); ok {
			want = append(want, line)
		}
	}
	var got []string
	for _, ol := range textOfAll(dom, `<ol class="answer"`, "</ol>") {
		_, items, _ := strings.Cut(ol, ">") // the rest of the <ol> tag
		for _, li := range strings.Split(strings.TrimSpace(items), "\n") {
			got = append(got, strings.TrimSpace(li))
		}
	}
	if len(want) < 10 || count != fmt.Sprint(len(want)) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page's short answer:\n%s\nthe summary's (%s locations):\n%s", strings.Join(got, "\n"), count, strings.Join(want, "\n"))
	}
	for _, w := range []string{"[mbr]: disk_signature", "/.disk/info: content", "/live/filesystem.squashfs > /usr/lib/demo/libdemo.so: content"} {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("the short answer lacks %q", w)
		}
	}

	// The verdict and the images.
	for _, w := range []string{count + " diverging locations", ">different<", "exit status 1: the images differ", "testdata/demo/a.iso",
		rep.A.SHA256, rep.B.SHA256, "325632 bytes (318 KiB)"} {
		if !strings.Contains(dom, w) {
			t.Errorf("the DOM lacks %q", w)
		}
	}

	// The checklist: one row per stage, in order, with its status.
	tables := strings.Split(dom, `<table class="stages">`)
	if len(tables) != 2 {
		t.Fatalf("%d stage tables", len(tables)-1)
	}
	rows := textOfAll(strings.ReplaceAll(strings.Split(tables[1], "</table>")[0], "</td>", " | "), "<tr>", "</tr>")
	if len(rows) != 1+len(rep.Stages) {
		t.Fatalf("the stage table has %d rows, want %d", len(rows), 1+len(rep.Stages))
	}
	for i, s := range rep.Stages {
		prefix := fmt.Sprintf("%s | %s | %d | ", s.Name, s.Status, len(s.Findings))
		if row := strings.Join(strings.Fields(rows[i+1]), " "); !strings.HasPrefix(row, prefix) || (len(s.Notes) > 0 && !strings.Contains(row, s.Notes[0])) {
			t.Errorf("row %d is %q, want %q and the stage's notes", i+1, row, prefix)
		}
	}

	// The diffs, each in its <details>, closed; no script anywhere.
	texts := 0
	for _, s := range rep.Stages {
		texts += len(s.Texts)
	}
	if n := strings.Count(dom, `<details class="text">`); n != texts || texts == 0 {
		t.Errorf("%d diffs in <details>, want %d", n, texts)
	}
	if !strings.Contains(dom, "<summary>toc: toc-diff") || !strings.Contains(dom, `<span class="add">+-r--r--r-- 1 0/0     2048 2024-03-01 13:00:00 /isolinux/boot.cat</span>`) {
		t.Errorf("the toc diff is missing:\n%.3000s", dom[strings.Index(dom, `id="diffs"`):])
	}
	if strings.Contains(strings.ToLower(dom), "<script") {
		t.Error("the DOM holds a script element")
	}

	// The screenshot.
	shot := filepath.Join(t.TempDir(), "report.png")
	report.Chromium(t, page, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Fatalf("screenshot is %v, want 1280x2000", b)
	}
	colours := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			colours[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	if len(colours) < 50 {
		t.Errorf("the screenshot has %d colours: a blank or unstyled page", len(colours))
	}
	// The banner of a "different" verdict: its amber top border and light
	// yellow background, from the page's own <style>.
	for _, c := range []struct {
		p    image.Point
		want color.RGBA
	}{{image.Pt(640, 2), color.RGBA{0x9a, 0x67, 0x00, 0xff}}, {image.Pt(8, 40), color.RGBA{0xff, 0xf8, 0xc5, 0xff}}, {image.Pt(8, 1990), color.RGBA{0xff, 0xff, 0xff, 0xff}}} {
		if got := color.RGBAModel.Convert(img.At(c.p.X, c.p.Y)).(color.RGBA); got != c.want {
			t.Errorf("pixel %v is %v, want %v (the page's style not applied?)", c.p, got, c.want)
		}
	}
	if os.Getenv("ISODIFF_KEEP_SCREENSHOT") != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(os.Getenv("ISODIFF_KEEP_SCREENSHOT"), data, 0o644)
	}
}
