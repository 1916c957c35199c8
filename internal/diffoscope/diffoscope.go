// Package diffoscope runs diffoscope on one pair of files, bounded: a
// timeout that kills diffoscope's whole process group, an address-space
// cap on every process of it, a cap on the text it may write, and no HTML.
//
// It is the hand-off for the few files isodiff's built-in explanation does
// not account for completely. diffoscope on a whole live ISO recurses
// through everything and runs out of memory (a single build-id difference
// in a 184 MB libxul.so made it disassemble and diff the library: 7.3 GiB
// peak RSS, 18 minutes); on one small pair, with these limits, it is the
// detailed second opinion.
package diffoscope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/isodiff/isodiff/internal/explain"
)

// Defaults for Limits' zero fields.
const (
	DefaultTimeout           = 10 * time.Minute
	DefaultMemoryBytes       = 2 << 30
	DefaultMaxTextBytes      = 5000000
	DefaultMaxContainerDepth = 2
)

// Limits bound one diffoscope run.
type Limits struct {
	// Timeout ends the run, killing diffoscope and every process it
	// started. diffoscope is also asked (--timeout) to stop recursing at
	// four fifths of it, so that it can still write what it found.
	Timeout time.Duration
	// MemoryBytes caps the address space of diffoscope and of each tool it
	// runs (RLIMIT_AS, inherited by every child; the cap is per process).
	MemoryBytes int64
	// MaxTextBytes is passed as --max-text-report-size; the captured
	// output is cut a little above it in any case.
	MaxTextBytes int
	// MaxContainerDepth is passed as --max-container-depth.
	MaxContainerDepth int
	// Command is the diffoscope executable; empty means the one on PATH.
	Command string
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultMaxTextBytes
	}
	if l.MaxContainerDepth <= 0 {
		l.MaxContainerDepth = DefaultMaxContainerDepth
	}
	return l
}

// Find returns the diffoscope executable to run: command when set and
// runnable, else diffoscope on PATH; "" when there is none.
func Find(command string) string {
	if command == "" {
		command = "diffoscope"
	}
	p, err := exec.LookPath(command)
	if err != nil {
		return ""
	}
	return p
}

// Errors Run returns, wrapped with the details.
var (
	ErrNotFound = errors.New("diffoscope not found")
	ErrTimeout  = errors.New("diffoscope timed out")
	ErrMemory   = errors.New("diffoscope ran out of its memory cap")
	ErrFailed   = errors.New("diffoscope failed")
)

// Args returns the diffoscope arguments Run uses for files a and b.
func Args(a, b string, l Limits) []string {
	l = l.withDefaults()
	soft := int((l.Timeout * 4 / 5).Seconds())
	args := []string{
		"--text", "-", "--text-color", "never", "--no-progress",
		"--max-container-depth", strconv.Itoa(l.MaxContainerDepth),
		"--max-text-report-size", strconv.Itoa(l.MaxTextBytes),
	}
	if soft >= 1 {
		args = append(args, "--timeout", strconv.Itoa(soft))
	}
	return append(args, "--", a, b)
}

// Run runs diffoscope on files a and b and returns its text report. A
// report is returned with a nil error when diffoscope finished (exit 0:
// no differences, exit 1: differences). On a timeout, the memory cap or
// another failure, the output so far is returned with an error wrapping
// ErrTimeout, ErrMemory or ErrFailed.
func Run(ctx context.Context, a, b string, l Limits) (string, error) {
	l = l.withDefaults()
	exe := Find(l.Command)
	if exe == "" {
		return "", ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	argv := append([]string{exe}, Args(a, b, l)...)
	var cmd *exec.Cmd
	if prlimit, err := exec.LookPath("prlimit"); err == nil {
		cmd = exec.CommandContext(ctx, prlimit, append([]string{"--as=" + strconv.FormatInt(l.MemoryBytes, 10), "--"}, argv...)...)
	} else {
		kib := strconv.FormatInt(l.MemoryBytes/1024, 10)
		cmd = exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `ulimit -v "$0" && exec "$@"`, kib}, argv...)...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: diffoscope and the tools it runs.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	stdout := &capBuffer{max: l.MaxTextBytes + 64<<10}
	stderr := &capBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	// Whatever happened, nothing of the group may outlive the run.
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	out := stdout.String()
	if stdout.cut {
		out += fmt.Sprintf("\n... output cut at %d bytes\n", stdout.max)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return out, fmt.Errorf("%w after %s", ErrTimeout, time.Since(start).Round(time.Second))
	}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	errText := stderr.String()
	tail := lastLines(errText, 6)
	if err != nil && (strings.Contains(errText, "MemoryError") || strings.Contains(errText, "Cannot allocate memory") ||
		strings.Contains(errText, "out of memory") || isSignal(err, syscall.SIGSEGV) || isSignal(err, syscall.SIGABRT)) {
		return out, fmt.Errorf("%w (%d bytes): %v: %s", ErrMemory, l.MemoryBytes, err, tail)
	}
	var ee *exec.ExitError
	if err == nil || (errors.As(err, &ee) && ee.ExitCode() == 1 && !strings.Contains(errText, "Traceback (most recent call last)")) {
		return out, nil // 0: no differences, 1: differences
	}
	return out, fmt.Errorf("%w: %v: %s", ErrFailed, err, tail)
}

func isSignal(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal() == sig
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// capBuffer keeps the first max bytes written and drops the rest, so a
// chatty child cannot grow our memory.
type capBuffer struct {
	bytes.Buffer
	max int
	cut bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room < len(p) {
		c.cut = true
		if room > 0 {
			c.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

// Pair is a file pair copied into a private directory for diffoscope.
type Pair struct {
	Dir  string // the private directory (0700)
	A, B string // the two copies: Dir/a/<name> and Dir/b/<name>
}

// Remove deletes the pair's directory.
func (p *Pair) Remove() error { return os.RemoveAll(p.Dir) }

// Extract copies two streams into a new private directory under parent,
// as a/<base of name> and b/<base of name>, each at most max bytes. name
// is confined: "..", absolute paths and NUL bytes cannot lead outside the
// directory. The caller removes the pair.
func Extract(parent, name string, a, b io.Reader, max int64) (*Pair, error) {
	dir, err := os.MkdirTemp(parent, "isodiff-diffoscope-")
	if err != nil {
		return nil, err
	}
	p := &Pair{Dir: dir}
	if err := os.Chmod(dir, 0o700); err != nil {
		p.Remove()
		return nil, err
	}
	base := path.Base("/" + strings.ReplaceAll(name, "\\", "/"))
	if base == "/" || base == "." || base == ".." {
		base = "file"
	}
	for i, r := range []io.Reader{a, b} {
		side := filepath.Join(dir, "ab"[i:i+1])
		if err := os.Mkdir(side, 0o700); err != nil {
			p.Remove()
			return nil, err
		}
		dst := explain.SafeJoin(side, base)
		if err := copyFile(dst, r, max); err != nil {
			p.Remove()
			return nil, fmt.Errorf("%s: %w", "ab"[i:i+1], err)
		}
		if i == 0 {
			p.A = dst
		} else {
			p.B = dst
		}
	}
	return p, nil
}

func copyFile(dst string, r io.Reader, max int64) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = fmt.Errorf("larger than %d bytes", max)
	}
	return err
}
