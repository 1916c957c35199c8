package isodiff

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// compileStripped builds one C file in dir with -g and strips the debug
// info: two builds in different directories differ only in the build id.
func compileStripped(t *testing.T, dir string) string {
	t.Helper()
	src := "int answer(void) { return 42; }\nconst char *greeting(void) { return \"hello\"; }\n"
	testimg.WriteFiles(t, dir, map[string]string{"demo.c": src})
	testimg.Run(t, dir, "gcc", "-shared", "-fPIC", "-O1", "-g", "-Wl,--build-id=sha1", "-o", "libdemo.so", "demo.c")
	testimg.Run(t, dir, "strip", "--strip-debug", "libdemo.so")
	b, err := os.ReadFile(filepath.Join(dir, "libdemo.so"))
	must(t, err)
	return string(b)
}

// makeInitrd writes an initramfs as Debian builds it: an uncompressed cpio
// with early microcode, then a gzip-compressed cpio of the main tree.
func makeInitrd(t *testing.T, dir, resume string) string {
	t.Helper()
	early, main := filepath.Join(dir, "early"), filepath.Join(dir, "main")
	testimg.WriteFiles(t, early, map[string]string{"kernel/x86/microcode/AuthenticAMD.bin": "microcode\n"})
	testimg.WriteFiles(t, main, map[string]string{
		"init":                     "#!/bin/sh\nexec run-init /root /sbin/init\n",
		"conf/conf.d/resume":       "RESUME=" + resume + "\n",
		"conf/initramfs.conf":      "MODULES=most\n",
		"usr/lib/modules/.keepdir": "",
	})
	stampTree(t, early)
	stampTree(t, main)
	var img []byte
	for _, part := range []struct {
		dir  string
		gzip bool
	}{{early, false}, {main, true}} {
		var names []string
		filepath.Walk(part.dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && p != part.dir {
				rel, _ := filepath.Rel(part.dir, p)
				names = append(names, rel)
			}
			return nil
		})
		slices.Sort(names)
		cmd := exec.Command("cpio", "-o", "-H", "newc", "--reproducible", "--quiet", "-R", "0:0")
		cmd.Dir = part.dir
		cmd.Stdin = strings.NewReader(strings.Join(names, "\n") + "\n")
		out, err := cmd.Output()
		must(t, err)
		if part.gzip {
			zc := exec.Command("gzip", "-n9")
			zc.Stdin = bytes.NewReader(out)
			out, err = zc.Output()
			must(t, err)
		}
		img = append(img, out...)
	}
	return string(img)
}

// explainPair builds a live ISO pair with the injected differences of the
// issue: a gzip header mtime, an ELF build id, a changed initrd member, a
// random id in a text file; plus two binary files without a format, one
// small and one over the diffoscope size limit used below.
func explainPair(t *testing.T) (string, string) {
	t.Helper()
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr", "gcc", "strip", "cpio", "gzip")
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(11))
	blob := make([]byte, 4096)
	rng.Read(blob)
	big := make([]byte, 200<<10)
	rng.Read(big)
	var isos [2]string
	for i, side := range []string{"a", "b"} {
		lt := defaultTree()
		lt.root["usr/lib/libdemo.so"] = compileStripped(t, filepath.Join(dir, "build-"+side))
		lt.root["etc/machine-id"] = []string{"b08dfa6083e7567a1921a715000001fb\n", "5c1d7e9a33f04b2e8e6f2d41a7c9e0b3\n"}[i]
		lt.iso["live/initrd.img"] = makeInitrd(t, filepath.Join(dir, "initrd-"+side), []string{"UUID=1b2e4c6d-aaaa-4bbb-8ccc-000000000001", "UUID=9f8e7d6c-bbbb-4ccc-8ddd-000000000002"}[i])
		b, g := append([]byte(nil), blob...), append([]byte(nil), big...)
		if i == 1 {
			b[1000] ^= 0x5a
			g[150<<10] ^= 0x5a
			lt.gzMtime = epoch.Add(time.Hour)
		}
		lt.root["usr/lib/blob.bin"] = string(b)
		lt.root["usr/lib/big.bin"] = string(g)
		isos[i] = lt.build(t, filepath.Join(dir, side))
	}
	return isos[0], isos[1]
}

// finding returns the content finding for a path, or fails.
func finding(t *testing.T, rep *report.Report, scope, path string) report.Finding {
	t.Helper()
	for _, f := range rep.Stage(report.StageContent).Findings {
		if f.Scope.String() == scope && f.Path == path {
			return f
		}
	}
	t.Fatalf("no content finding for %s %s", scope, path)
	return report.Finding{}
}

func TestExplainLivePair(t *testing.T) {
	a, b := explainPair(t)
	ctx := context.Background()

	// The built-in explanations, without diffoscope.
	rep, err := Compare(ctx, a, b, Options{NoDiffoscope: true})
	must(t, err)
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	t.Logf("%s", sum.String())
	if rep.ExitCode() != 1 {
		t.Fatalf("exit %d, want 1", rep.ExitCode())
	}
	cases := []struct {
		scope, path string
		summary     string
		hint        string
	}{
		{sq, "/usr/share/doc/pkg/changelog.gz", "gzip: header mtime differs, payload identical", "timestamps_in_gzip_headers"},
		{sq, "/usr/lib/libdemo.so", "ELF: only the build id differs", "build_id_differences_only"},
		{sq, "/etc/machine-id", "text: line 1 differs", "random_id"},
		{"iso", "/live/initrd.img", "cpio: content of conf/conf.d/resume differs: text: line 1 differs", "random_id"},
		{sq, "/usr/lib/blob.bin", "1 differing byte range (1 bytes) at equal size 4096, first at byte 1000", ""},
	}
	for _, c := range cases {
		f := finding(t, rep, c.scope, c.path)
		ex := rep.ExplanationOf(f)
		if ex.Headline() != c.summary || ex.Hint() != c.hint {
			t.Errorf("%s:\n got  %q [%s]\n want %q [%s]\n%s", c.path, ex.Headline(), ex.Hint(), c.summary, c.hint, ex.Text())
		}
		where := c.path
		if c.scope == sq {
			where = "/live/filesystem.squashfs > " + c.path
		}
		if !strings.Contains(sum.String(), where+": ") || !strings.Contains(sum.String(), "content: "+c.summary) {
			t.Errorf("the summary does not name %s with its explanation", where)
		}
	}
	if ex := rep.ExplanationOf(finding(t, rep, "iso", "/live/initrd.img")); !strings.Contains(ex.Text(), "+RESUME=UUID=9f8e7d6c") {
		t.Errorf("the initrd member's diff is missing:\n%s", ex.Text())
	}

	// The report files carry the explanations and hints.
	out := t.TempDir()
	must(t, report.WriteDir(out, rep))
	check, _ := os.ReadFile(filepath.Join(out, report.FileChecklist))
	sqfs, _ := os.ReadFile(filepath.Join(out, report.FileSqfsDiff))
	js, _ := os.ReadFile(filepath.Join(out, report.FileJSON))
	for _, want := range []string{"hint: `build_id_differences_only`", "hint: `timestamps_in_gzip_headers`"} {
		if !strings.Contains(string(check), want) {
			t.Errorf("checklist.md lacks %q", want)
		}
	}
	if !strings.Contains(string(sqfs), "build id: ") || !strings.Contains(string(sqfs), "diffoscope hand-off disabled") {
		t.Errorf("sqfs-diff.txt lacks the built-in explanations:\n%s", sqfs)
	}
	var back report.Report
	must(t, json.Unmarshal(js, &back))
	if ex := back.Stage(report.StageExplain); ex == nil || !slices.ContainsFunc(ex.Explanations, func(e report.Explanation) bool {
		return e.Hint() == "timestamps_in_gzip_headers" && e.Scope == report.ContainerScope("squashfs", "/live/filesystem.squashfs") && e.Path != ""
	}) {
		t.Error("report.json lacks the hints")
	}
}

// TestDiffoscopeHandOff: diffoscope runs only on the diverging pairs the
// built-in comparison does not account for completely and that are under
// the size limit; a timeout leaves a partial report, not a failed run.
func TestDiffoscopeHandOff(t *testing.T) {
	testimg.Need(t, "diffoscope")
	a, b := explainPair(t)
	ctx := context.Background()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "diffoscope")
	real, _ := exec.LookPath("diffoscope")
	must(t, os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$@\" >> "+log+"\nexec "+real+" \"$@\"\n"), 0o755))
	tmp := filepath.Join(dir, "tmp")
	must(t, os.Mkdir(tmp, 0o700))

	rep, err := Compare(ctx, a, b, Options{DiffoscopeCommand: wrapper, DiffoscopeMaxSize: 64 << 10, TempDir: tmp})
	must(t, err)
	st := rep.Stage(report.StageExplain)
	calls, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	args := strings.Fields(lines[0])
	if len(lines) != 1 || len(args) < 2 || !strings.HasSuffix(args[len(args)-2], "/a/blob.bin") || !strings.HasSuffix(args[len(args)-1], "/b/blob.bin") {
		t.Fatalf("diffoscope calls:\n%s", calls)
	}
	for _, want := range []string{"--max-container-depth 2", "--max-text-report-size 5000000", "--text -"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("call lacks %q: %s", want, lines[0])
		}
	}
	notes := strings.Join(st.Notes, "\n")
	if !strings.Contains(notes, "diffoscope ran on 1 file pair; skipped 4 explained completely") ||
		!strings.Contains(notes, "over the 65536-byte size limit: /live/filesystem.squashfs > /usr/lib/big.bin") {
		t.Errorf("notes:\n%s", notes)
	}
	if len(st.Texts) != 1 || !strings.Contains(st.Texts[0].Body, "blob.bin") || !strings.Contains(st.Texts[0].Body, "@@") {
		t.Errorf("diffoscope text: %+v", st.Texts)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	out := t.TempDir()
	must(t, report.WriteDir(out, rep))
	if sqfs, _ := os.ReadFile(filepath.Join(out, report.FileSqfsDiff)); !strings.Contains(string(sqfs), "### diffoscope "+sq) {
		t.Errorf("sqfs-diff.txt lacks diffoscope's report")
	}

	// A diffoscope that hangs: the run ends at the timeout, with a note.
	hang := filepath.Join(dir, "hang")
	must(t, os.WriteFile(hang, []byte("#!/bin/sh\necho started\nsleep 300\n"), 0o755))
	start := time.Now()
	rep, err = Compare(ctx, a, b, Options{DiffoscopeCommand: hang, DiffoscopeTimeout: time.Second, DiffoscopeMaxSize: 64 << 10})
	must(t, err)
	if time.Since(start) > time.Minute || rep.ExitCode() != 1 {
		t.Errorf("took %s, exit %d", time.Since(start), rep.ExitCode())
	}
	st = rep.Stage(report.StageExplain)
	if len(st.Texts) != 1 || !strings.Contains(st.Texts[0].Body, "diffoscope stopped: diffoscope timed out") || !strings.Contains(st.Texts[0].Body, "started") {
		t.Errorf("timeout text: %+v", st.Texts)
	}

	// No diffoscope at all: the built-in explanations, and a note.
	rep, err = Compare(ctx, a, b, Options{DiffoscopeCommand: filepath.Join(dir, "missing")})
	must(t, err)
	if notes := strings.Join(rep.Stage(report.StageExplain).Notes, "\n"); !strings.Contains(notes, "diffoscope not found") {
		t.Errorf("notes: %s", notes)
	}
}
