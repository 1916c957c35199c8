package diffoscope

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-diffoscope")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func twoFiles(t *testing.T, a, b string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(pa, []byte(a), 0o644)
	os.WriteFile(pb, []byte(b), 0o644)
	return pa, pb
}

func TestRunRealDiffoscope(t *testing.T) {
	testimg.Need(t, "diffoscope")
	a, b := twoFiles(t, "one\ntwo\nthree\n", "one\n2\nthree\n")
	out, err := Run(context.Background(), a, b, Limits{Timeout: time.Minute})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "-two") || !strings.Contains(out, "+2") {
		t.Errorf("no diff in the report:\n%s", out)
	}
	same, _ := twoFiles(t, "x\n", "x\n")
	if out, err := Run(context.Background(), same, same, Limits{}); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("identical files: %q, %v", out, err)
	}
}

// TestTimeoutKillsTheGroup: on timeout the run returns the output so far
// and no process it started survives.
func TestTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := script(t, "sleep 300 &\necho $! > "+pidFile+"\necho partial report\nsleep 300\n")
	a, b := twoFiles(t, "a\n", "b\n")
	start := time.Now()
	out, err := Run(context.Background(), a, b, Limits{Timeout: time.Second, Command: cmd})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if !strings.Contains(out, "partial report") {
		t.Errorf("partial output lost: %q", out)
	}
	raw, _ := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(raw)))
	if perr != nil {
		t.Fatalf("no pid: %q", raw)
	}
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err == nil {
		// A zombie still answers: check its state.
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if !strings.Contains(string(stat), ") Z") {
			t.Errorf("child %d of the timed-out run is still alive: %s", pid, stat)
		}
	}
}

// TestMemoryCap: a child that allocates past the cap fails, and Run says
// it ran out of its memory cap.
func TestMemoryCap(t *testing.T) {
	testimg.Need(t, "python3")
	cmd := script(t, "exec python3 -c 'x = bytearray(600 << 20); print(len(x))'\n")
	a, b := twoFiles(t, "a\n", "b\n")
	_, err := Run(context.Background(), a, b, Limits{Timeout: time.Minute, MemoryBytes: 300 << 20, Command: cmd})
	if !errors.Is(err, ErrMemory) {
		t.Fatalf("err = %v, want the memory cap", err)
	}
	// The same child under a larger cap succeeds.
	if _, err := Run(context.Background(), a, b, Limits{Timeout: time.Minute, MemoryBytes: 2 << 30, Command: cmd}); err != nil {
		t.Fatalf("under 2 GiB: %v", err)
	}
}

func TestArgs(t *testing.T) {
	got := strings.Join(Args("a", "b", Limits{}), " ")
	for _, want := range []string{"--text - ", "--max-container-depth 2", "--max-text-report-size 5000000", "--timeout 480", "-- a b"} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "html") {
		t.Errorf("args ask for HTML: %q", got)
	}
}

// TestExtractConfined: hostile names end up inside the private directory.
func TestExtractConfined(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Dir(parent)
	for _, name := range []string{"../../x", "/etc/passwd", "..", "", "a/../../b", "evil\x00name", "../" + filepath.Base(parent) + "/../escape"} {
		p, err := Extract(parent, name, strings.NewReader("A"), strings.NewReader("B"), 10)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		for _, f := range []string{p.A, p.B} {
			if !strings.HasPrefix(f, p.Dir+string(filepath.Separator)) {
				t.Errorf("%q: %s is outside %s", name, f, p.Dir)
			}
		}
		if fi, err := os.Stat(p.Dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%q: private dir mode %v, %v", name, fi.Mode(), err)
		}
		p.Remove()
	}
	if _, err := os.Stat(filepath.Join(outside, "escape")); err == nil {
		t.Error("a file escaped")
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := Extract(parent, "big", strings.NewReader("0123456789A"), strings.NewReader(""), 10); err == nil {
		t.Error("a file over the limit was extracted")
	}
}
