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
	"sort"
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

// LibFaketime is where MakeImage puts libfaketime in the image: the value
// of BUILDER_LIBFAKETIME for it.
const LibFaketime = "/usr/lib/faketime/libfaketime.so.1"

// hostFiles are the host's date(1), libfaketime and setarch(8), and the
// shared libraries they need (as ldd lists them), as image path -> host
// path. The static fake builder runs date(1) for the time and time zone
// leaks, as a shell script would, libfaketime moves the clock date(1) reads,
// and smbuild runs build b under setarch --uname-2.6 (at DefaultSetarch),
// so the image carries a dynamic libc after all.
func hostFiles() (map[string]string, error) {
	date, err := exec.LookPath("date")
	if err != nil {
		return nil, err
	}
	libs, _ := filepath.Glob("/usr/lib/*/faketime/libfaketime.so.1")
	if len(libs) == 0 {
		return nil, fmt.Errorf("libfaketime is not installed on this machine (Debian: apt-get install faketime; scripts/test.sh installs it)")
	}
	setarch, err := exec.LookPath("setarch")
	if err != nil {
		return nil, fmt.Errorf("setarch is not installed on this machine (util-linux): %v", err)
	}
	files := map[string]string{"/usr/bin/date": date, LibFaketime: libs[0], "/usr/bin/setarch": setarch}
	out, err := exec.Command("ldd", date, libs[0], setarch).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s %s %s: %v", date, libs[0], setarch, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i, w := range f {
			if strings.HasPrefix(w, "/") && !strings.HasSuffix(w, ":") && (i == 0 || f[i-1] == "=>") {
				files[w] = w
			}
		}
	}
	return files, nil
}

// MakeImage builds the fake builder statically into work, puts it at
// /fakebuilder in a tar with an empty /tmp, the host's date(1) and
// libfaketime (at LibFaketime) with the libraries they need, imports that
// with docker import, labelled smbuild-test=1, and returns the image id
// (sha256:<64 hex>).
func MakeImage(work string) (string, error) {
	bin := filepath.Join(work, "fakebuilder")
	build := exec.Command(goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, FakeBuilderPkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build fakebuilder: %v\n%s", err, out)
	}
	files, err := hostFiles()
	if err != nil {
		return "", err
	}
	files["/fakebuilder"] = bin
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	mtime := time.Unix(1700000000, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: mtime}); err != nil {
		return "", err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := os.ReadFile(files[name]) // follows symbolic links
		if err != nil {
			return "", err
		}
		h := &tar.Header{Name: strings.TrimPrefix(name, "/"), Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data)), ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if _, err := tw.Write(data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	imp := exec.Command("docker", "import", "--change", "LABEL smbuild-test=1", "--message", "smbuild test builder", "-")
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
