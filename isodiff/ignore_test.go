package isodiff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/report"
)

func TestIgnoreRulesParse(t *testing.T) {
	r, err := parseIgnore([]string{"semantic", "owner", "path:/var/log/"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.fields, ",") != "directory-metadata,nlink,owner,timestamps" || len(r.globs) != 1 {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{"mtimes", "path:var/log", "path:/[a"} {
		if _, err := parseIgnore([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A finding whose fields are partly ignored is split; the ignored part is
// kept, marked, at the end; the other findings keep their indexes.
func TestIgnoreSplitsFindings(t *testing.T) {
	r, _ := parseIgnore([]string{"mtime", "path:/var/log/*"})
	st := &report.Stage{Findings: []report.Finding{
		{Scope: report.ContainerScope("squashfs", "/live/x.squashfs"), Path: "/usr/bin/tar", Kind: report.KindChanged, Type: "-",
			Fields: []field.Change{{Name: "mode", A: "-rwxr-xr-x", B: "-rwsr-xr-x"}, {Name: "mtime", A: "1", B: "2"}}},
		{Scope: report.ISOTree, Path: "/var/log/build.log", Kind: report.KindContent},
		{Scope: report.ISOTree, Path: "/etc/x", Kind: report.KindChanged, Fields: []field.Change{{Name: "mtime", A: "1", B: "2"}}},
		{Scope: report.ISOHeader, Path: "primary volume descriptor", Fields: []field.Change{{Name: "volume_creation_date", A: "1", B: "2"}}},
	}}
	r.apply(st)
	f := st.Findings
	if len(f) != 5 || len(f[0].Fields) != 1 || f[0].Ignored != "" || f[0].Fields[0].Name != "mode" {
		t.Fatalf("split: %+v", f)
	}
	if f[1].Ignored != "path:/var/log/*" || f[2].Ignored != "mtime" || f[3].Ignored != "" {
		t.Errorf("marks: %q %q %q", f[1].Ignored, f[2].Ignored, f[3].Ignored)
	}
	if f[4].Path != "/usr/bin/tar" || f[4].Ignored != "mtime" || f[4].Fields[0].Name != "mtime" {
		t.Errorf("the ignored part: %+v", f[4])
	}
}

// On the demo pair: ignored differences leave the short answer, are
// counted there and listed in the files; the exit status stays 1.
func TestIgnoreOnDemoPair(t *testing.T) {
	rep, err := Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso",
		Options{NoDiffoscope: true, Ignore: []string{"timestamps", "path:/live/filesystem.squashfs/var/log/"}})
	if err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	s := sum.String()
	for _, gone := range []string{"/isolinux/boot.cat: mtime", "volume_creation_date", "/var/log/build.log"} {
		if strings.Contains(s[strings.Index(s, "diverging location"):], gone) {
			t.Errorf("the short answer still has %q:\n%s", gone, s)
		}
	}
	if !strings.Contains(s, "difference(s) ignored by the ignore rules (") || !strings.Contains(s, "timestamps 3") ||
		!strings.Contains(s, "path:/live/filesystem.squashfs/var/log/ 1") {
		t.Errorf("the ignored count:\n%s", s)
	}
	dir := t.TempDir()
	if err := report.WriteDir(dir, rep); err != nil {
		t.Fatal(err)
	}
	toc, _ := os.ReadFile(filepath.Join(dir, report.FileTOCDiff))
	check, _ := os.ReadFile(filepath.Join(dir, report.FileChecklist))
	if !strings.Contains(string(check), "(ignored: timestamps)") || !strings.Contains(string(check), "ignored by the ignore rules") {
		t.Errorf("checklist.md does not list the ignored differences:\n%s\n%s", check, toc)
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d", rep.ExitCode())
	}
}
