package iso9660_test

import (
	"context"
	"encoding/hex"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

// zisofsPair writes the files into two source trees (b's through edit),
// with one modification time, and images of them: a with xorriso's zisofs
// filter when zisofsA, b with it when zisofsB.
func zisofsPair(t *testing.T, files map[string]string, edit func(map[string]string), zisofsA, zisofsB bool) (a, b string) {
	t.Helper()
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	mt := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	build := func(name string, files map[string]string, zisofs bool) string {
		src := filepath.Join(dir, name+"-src")
		testimg.WriteFiles(t, src, files)
		for rel := range files {
			if err := os.Chtimes(filepath.Join(src, rel), mt, mt); err != nil {
				t.Fatal(err)
			}
		}
		img := filepath.Join(dir, name+".iso")
		args := []string{"-abort_on", "FAILURE", "-outdev", img, "-map", src, "/"}
		if zisofs {
			args = append(args, "-zisofs", "level=9:block_size=32k", "-set_filter_r", "--zisofs", "/", "--")
		}
		testimg.Run(t, dir, "xorriso", args...)
		return img
	}
	fb := map[string]string{}
	for k, v := range files {
		fb[k] = v
	}
	if edit != nil {
		edit(fb)
	}
	return build("a", files, zisofsA), build("b", fb, zisofsB)
}

// hexText is n bytes of hex digits: xorriso's zisofs filter compresses them
// to about half.
func hexText(seed int64, n int) string {
	b := make([]byte, (n+1)/2)
	rand.New(rand.NewSource(seed)).Read(b)
	return hex.EncodeToString(b)[:n]
}

func compareFiles(t *testing.T, a, b string) *report.Report {
	t.Helper()
	// xorriso stamps directories with the time of the build: two builds can
	// fall in different seconds.
	rep, err := isodiff.Compare(context.Background(), a, b, isodiff.Options{NoDiffoscope: true, Ignore: []string{"mtime"}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestZisofsVersusPlain: the same files zisofs-compressed in one image and
// plain in the other are no content difference and no size difference:
// the toc stage reports the filter field only, for the compressed files.
func TestZisofsVersusPlain(t *testing.T) {
	files := map[string]string{"f": hexText(1, 300000), "d/g": hexText(2, 100000), "plain": "too small to compress\n"}
	a, b := zisofsPair(t, files, nil, true, false)
	rep := compareFiles(t, a, b)
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
	for _, st := range rep.Stages {
		for _, p := range st.Problems {
			t.Errorf("%s: problem %s", st.Name, p)
		}
	}
	for _, f := range rep.Stage(report.StageContent).Findings {
		t.Errorf("content finding %s %s: %+v", f.Scope, f.Path, f.Content)
	}
	filtered := map[string]bool{}
	for _, f := range rep.Stage(report.StageTOC).Findings {
		if f.Ignored != "" {
			continue
		}
		if f.Kind != report.KindChanged || len(f.Fields) != 1 || f.Fields[0].Name != "filter" {
			t.Errorf("toc finding %s %s %v", f.Path, f.Kind, f.Fields)
			continue
		}
		if c := f.Fields[0]; c.A != "zisofs:pz:32k" || c.B != "none" {
			t.Errorf("%s: filter %q -> %q", f.Path, c.A, c.B)
		}
		filtered[f.Path] = true
	}
	if len(filtered) != 2 || !filtered["/f"] || !filtered["/d/g"] {
		t.Errorf("filter findings for %v, want /f and /d/g", filtered)
	}
	var toc string
	for _, x := range rep.Stage(report.StageTOC).Texts {
		toc += x.Body
	}
	if !strings.Contains(toc, " /f [zisofs:pz:32k]\n") {
		t.Errorf("toc diff does not name the filter:\n%s", toc)
	}
}

// TestZisofsFirstDiff: a one-byte change at offset 150,000 of a 300,000-
// byte file compressed on both sides is reported there, with the file's
// own sizes.
func TestZisofsFirstDiff(t *testing.T) {
	const size, at = 300000, 150000
	files := map[string]string{"f": hexText(1, size), "same": hexText(2, 100000)}
	a, b := zisofsPair(t, files, func(m map[string]string) {
		s := []byte(m["f"])
		s[at] = 'x' // not a hex digit
		m["f"] = string(s)
	}, true, true)
	rep := compareFiles(t, a, b)
	got := rep.Stage(report.StageContent).Findings
	if len(got) != 1 || got[0].Path != "/f" || got[0].Content == nil {
		t.Fatalf("content findings %+v, want one for /f", got)
	}
	if c := got[0].Content; c.FirstDiff != at || c.SizeA != size || c.SizeB != size {
		t.Errorf("first difference at %d, sizes %d and %d; want %d, %d", c.FirstDiff, c.SizeA, c.SizeB, at, size)
	}
	for _, f := range rep.Stage(report.StageTOC).Findings {
		if f.Ignored == "" {
			t.Errorf("toc finding %s %s %v", f.Path, f.Kind, f.Fields)
		}
	}
}
