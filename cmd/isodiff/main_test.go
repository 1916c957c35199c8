package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/report"
)

const demoA, demoB = "../../testdata/demo/a.iso", "../../testdata/demo/b.iso"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDemoPairDiffers(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCLI(t, "--output-dir", dir, demoA, demoB)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	// The short answer names each injected difference (testdata/make-demo.sh),
	// with its values.
	for _, want := range []string{
		"[primary volume descriptor]: volume_creation_date 2024-03-01 12:00:00 -> 13:00:00, volume_modification_date 2024-03-01 12:00:00 -> 13:00:00",
		"[mbr]: disk_signature 0xd1db83c9 -> 0x77ac887d",
		"/.disk/info: content",
		"/boot/grub/efi.img: content",
		"/live/filesystem.squashfs > /etc/machine-id: content",
		"/live/filesystem.squashfs > /usr/bin/helper: mode 4755 -> 0755 (-rwsr-xr-x -> -rwxr-xr-x)",
		"/live/filesystem.squashfs > /usr/lib/demo/libdemo.so: content",
		"/live/filesystem.squashfs > /usr/share/doc/demo/changelog.gz: content",
		"/live/filesystem.squashfs > /var/log/build.log: content",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{report.FileSizes, report.FileSHA256, report.FileHeaderCmp, report.FileTOCDiff,
		report.FileSquashfsSHA256, report.FileSqfsLsDiff, report.FileSqfsDiff, report.FileChecklist, report.FileJSON} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: missing or empty (%v)", name, err)
		}
	}
	ls, _ := os.ReadFile(filepath.Join(dir, report.FileSqfsLsDiff))
	if !strings.Contains(string(ls), "--rwsr-xr-x 1 0/0       22 2024-03-01 12:00:00 /usr/bin/helper\n+-rwxr-xr-x") {
		t.Errorf("sqfs-ls-diff.txt lacks the mode change:\n%s", ls)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestIdentical(t *testing.T) {
	code, out, _ := runCLI(t, demoA, demoA)
	if code != 0 || !strings.HasPrefix(out, "identical: ") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestJSON(t *testing.T) {
	code, out, _ := runCLI(t, demoA, demoB, "--json") // flags after files, as diff allows
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if r.Schema != report.SchemaVersion || len(r.Stages) != 6 || len(r.Containers) != 1 || r.Containers[0].A.SHA256 == "" {
		t.Fatalf("unexpected report: %+v", r)
	}
}

func TestTrouble(t *testing.T) {
	code, _, errs := runCLI(t, demoA, "does-not-exist.iso")
	if code != 2 || !strings.Contains(errs, "does-not-exist.iso") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runCLI(t, demoA); code != 2 {
		t.Fatalf("one file: exit %d, want 2", code)
	}
	// A truncated copy: every stage still runs, the failed ones say where.
	data, err := os.ReadFile(demoB)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.iso")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, out, _ := runCLI(t, "-output-dir", dir, demoA, cut)
	if code != 2 {
		t.Fatalf("truncated image: exit %d, want 2\n%s", code, out)
	}
	if !strings.Contains(out, "problem: "+cut) || !strings.Contains(out, "offset") {
		t.Errorf("summary must name the file and the offset of the problem:\n%s", out)
	}
	check, _ := os.ReadFile(filepath.Join(dir, report.FileChecklist))
	if !strings.Contains(string(check), "**failed**") {
		t.Errorf("checklist.md must mark the failed stage:\n%s", check)
	}
	// The damage is said first, in the summary's short answer and in
	// checklist.md's.
	_, answer, _ := strings.Cut(string(check), "## Short answer\n\n")
	if !strings.HasPrefix(answer, "image B ("+strings.ReplaceAll(cut, "_", "\\_")+") is damaged: truncated at") {
		t.Errorf("checklist.md's short answer must start with the damage:\n%s", answer)
	}
	if !strings.Contains(out, "\nimage B ("+cut+") is damaged: truncated at") {
		t.Errorf("the summary must say B is truncated:\n%s", out)
	}
}
