package smbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Docker runs the docker command-line client. smbuild drives the CLI rather
// than the Engine API: the CLI needs no new dependency, it already speaks
// to whatever engine the user's docker context, DOCKER_HOST, TLS settings
// and credential helpers point at (rootless, remote, a CI service), it
// negotiates the API version (this project's machines pair a new client with
// an older engine), and `docker run` already does the attach, stream and exit
// status work that an API client would have to redo. The cost is parsing
// text, and smbuild only ever reads --format '{{.Id}}' style output and exit
// codes.
type Docker struct {
	Bin string // the client to run; "docker" when empty
}

func (d Docker) bin() string {
	if d.Bin == "" {
		return "docker"
	}
	return d.Bin
}

func (d Docker) command(args ...string) *exec.Cmd {
	cmd := exec.Command(d.bin(), args...)
	setProcessGroup(cmd)
	return cmd
}

// output runs a short docker command and returns its trimmed standard
// output; the error carries its standard error.
func (d Docker) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin(), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s %s: %s", d.bin(), strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// ErrEngineUnreachable is returned by Check when no engine answers.
var ErrEngineUnreachable = errors.New("docker engine unreachable")

// Check asks the engine for its version.
func (d Docker) Check(ctx context.Context) (string, error) {
	if _, err := exec.LookPath(d.bin()); err != nil {
		return "", fmt.Errorf("%w: %v", ErrEngineUnreachable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := d.output(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrEngineUnreachable, err)
	}
	return v, nil
}

// ImageID returns the local image id of ref, or "" when the engine has no
// such image.
func (d Docker) ImageID(ctx context.Context, ref string) (string, error) {
	id, err := d.output(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return "", nil
		}
		return "", err
	}
	return id, nil
}

// ResolveImage returns the local image id of a pinned reference (see
// CheckPinned), pulling name@sha256:... references that are not present.
// A bare image id is never pulled: there is nothing to pull it from.
func (d Docker) ResolveImage(ctx context.Context, ref string, progress io.Writer) (string, error) {
	if err := CheckPinned(ref); err != nil {
		return "", err
	}
	id, err := d.ImageID(ctx, ref)
	if err != nil || id != "" {
		return id, err
	}
	if strings.HasPrefix(ref, "sha256:") {
		return "", fmt.Errorf("BUILDER_IMAGE %s is not in the local docker engine; an image id cannot be pulled: load it first (docker load, docker import)", ref)
	}
	fmt.Fprintf(progress, "smbuild: pulling %s\n", ref)
	cmd := exec.CommandContext(ctx, d.bin(), "pull", ref)
	// The client says why a pull failed on either stream: keep the last
	// lines of both for the error.
	tail := &tailWriter{keep: 10}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(progress, tail), io.MultiWriter(progress, tail)
	if err := cmd.Run(); err != nil {
		why := strings.Join(tail.lines(), "\n  ")
		if why == "" {
			why = "(it printed nothing)"
		}
		return "", fmt.Errorf("docker pull %s failed (%v):\n  %s", ref, err, why)
	}
	if id, err = d.ImageID(ctx, ref); err == nil && id == "" {
		err = fmt.Errorf("docker pull %s succeeded but the image is not there", ref)
	}
	return id, err
}

// ForceRemove stops and removes the named container if it exists. It runs
// on its own short deadline so that it works after the caller's context has
// been cancelled.
func (d Docker) ForceRemove(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, _ = d.output(ctx, "rm", "--force", "--volumes", name)
}

// Exists reports whether a container of that exact name exists.
func (d Docker) Exists(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := d.output(ctx, "ps", "--all", "--quiet", "--filter", "name=^/"+name+"$")
	return err == nil && out != ""
}

// mountArg renders a --mount value, quoting fields as CSV (the CLI parses
// --mount as one CSV record) so that paths may hold commas and quotes.
func mountArg(fields ...string) string {
	for i, f := range fields {
		if strings.ContainsAny(f, ",\"") {
			fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
	}
	return strings.Join(fields, ",")
}

// CPUs returns the number of CPUs of the engine.
func (d Docker) CPUs(ctx context.Context) (int, error) {
	out, err := d.output(ctx, "info", "--format", "{{.NCPU}}")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(out)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("docker info printed %q as the number of CPUs", out)
	}
	return n, nil
}

// ImageHasFile reports whether the image holds a file (following symbolic
// links) at the absolute path p. It runs nothing in the image: it creates a
// container, copies the file out of it into nothing, and removes it, so it
// works for an image without a shell.
func (d Docker) ImageHasFile(ctx context.Context, image, p string) (bool, error) {
	// Labelled like a build container, so that RemoveLeftovers finds it
	// if smbuild is killed before it removes it.
	id, err := d.output(ctx, "create", "--label", "smbuild=probe", "--label", OwnerLabel+"="+Owner(), image, "/smbuild-probe")
	if err != nil {
		return false, err
	}
	defer d.ForceRemove(id)
	cmd := exec.CommandContext(ctx, d.bin(), "cp", "--follow-link", id+":"+p, "-")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.ToLower(errb.String())
		if strings.Contains(msg, "could not find") || strings.Contains(msg, "no such file") || strings.Contains(msg, "not found") {
			return false, nil
		}
		return false, fmt.Errorf("docker cp %s:%s: %s", id, p, strings.TrimSpace(errb.String()))
	}
	return true, nil
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	mu   sync.Mutex
	keep int
	buf  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 64<<10 {
		t.buf = t.buf[len(t.buf)-32<<10:]
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) > t.keep {
		out = out[len(out)-t.keep:]
	}
	return out
}
