package diffoscope

import (
	"context"
	"errors"
	"fmt"
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

// bombScript is a stand-in for diffoscope that does what it does with a
// decompression bomb: unpack into a directory of its own under $TMPDIR
// (with a read-only directory inside, as archives unpack), start a helper,
// print part of its report, then work on (sleep) or finish (end is "sleep
// 300" or "exit 1"). It records its directory in marker and the helper's
// pid in pidFile.
func bombScript(t *testing.T, marker, pidFile, end string) string {
	return script(t, `d=$(mktemp -d "$TMPDIR/diffoscope_XXXXXXXX") || exit 3
head -c 4194304 /dev/zero > "$d/bomb"
mkdir -p "$d/ro/sub" && echo x > "$d/ro/sub/f" && chmod 0555 "$d/ro/sub" "$d/ro"
echo "TMPDIR=$TMPDIR TEMP=$TEMP TMP=$TMP"
sleep 300 &
echo $! > `+pidFile+`
echo "$d" > `+marker+`.tmp && mv `+marker+`.tmp `+marker+`
echo partial report
`+end+"\n")
}

// assertCleanedUp: the run's temporary directory was private, under
// parent, given as TMPDIR, TEMP and TMP, and is gone with everything in it;
// the helper process is dead.
func assertCleanedUp(t *testing.T, parent, marker, pidFile, out string) {
	t.Helper()
	raw, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("the stand-in did not run: %v\n%s", err, out)
	}
	bombDir := strings.TrimSpace(string(raw))
	tmp := filepath.Dir(bombDir)
	if filepath.Dir(tmp) != parent || !strings.HasPrefix(filepath.Base(tmp), "diffoscope-tmp-") {
		t.Errorf("diffoscope's TMPDIR %s is not a private directory under %s", tmp, parent)
	}
	if want := "TMPDIR=" + tmp + " TEMP=" + tmp + " TMP=" + tmp; !strings.Contains(out, want) {
		t.Errorf("environment: want %q in %q", want, out)
	}
	if _, err := os.Lstat(tmp); !os.IsNotExist(err) {
		t.Errorf("%s is left behind (%v)", tmp, err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("left in %s: %v", parent, left)
	}
	raw, _ = os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("no pid: %q", raw)
	}
	// SIGKILL is delivered at once; the process may take a moment to go.
	for i := 0; ; i++ {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z") {
			break // gone, or a zombie not yet reaped by its new parent
		}
		if i == 100 {
			t.Errorf("helper %d of the run is still alive: %s", pid, stat)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTempDirRemoved: whatever ends the run (diffoscope itself, its own
// timeout, the caller cancelling, the caller's deadline), the process group
// is dead, diffoscope's temporary files are gone, and the error says which
// limit ended it.
func TestTempDirRemoved(t *testing.T) {
	for _, c := range []struct {
		name    string
		end     string
		timeout time.Duration
		ctx     func(marker string) (context.Context, context.CancelFunc)
		check   func(t *testing.T, err error)
	}{
		{name: "finished", end: "exit 1", timeout: time.Minute,
			ctx: func(string) (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Errorf("err = %v, want none (exit 1: differences)", err)
				}
			}},
		{name: "crashed", end: "kill -ABRT $$", timeout: time.Minute,
			ctx: func(string) (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrMemory) && !errors.Is(err, ErrFailed) {
					t.Errorf("err = %v, want a failure", err)
				}
			}},
		{name: "own timeout", end: "sleep 300", timeout: time.Second,
			ctx: func(string) (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "its own per-run limit of 1s") {
					t.Errorf("err = %v, want its own timeout", err)
				}
			}},
		{name: "caller cancelled", end: "sleep 300", timeout: time.Minute,
			ctx: func(marker string) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					for range 400 {
						if _, err := os.Stat(marker); err == nil {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
				return ctx, cancel
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) ||
					!strings.Contains(err.Error(), "the caller cancelled") {
					t.Errorf("err = %v, want the caller's cancellation", err)
				}
			}},
		{name: "caller deadline", end: "sleep 300", timeout: time.Minute,
			ctx: func(string) (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 1500*time.Millisecond)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrStopped) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) ||
					!strings.Contains(err.Error(), "the caller's deadline") || strings.Contains(err.Error(), "timed out") {
					t.Errorf("err = %v, want the caller's deadline", err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			parent := filepath.Join(dir, "private")
			os.Mkdir(parent, 0o700)
			marker, pidFile := filepath.Join(dir, "marker"), filepath.Join(dir, "pid")
			cmd := bombScript(t, marker, pidFile, c.end)
			a, b := twoFiles(t, "a\n", "b\n")
			ctx, cancel := c.ctx(marker)
			defer cancel()
			start := time.Now()
			out, err := Run(ctx, a, b, Limits{Timeout: c.timeout, Command: cmd, TempDir: parent})
			ended := time.Now()
			c.check(t, err)
			if !strings.Contains(out, "partial report") {
				t.Errorf("output lost: %q", out)
			}
			if ctx.Err() != nil {
				if d, ok := ctx.Deadline(); ok {
					if late := ended.Sub(d); late > time.Second {
						t.Errorf("Run returned %s after the caller's deadline", late)
					}
				}
			}
			if c.timeout == time.Second && ended.Sub(start) > 2*time.Second {
				t.Errorf("Run took %s under a 1 s timeout", ended.Sub(start))
			}
			assertCleanedUp(t, parent, marker, pidFile, out)
		})
	}
}

// TestCancelPromptly: Run returns within a second of the caller's
// cancellation, with diffoscope's temporary files removed.
func TestCancelPromptly(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "private")
	os.Mkdir(parent, 0o700)
	marker, pidFile := filepath.Join(dir, "marker"), filepath.Join(dir, "pid")
	cmd := bombScript(t, marker, pidFile, "sleep 300")
	a, b := twoFiles(t, "a\n", "b\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan time.Time, 1)
	go func() {
		for range 400 {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancelled <- time.Now()
		cancel()
	}()
	out, err := Run(ctx, a, b, Limits{Timeout: time.Minute, Command: cmd, TempDir: parent})
	if took := time.Since(<-cancelled); took > time.Second {
		t.Errorf("Run returned %s after the cancellation", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	assertCleanedUp(t, parent, marker, pidFile, out)
}

// TestPairRun: Pair.Run puts diffoscope's temporary directory inside the
// pair's private directory, and removes it; Remove then removes the pair.
func TestPairRun(t *testing.T) {
	parent := t.TempDir()
	p, err := Extract(parent, "x.gz", strings.NewReader("A"), strings.NewReader("B"), 10)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	marker, pidFile := filepath.Join(dir, "marker"), filepath.Join(dir, "pid")
	out, err := p.Run(context.Background(), Limits{Timeout: time.Minute, Command: bombScript(t, marker, pidFile, "exit 1")})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	raw, _ := os.ReadFile(marker)
	if !strings.HasPrefix(strings.TrimSpace(string(raw)), p.Dir+string(filepath.Separator)) {
		t.Errorf("diffoscope's temporary directory %s is not inside the pair's %s", raw, p.Dir)
	}
	if left, _ := os.ReadDir(p.Dir); len(left) != 2 {
		t.Errorf("the pair's directory holds %v, want a and b", left)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestRemoveTreeReadOnly: directories left without write or search
// permission are removed too, and a symbolic link is not followed.
func TestRemoveTreeReadOnly(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	os.Mkdir(outside, 0o555)
	defer os.Chmod(outside, 0o755)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(tree, "a", "b", "f"), []byte("x"), 0o400)
	os.Symlink(outside, filepath.Join(tree, "a", "link"))
	os.Chmod(filepath.Join(tree, "a", "b"), 0o500)
	os.Chmod(filepath.Join(tree, "a"), 0o000)
	if err := removeTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Errorf("tree left: %v", err)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("the link's target was changed: %v %v", fi.Mode(), err)
	}
}

// TestOutputCapped: a child writing far more than MaxTextBytes costs no
// more memory than the cap, and the report says where it was cut.
func TestOutputCapped(t *testing.T) {
	cmd := script(t, "head -c 20000000 /dev/zero | tr '\\0' x\necho >&2 done\nexit 1\n")
	a, b := twoFiles(t, "a\n", "b\n")
	out, err := Run(context.Background(), a, b, Limits{Timeout: time.Minute, Command: cmd, MaxTextBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if limit := 1000 + 64<<10; len(out) > limit+100 || !strings.HasSuffix(out, fmt.Sprintf("... output cut at %d bytes\n", limit)) {
		t.Errorf("%d bytes kept, ending %q", len(out), out[max(0, len(out)-60):])
	}
}
