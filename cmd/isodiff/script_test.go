package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/isodiff"
)

// scripts/diagnose-divergence.sh is a drop-in for the old staged diagnose
// step: same arguments, same files, exit 0 whatever the verdict, the files
// tailed into the log in the old order, the short answer on the step
// summary page.
func TestDiagnoseDivergenceScript(t *testing.T) {
	bin := isodiffBinary(t)
	for _, tc := range []struct {
		name, b string
		status  string
	}{{"differ", demoB, "1"}, {"identical", demoA, "0"}, {"missing", "does-not-exist.iso", "2"}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "diag")
			summary := filepath.Join(t.TempDir(), "step-summary.md")
			cmd := exec.Command("bash", "../../scripts/diagnose-divergence.sh", demoA, tc.b, out)
			cmd.Env = append(os.Environ(), "ISODIFF="+bin, "ISODIFF_FLAGS=--no-diffoscope", "GITHUB_STEP_SUMMARY="+summary)
			log, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("exit %v, want 0 whatever the verdict:\n%s", err, log)
			}
			if got, _ := os.ReadFile(filepath.Join(out, "isodiff-exit-status")); strings.TrimSpace(string(got)) != tc.status {
				t.Errorf("isodiff-exit-status %q, want %s", got, tc.status)
			}
			old := []string{"sizes.txt", "sha256.txt", "iso-header-cmp.txt", "toc-diff.txt", "squashfs-sha256.txt",
				"sqfs-ls-diff.txt", "sqfs-diff.txt", "checklist.md"}
			at := -1
			for _, f := range old {
				i := strings.Index(string(log), "==> "+filepath.Join(out, f)+" <==")
				if i <= at {
					t.Errorf("%s not tailed after the file before it in the old order:\n%s", f, log)
				}
				at = i
				if _, err := os.Stat(filepath.Join(out, f)); tc.status != "2" && err != nil {
					t.Error(err)
				}
			}
			if tc.status != "2" {
				if s, err := os.ReadFile(summary); err != nil || !strings.Contains(string(s), map[string]string{"0": "**Identical**", "1": "## Short answer"}[tc.status]) {
					t.Errorf("step summary (%v):\n%s", err, s)
				}
			}
		})
	}
	cmd := exec.Command("bash", "../../scripts/diagnose-divergence.sh", demoA)
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("a wrong call: %v, want exit 2", err)
	}
}

// The example workflows pin a release that this checkout is: the version
// they install is the library's (tagged vX.Y.Z when released).
func TestExampleWorkflowsPinThisVersion(t *testing.T) {
	for _, f := range []string{"../../examples/gitea-verify.yml", "../../examples/diagnose-divergence-step.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "v"+isodiff.Version) {
			t.Errorf("%s does not pin v%s", f, isodiff.Version)
		}
	}
}

// The README's first screen shows the demo pair's short answer: it is what
// the command prints.
func TestREADMEShowsTheDemoAnswer(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```\n15 diverging location(s):\n")
	if !ok {
		t.Fatal("README has no demo answer block")
	}
	block, _, _ = strings.Cut(block, "```")
	_, out, _ := runCLI(t, "--no-diffoscope", demoA, demoB)
	_, got, _ := strings.Cut(out, "15 diverging location(s):\n")
	if got != block {
		t.Errorf("README's demo answer:\n%s\nthe command's:\n%s", block, got)
	}
}
