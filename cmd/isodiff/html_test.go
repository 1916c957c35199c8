package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/report"
)

// TestHTMLFlag: --html FILE writes the page (the demo pair: its verdict and
// short answer), through a temporary file renamed into place; --output-dir
// writes report.html too; a FILE that cannot be written is refused before
// any work; --help names the flag.
func TestHTMLFlag(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "page.html")
	out := filepath.Join(dir, "diag")
	code, _, errs := runCLI(t, "--no-diffoscope", "--html", page, "--output-dir", out, demoA, demoB)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Content-Security-Policy", ">different<", "exit status 1",
		"/live/filesystem.squashfs &gt; /usr/lib/demo/libdemo.so</code>: content"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if fi, err := os.Stat(page); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("page mode %v, %v", fi.Mode(), err)
	}
	if inDir, err := os.ReadFile(filepath.Join(out, report.FileHTML)); err != nil || !bytes.Contains(inDir, []byte(">different<")) {
		t.Errorf("--output-dir has no report.html: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	for _, bad := range []string{"/proc/nope/x.html", dir} {
		start := time.Now()
		code, out, errs := runCLI(t, "--html", bad, demoA, demoB)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "isodiff: --html "+bad+": ") {
			t.Errorf("--html %s: exit %d, stdout %q, stderr %q", bad, code, out, errs)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("--html %s: refused after the analysis (%v)", bad, time.Since(start))
		}
	}
	if _, out, _ := runCLI(t, "--help"); !strings.Contains(out, "\n  --html FILE\n") {
		t.Errorf("--help does not name --html FILE:\n%s", out)
	}
}

// TestHTMLWrittenWhenStopped: a run stopped before its end (here: its
// context cancelled at once, as by SIGINT) still writes the page, which
// says trouble, exit 2.
func TestHTMLWrittenWhenStopped(t *testing.T) {
	page := filepath.Join(t.TempDir(), "page.html")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"--no-diffoscope", "--html", page, demoA, demoB}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errb.String())
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("no page after a stopped run: %v (%s)", err, errb.String())
	}
	for _, want := range []string{">trouble<", "exit status 2"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
