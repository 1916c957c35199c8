package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/isodiff"
)

// The command-line conventions of issue 12, one case each.
func TestCLIConventions(t *testing.T) {
	t.Run("help on stdout, exit 0, with examples and --flags", func(t *testing.T) {
		code, out, errs := runCLI(t, "--help")
		if code != 0 || errs != "" || !strings.Contains(out, "examples:") || !strings.Contains(out, "  --memory-budget SIZE") {
			t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
		}
		if strings.Contains(out, "\n  -memory-budget") {
			t.Errorf("flags spelled with one dash:\n%s", out)
		}
	})
	usage := func(t *testing.T, want string, args ...string) {
		t.Helper()
		code, out, errs := runCLI(t, args...)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if code != 2 || out != "" || len(lines) != 2 || !strings.Contains(lines[0], want) || lines[1] != "Run 'isodiff --help' for usage." {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want one line with %q and the pointer to --help", args, code, out, errs, want)
		}
	}
	t.Run("usage errors say what is wrong in one line", func(t *testing.T) {
		usage(t, "two images to compare are needed")
		usage(t, "a second image to compare "+demoA+" with is needed", demoA)
		usage(t, "got 3 arguments", demoA, demoB, demoB)
		usage(t, "flag provided but not defined: -nope", "--nope", demoA, demoB)
		usage(t, "--explain-max -1: a count must be 0 or more", "--explain-max", "-1", demoA, demoB)
		usage(t, `bad size "lots"`, "--memory-budget", "lots", demoA, demoB)
	})
	t.Run("-- ends the flags", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "-a.iso"), filepath.Join(dir, "-b.iso")
		for _, p := range []string{a, b} {
			data, _ := os.ReadFile(demoA)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Chdir(dir)
		code, out, errs := runCLI(t, "--", "-a.iso", "-b.iso")
		if code != 0 || !strings.Contains(out, "identical") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("each input named in its error", func(t *testing.T) {
		code, _, errs := runCLI(t, "../../testdata/demo", demoA)
		if code != 2 || !strings.Contains(errs, "../../testdata/demo: not a regular file (a directory)") || strings.Contains(errs, demoA) {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("output folder checked before any work", func(t *testing.T) {
		start := time.Now()
		code, out, errs := runCLI(t, "--output-dir", "/proc/nope/x", demoA, demoB)
		if code != 2 || out != "" || !strings.Contains(errs, "--output-dir /proc/nope/x:") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("the check came after the analysis (%v)", time.Since(start))
		}
		dir := filepath.Join(t.TempDir(), "new", "diag")
		if code, _, errs := runCLI(t, "--output-dir", dir, demoA, demoB); code != 1 {
			t.Errorf("a folder to create: exit %d, %s", code, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, "checklist.md")); err != nil {
			t.Error(err)
		}
	})
	t.Run("sizes shown in human units", func(t *testing.T) {
		_, out, _ := runCLI(t, "--help")
		if !strings.Contains(out, "(default 256MiB)") || !strings.Contains(out, "(default 64MiB)") || strings.Contains(out, "67108864") {
			t.Errorf("defaults:\n%s", out)
		}
	})
	t.Run("version", func(t *testing.T) {
		code, out, _ := runCLI(t, "--version")
		if code != 0 || !strings.HasPrefix(out, "isodiff v") {
			t.Errorf("exit %d, %q", code, out)
		}
	})
}

// Progress: silent when stderr is not a terminal (as in CI logs and these
// tests), shown with --progress: every stage, the bytes of both images
// read, N of M explained; --quiet wins over a terminal only.
func TestProgress(t *testing.T) {
	_, _, errs := runCLI(t, "--no-diffoscope", demoA, demoB)
	if errs != "" {
		t.Errorf("progress or other output on a stderr that is not a terminal: %q", errs)
	}
	code, out, errs := runCLI(t, "--progress", "--no-diffoscope", demoA, demoB)
	if code != 1 || !strings.Contains(out, "diverging location(s)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"[sizes] reading both images", "[header]", "[toc]", "[squashfs]", "[content]",
		"[explain] explaining", "/6)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("progress lacks %q:\n%q", want, errs)
		}
	}
	if strings.Contains(errs, "\x1b[3") {
		t.Errorf("progress uses colour: %q", errs)
	}
}

func TestIgnoreFlags(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "ignore")
	os.WriteFile(rules, []byte("# the build writes these\ntimestamps\n\npath:/live/filesystem.squashfs/var/log/\n"), 0o644)
	code, out, errs := runCLI(t, "--ignore-file", rules, "--ignore", "owner", "--no-diffoscope", demoA, demoB)
	if code != 1 || !strings.Contains(out, "difference(s) ignored by the ignore rules (timestamps 3, path:/live/filesystem.squashfs/var/log/ 1)") {
		t.Errorf("exit %d, stderr %q:\n%s", code, errs, out)
	}
	os.WriteFile(rules, []byte("timestamps\nmtimes\n"), 0o644)
	code, _, errs = runCLI(t, "--ignore-file", rules, demoA, demoB)
	if code != 2 || !strings.Contains(errs, rules+`:2: unknown ignore rule "mtimes"`) {
		t.Errorf("a bad rule file: exit %d, %q", code, errs)
	}
}

// Progress switches itself on when stderr is a terminal (here a pty that
// script(1) gives the process), and --quiet keeps it off.
func TestProgressOnATerminal(t *testing.T) {
	testimg.Need(t, "script")
	bin := isodiffBinary(t)
	for _, tc := range []struct {
		flag string
		want bool
	}{{"--no-diffoscope", true}, {"--quiet", false}} {
		cmd := exec.Command("script", "-qefc", bin+" "+tc.flag+" --no-diffoscope "+demoA+" "+demoB, "/dev/null")
		out, _ := cmd.CombinedOutput()
		if got := strings.Contains(string(out), "[sizes]"); got != tc.want {
			t.Errorf("%s on a terminal: progress shown %v, want %v:\n%q", tc.flag, got, tc.want, out)
		}
		if !strings.Contains(string(out), "diverging location(s)") {
			t.Errorf("%s: no summary:\n%q", tc.flag, out)
		}
	}
}

// A file name from the image reaches the progress line escaped: no
// terminal control sequence, no second line.
func TestProgressNamesEscaped(t *testing.T) {
	var out strings.Builder
	p := newProgressLine(&out)
	p.report(isodiff.Progress{Stage: "explain", Step: "explaining", Done: 1, Total: 2, Item: "/x\x1b[2J\x1b]0;pwned\x07\n::error::y"})
	p.clear()
	if strings.Contains(out.String(), "\x1b[2J") || strings.Contains(out.String(), "\x1b]0;") || strings.Contains(out.String(), "\n::error") {
		t.Errorf("raw name on the terminal: %q", out.String())
	}
}
