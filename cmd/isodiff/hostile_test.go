package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// These tests hold the README's Security promises on crafted images, run
// as a user runs isodiff: the built binary, its peak resident memory
// (getrusage), its wall time after --timeout or SIGTERM, what it leaves in
// $TMPDIR, what it writes.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// isodiffBinary builds the command once per test run.
func isodiffBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "isodiff-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "isodiff")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" && binErr == nil {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// liveISO wraps a squashfs image as /live/filesystem.squashfs of an ISO.
func liveISO(t *testing.T, sqfs, out string) string {
	t.Helper()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(sqfs, filepath.Join(src, "live", "filesystem.squashfs")); err != nil {
		t.Fatal(err)
	}
	return testimg.MakeISO(t, src, out, "-R", "-J", "-V", "CRAFTED", "--modification-date=2024010203040500")
}

type runResult struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // bytes
	wall           time.Duration
	tmp            string // the $TMPDIR the run had
}

// runBinary runs isodiff with a private $TMPDIR; signal, when not nil, is
// called with the process once it has run for signalAfter.
func runBinary(t *testing.T, signalAfter time.Duration, sig os.Signal, args ...string) runResult {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(isodiffBinary(t), args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOMEMLIMIT=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var signalled time.Time
	if sig != nil {
		time.Sleep(signalAfter)
		signalled = time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	err := cmd.Wait()
	res := runResult{stdout: out.String(), stderr: errb.String(), tmp: tmp, wall: time.Since(start)}
	if sig != nil {
		res.wall = time.Since(signalled)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.maxRSS = ru.Maxrss * 1024
	}
	return res
}

func assertEmptyTmp(t *testing.T, tmp string) {
	t.Helper()
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in $TMPDIR: %s", e.Name())
	}
}

// The xattr amplifier of issue 10: two files with 4,096 xattrs all pointing
// at one out-of-line 64 KiB value, the values differing between A and B,
// took 5.9 GB and wrote 537 MB report files. Now the comparison completes
// within the default budget, and says what differs.
func TestHostileXattrAmplifier(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs", "setfattr")
	dir := t.TempDir()
	var isos [2]string
	for i, fill := range []byte{'A', 'B'} {
		sq := filepath.Join(dir, string(rune('a'+i))+".sqfs")
		testimg.XattrBombSquashfs(t, sq, 4096, 1<<16, fill)
		isos[i] = liveISO(t, sq, filepath.Join(dir, string(rune('a'+i))+".iso"))
		if fi, _ := os.Stat(isos[i]); fi.Size() > 1<<20 {
			t.Fatalf("crafted ISO of %d bytes, want under 1 MiB", fi.Size())
		}
	}
	out := filepath.Join(dir, "out")
	res := runBinary(t, 0, nil, "--no-diffoscope", "--output-dir", out, isos[0], isos[1])
	if res.code != 1 {
		t.Fatalf("exit %d, want 1 (the xattr values differ)\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "/f") || !strings.Contains(res.stdout, "xattr user.k0000") {
		t.Errorf("the short answer does not name the differing xattrs:\n%s", res.stdout)
	}
	if res.maxRSS > 256<<20 {
		t.Errorf("peak RSS %d MiB, the default budget is 256 MiB", res.maxRSS>>20)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		// 2 files x 4,096 xattrs, each line bounded: a few MiB, not 537 MB.
		if fi.Size() > 16<<20 {
			t.Errorf("%s is %d MiB", e.Name(), fi.Size()>>20)
		}
	}
	assertEmptyTmp(t, res.tmp)
	t.Logf("peak RSS %d MiB, %v", res.maxRSS>>20, res.wall)
}

// sparsePair builds two ISOs whose squashfs holds one sparse file claiming
// size bytes, of sizes differing by one byte: comparing them decodes both
// to their end, hours of work from a few hundred KiB of image.
func sparsePair(t *testing.T, size int64) [2]string {
	t.Helper()
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	var isos [2]string
	for i := range isos {
		sq := filepath.Join(dir, string(rune('a'+i))+".sqfs")
		testimg.SparseSquashfs(t, sq, size+int64(i), 'x')
		isos[i] = liveISO(t, sq, filepath.Join(dir, string(rune('a'+i))+".iso"))
	}
	return isos
}

func TestHostileTimeoutReturnsInTime(t *testing.T) {
	isos := sparsePair(t, 1<<40)
	out := filepath.Join(t.TempDir(), "out")
	res := runBinary(t, 0, nil, "--timeout", "2s", "--no-diffoscope", "--output-dir", out, isos[0], isos[1])
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res.wall > 3*time.Second {
		t.Errorf("--timeout 2s returned after %v", res.wall)
	}
	check, err := os.ReadFile(filepath.Join(out, report.FileChecklist))
	if err != nil || !strings.Contains(string(check), "time limit (2s) passed") {
		t.Errorf("checklist.md after the time limit (%v):\n%s", err, check)
	}
	assertEmptyTmp(t, res.tmp)
}

func TestHostileSIGTERMWritesReportSoFar(t *testing.T) {
	isos := sparsePair(t, 1<<40)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		out := filepath.Join(t.TempDir(), "out")
		res := runBinary(t, 1500*time.Millisecond, sig, "--no-diffoscope", "--output-dir", out, isos[0], isos[1])
		if res.code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s\n%s", sig, res.code, res.stdout, res.stderr)
		}
		if res.wall > time.Second {
			t.Errorf("%v answered after %v", sig, res.wall)
		}
		check, err := os.ReadFile(filepath.Join(out, report.FileChecklist))
		if err != nil || !strings.Contains(string(check), "interrupted") {
			t.Errorf("%v: checklist.md (%v):\n%s", sig, err, check)
		}
		if !strings.Contains(res.stderr, "writing the report so far") {
			t.Errorf("%v: stderr %q", sig, res.stderr)
		}
		assertEmptyTmp(t, res.tmp)
	}
}
