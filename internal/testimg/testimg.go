// Package testimg builds real test images with the real tools (mksquashfs,
// xorriso, mkfs.vfat, cpio, gzip) at test time, so that readers and differs
// are checked against what those tools write and print, never against
// fixtures of our own making.
package testimg

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Need fails the test unless every named tool is on PATH. The README's test
// command (scripts/test.sh) installs them; a missing tool is a broken
// environment, not a reason to pass silently.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("tools missing: %s (run scripts/test.sh, which installs them)", strings.Join(missing, ", "))
	}
}

// Run runs a command in dir and returns its standard output; it fails the
// test with the command's standard error when the command fails.
func Run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// WriteFiles creates files under root from a map of slash-separated relative
// paths to contents, making parent directories as needed.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
