// Package diffoscope runs diffoscope on one pair of files, bounded.
//
// The bounds: a timeout that kills diffoscope's whole process group, an address-space
// cap on every process of it, a cap on the text it may write, no HTML, and
// a private temporary directory (TMPDIR, TEMP and TMP) that is removed
// whatever ends the run.
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
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
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
	// TempDir is where Run makes the run's private (0700) temporary
	// directory, given to diffoscope and every tool it runs as TMPDIR, TEMP
	// and TMP (diffoscope unpacks archives and decompresses files there: a
	// gzip bomb fills it). Empty means os.TempDir(); Pair.Run uses the
	// pair's own private directory. Run kills the process group and then
	// removes the directory whatever ended the run: diffoscope's end, the
	// timeout, the caller's context, a failure or a panic.
	TempDir string
	// AllowVM lets diffoscope compare filesystem images (FAT, ext4, ...)
	// through libguestfs, which boots a qemu appliance: on a machine
	// without KVM it sat idle until the timeout. Off by default: the run's
	// Python path then shadows the guestfs module with one that fails to
	// import, so diffoscope's fsimage comparator declines the file (it
	// checks the import) and falls back to its other comparators.
	AllowVM bool
}

// noVMModule is the guestfs module diffoscope finds when AllowVM is off.
const noVMModule = "raise ImportError('isodiff keeps libguestfs off: it boots a virtual machine (diffoscope.Limits.AllowVM)')\n"

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

// Errors Run returns, wrapped with the details. ErrTimeout is the run's own
// limit (Limits.Timeout); ErrStopped is the caller's context ending the run
// (cancelled, or its deadline such as a whole-comparison time limit passed),
// and the error also wraps the context's error and cause.
var (
	ErrNotFound = errors.New("diffoscope not found")
	ErrTimeout  = errors.New("diffoscope timed out")
	ErrStopped  = errors.New("diffoscope stopped")
	ErrMemory   = errors.New("diffoscope ran out of its memory cap")
	ErrFailed   = errors.New("diffoscope failed")
)

// errRunTimeout is the cause of the run's context when its own timeout
// passes, so Run can tell it from the caller's deadline.
var errRunTimeout = errors.New("diffoscope's per-run timeout")

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
// no differences, exit 1: differences). On its timeout, the caller's
// context ending, the memory cap or another failure, the output so far is
// returned with an error wrapping ErrTimeout, ErrStopped, ErrMemory or
// ErrFailed, each saying which limit ended the run.
func Run(ctx context.Context, a, b string, l Limits) (string, error) {
	l = l.withDefaults()
	exe := Find(l.Command)
	if exe == "" {
		return "", ErrNotFound
	}
	parent := ctx
	if err := parent.Err(); err != nil {
		return "", stopped(parent, 0)
	}
	tmp, err := privateTempDir(l.TempDir)
	if err != nil {
		return "", fmt.Errorf("%w: its temporary directory: %v", ErrFailed, err)
	}
	// Deferred first, so it runs last: after the group is killed.
	defer removeTree(tmp)
	ctx, cancel := context.WithTimeoutCause(parent, l.Timeout, errRunTimeout)
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
	cmd.Env = append(withoutVars(os.Environ(), "TMPDIR", "TEMP", "TMP"),
		"TMPDIR="+tmp, "TEMP="+tmp, "TMP="+tmp, "LC_ALL=C.UTF-8", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	if !l.AllowVM {
		shadow := filepath.Join(tmp, ".isodiff-python", "guestfs")
		if err := os.MkdirAll(shadow, 0o700); err != nil {
			return "", fmt.Errorf("%w: %v", ErrFailed, err)
		}
		if err := os.WriteFile(filepath.Join(shadow, "__init__.py"), []byte(noVMModule), 0o600); err != nil {
			return "", fmt.Errorf("%w: %v", ErrFailed, err)
		}
		path := filepath.Dir(shadow)
		if old := os.Getenv("PYTHONPATH"); old != "" {
			path += string(os.PathListSeparator) + old
		}
		cmd.Env = append(withoutVars(cmd.Env, "PYTHONPATH"), "PYTHONPATH="+path)
	}
	stdout := &capBuffer{max: l.MaxTextBytes + 64<<10}
	stderr := &capBuffer{max: 64 << 10}
	// Our own pipes, read by our own goroutines: cmd.Wait then returns when
	// diffoscope exits, even if a stray child still holds its output open,
	// and the group is killed at once (exec's pipes would wait WaitDelay).
	readers, err := pipeTo(cmd, stdout, stderr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrFailed, err)
	}
	start := time.Now()
	// Whatever happens, nothing of the group may outlive the run, and the
	// group dies before its temporary directory is removed (deferred
	// above, so it runs after this).
	defer func() {
		if cmd.Process != nil {
			killGroup(cmd.Process.Pid)
		}
		readers.finish()
	}()
	err = cmd.Start()
	readers.started()
	if err == nil {
		err = cmd.Wait()
		killGroup(cmd.Process.Pid)
	}
	readers.finish()
	out := stdout.String()
	if stdout.cut {
		out += fmt.Sprintf("\n... output cut at %d bytes\n", stdout.max)
	}
	if parent.Err() != nil {
		return out, stopped(parent, time.Since(start))
	}
	if context.Cause(ctx) == errRunTimeout {
		return out, fmt.Errorf("%w after %s (its own per-run limit of %s)", ErrTimeout, time.Since(start).Round(time.Second), l.Timeout)
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

// pipeReaders copy a child's standard output and error into buffers
// through pipes of their own.
type pipeReaders struct {
	reads  []*os.File // the read ends
	writes []*os.File // the child's ends, closed here once it started
	done   chan struct{}
	n      int
}

// pipeTo gives cmd a pipe for its standard output and one for its standard
// error, copied into stdout and stderr.
func pipeTo(cmd *exec.Cmd, stdout, stderr io.Writer) (*pipeReaders, error) {
	p := &pipeReaders{done: make(chan struct{}, 2)}
	for _, w := range []io.Writer{stdout, stderr} {
		r, wf, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		p.reads, p.writes = append(p.reads, r), append(p.writes, wf)
		go func() {
			io.Copy(w, r)
			p.done <- struct{}{}
		}()
	}
	cmd.Stdout, cmd.Stderr = p.writes[0], p.writes[1]
	return p, nil
}

// started closes the child's ends in this process (after Start, whether or
// not it succeeded), so the readers see the end of the output once every
// process of the group is gone.
func (p *pipeReaders) started() {
	for _, f := range p.writes {
		f.Close()
	}
	p.writes = nil
}

// finish waits for the readers to reach the end of the output, at most a
// second (a process that escaped the group may hold a pipe open), then
// closes the read ends. It may be called more than once.
func (p *pipeReaders) finish() {
	p.started()
	timeout := time.After(time.Second)
	for p.n < len(p.reads) {
		select {
		case <-p.done:
			p.n++
		case <-timeout:
			p.closeAll()
			return
		}
	}
	p.closeAll()
}

func (p *pipeReaders) closeAll() {
	for _, f := range append(p.reads, p.writes...) {
		f.Close()
	}
}

// killGroup kills the process group pgid: diffoscope and every process it
// started that is still there. No process of it runs again after this
// (SIGKILL); removeTree retries until what one was creating is gone too.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// stopped says that the caller's context ended the run, and which way.
func stopped(parent context.Context, ran time.Duration) error {
	how := "the caller cancelled the comparison"
	if parent.Err() == context.DeadlineExceeded {
		how = "the caller's deadline (the comparison's time limit) passed"
	}
	cause := context.Cause(parent)
	if cause == nil || cause == parent.Err() {
		return fmt.Errorf("%w after %s: %s: %w", ErrStopped, ran.Round(time.Millisecond), how, parent.Err())
	}
	return fmt.Errorf("%w after %s: %s (%w): %w", ErrStopped, ran.Round(time.Millisecond), how, cause, parent.Err())
}

// privateTempDir makes the run's private temporary directory under parent
// (os.TempDir() when empty).
func privateTempDir(parent string) (string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "diffoscope-tmp-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// removeTree removes dir and everything in it, also directories a tool left
// without write or search permission (archives unpack such directories).
// It never follows a symbolic link: only real directories are made
// writable. A process of the killed group may still be exiting with a file
// being created (the directory then is not empty when removed), so a
// failed removal is retried for up to half a second; once dir is gone,
// nothing can be created in it.
func removeTree(dir string) error {
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return nil
		}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(dir); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withoutVars returns env without the variables named.
func withoutVars(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
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
// chatty child cannot grow our memory. It has no ReadFrom (an embedded
// bytes.Buffer's would let io.Copy read past the cap).
type capBuffer struct {
	buf bytes.Buffer
	max int
	cut bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.cut = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capBuffer) String() string { return c.buf.String() }

// Pair is a file pair copied into a private directory for diffoscope.
type Pair struct {
	Dir  string // the private directory (0700)
	A, B string // the two copies: Dir/a/<name> and Dir/b/<name>
}

// Remove deletes the pair's directory.
func (p *Pair) Remove() error { return removeTree(p.Dir) }

// Run runs diffoscope on the pair (see Run) with its temporary directory
// inside the pair's private directory, unless l.TempDir says otherwise.
func (p *Pair) Run(ctx context.Context, l Limits) (string, error) {
	if l.TempDir == "" {
		l.TempDir = p.Dir
	}
	return Run(ctx, p.A, p.B, l)
}

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
