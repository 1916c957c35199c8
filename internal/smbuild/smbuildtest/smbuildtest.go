// Package smbuildtest makes what smbuild's tests need from a real Docker
// engine that reaches no registry: a builder image made from nothing but the
// static fakebuilder binary (built with CGO_ENABLED=0 and imported with
// docker import, so nothing is pulled), and a git repository to build.
package smbuildtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// FakeBuilderPkg is the import path of the fake builder.
const FakeBuilderPkg = "github.com/isodiff/isodiff/internal/smbuild/fakebuilder"

// EngineError says why the Docker engine cannot be used, or is "" when it
// can.
func EngineError() string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "no docker client on PATH"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return "docker engine unreachable: " + strings.TrimSpace(string(out))
	}
	return ""
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

var imageIDRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// MakeImage builds the fake builder statically into work, puts it at
// /fakebuilder in a tar with an empty /tmp, imports that with docker import
// and returns the image id (sha256:<64 hex>).
func MakeImage(work string) (string, error) {
	bin := filepath.Join(work, "fakebuilder")
	build := exec.Command(goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, FakeBuilderPkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build fakebuilder: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	mtime := time.Unix(1700000000, 0)
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mtime},
		{Name: "fakebuilder", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data)), ModTime: mtime},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	imp := exec.Command("docker", "import", "--message", "smbuild test builder", "-")
	imp.Stdin = &tarball
	var stderr bytes.Buffer
	imp.Stderr = &stderr
	out, err := imp.Output()
	if err != nil {
		return "", fmt.Errorf("docker import: %v: %s", err, stderr.String())
	}
	id := strings.TrimSpace(string(out))
	if !imageIDRE.MatchString(id) {
		return "", fmt.Errorf("docker import printed %q, not an image id", id)
	}
	return id, nil
}

// RemoveImage removes an image made by MakeImage.
func RemoveImage(id string) error {
	out, err := exec.Command("docker", "rmi", "--force", id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker rmi %s: %v: %s", id, err, out)
	}
	return nil
}

// CommitDate is the committer date of the commits GitRepo makes.
const CommitDate = "2024-01-02T03:04:05Z"

// CommitEpoch is CommitDate in seconds.
const CommitEpoch = 1704164645

// GitRepo makes a git repository in dir holding files, committed once with
// CommitDate as author and committer date.
func GitRepo(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, dir, "init", "--quiet", "--initial-branch=main")
	Git(t, dir, "add", "--all")
	Git(t, dir, "commit", "--quiet", "--message", "test source")
}

// Git runs git in dir with a fixed identity and date, failing the test on
// error; it returns the standard output without its last newline.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+CommitDate, "GIT_COMMITTER_DATE="+CommitDate, "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSuffix(string(out), "\n")
}
