package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/smbuild"
	"github.com/isodiff/isodiff/internal/smbuild/smbuildtest"
)

func short(t *testing.T, src string) string {
	t.Helper()
	return smbuildtest.Git(t, src, "rev-parse", "HEAD")[:12]
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestBuildKeepsVerifyResults: `build` after `verify` on the same commit
// leaves build-a, build-b and diagnosis alone.
func TestBuildKeepsVerifyResults(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "FAKEBUILDER_LEAK=hostname\n", nil)
	if r := smbuild_(t.Context(), "verify", "--src", src); r.code != 1 {
		t.Fatalf("verify: want exit 1:\n%s", r)
	}
	if r := smbuild_(t.Context(), "build", "--src", src); r.code != 0 {
		t.Fatalf("build: want exit 0:\n%s", r)
	}
	out := filepath.Join(src, "output", short(t, src))
	for _, p := range []string{"build-a/fake-live.iso", "build-b/fake-live.iso", "diagnosis/checklist.md", "diagnosis/VARIATIONS", "build/fake-live.iso", "build/BUILD_INFO"} {
		if !exists(filepath.Join(out, p)) {
			t.Errorf("%s is missing after verify and build", p)
		}
	}
}

// TestConfigLayout: the distribution's layout (linux/build/config) is found
// from the repository root and from linux/build, and the output goes to
// linux/build/output; without any config folder the error names the paths
// tried and --config.
func TestConfigLayout(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	if err := os.MkdirAll(filepath.Join(src, "linux", "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	smbuildtest.Git(t, src, "mv", "config", "linux/build/config")
	smbuildtest.Git(t, src, "commit", "--quiet", "--message", "distribution layout")
	if err := os.WriteFile(filepath.Join(src, ".gitignore"), []byte("/linux/build/output/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	smbuildtest.Git(t, src, "commit", "--quiet", "--all", "--message", "ignore output")
	for _, dir := range []string{src, filepath.Join(src, "linux", "build")} {
		r := smbuild_(t.Context(), "build", "--src", dir)
		if r.code != 0 {
			t.Fatalf("build --src %s: want exit 0:\n%s", dir, r)
		}
		if p := filepath.Join(src, "linux", "build", "output", short(t, src), "build", "fake-live.iso"); !exists(p) {
			t.Errorf("build --src %s: no %s:\n%s", dir, p, r)
		}
	}
	if exists(filepath.Join(src, "output")) {
		t.Error("an output folder was made at the top")
	}
	empty := t.TempDir()
	smbuildtest.GitRepo(t, empty, map[string]string{"README": "x\n"})
	r := smbuild_(t.Context(), "build", "--src", empty)
	for _, want := range []string{"smbuild: no config folder found: tried " + filepath.Join(empty, "config") + ", " + filepath.Join(empty, "linux/build/config") + "; pass --config DIR"} {
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit 2 and %q:\n%s", want, r)
		}
	}
	r = smbuild_(t.Context(), "build", "--src", empty, "--config", filepath.Join(empty, "conf"))
	if want := "config directory not found (" + filepath.Join(empty, "conf") + "); pass --config DIR"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("want exit 2 and %q:\n%s", want, r)
	}
}

// TestPullFailureExplained: the reason docker pull gives goes to stderr.
func TestPullFailureExplained(t *testing.T) {
	builderImage(t)
	ref := "registry.invalid/smbuild/none@sha256:" + strings.Repeat("0", 64)
	src := source(t, ref, "", nil)
	r := smbuild_(t.Context(), "build", "--src", src)
	if r.code != 2 || !strings.Contains(r.stderr, "smbuild: docker pull "+ref+" failed (exit status 1):\n") || !strings.Contains(r.stderr, "registry.invalid") || !strings.Contains(r.stderr, "Error response from daemon") {
		t.Errorf("want exit 2 and docker's reason on stderr:\n%s", r)
	}
}

// TestRunnerSettings: a named volume mounted as a cache persists between
// builds, an extra variable reaches the build, the image is overridden by
// flag and by environment, and BUILD_INFO records targets, names and the
// image but not the variable's value.
func TestRunnerSettings(t *testing.T) {
	image := builderImage(t)
	vol := "smbuild-test-cache-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	if out, err := exec.Command("docker", "volume", "create", "--label", "smbuild-test=1", vol).CombinedOutput(); err != nil {
		t.Fatalf("docker volume create: %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("docker", "volume", "rm", "--force", vol).CombinedOutput(); err != nil {
			t.Errorf("docker volume rm: %v: %s", err, out)
		}
	}()
	// The configuration names an image that is not there: the override
	// must be what runs.
	src := source(t, "sha256:"+strings.Repeat("1", 64), "FAKEBUILDER_CACHE=/var/cache/fake\n", nil)
	args := []string{"build", "--src", src, "--volume", vol + ":/var/cache/fake", "--env", "http_proxy=http://user:secret@proxy.invalid:3128"}
	r := smbuild_(t.Context(), append(args, "--image", image)...)
	if r.code != 0 || !strings.Contains(r.stdout, "[build] fakebuilder: cache /var/cache/fake has seen 1 runs\n") ||
		!strings.Contains(r.stdout, "[build] fakebuilder: http_proxy is http://user:secret@proxy.invalid:3128\n") {
		t.Fatalf("first build:\n%s", r)
	}
	t.Setenv("SMBUILD_BUILDER_IMAGE", image)
	r = smbuild_(t.Context(), args...)
	if r.code != 0 || !strings.Contains(r.stdout, "[build] fakebuilder: cache /var/cache/fake has seen 2 runs\n") {
		t.Fatalf("second build (image from SMBUILD_BUILDER_IMAGE) did not see the cache:\n%s", r)
	}
	infoPath := filepath.Join(src, "output", short(t, src), "build", "BUILD_INFO")
	info := readBuildInfo(t, infoPath)
	for k, want := range map[string]string{"BUILDER_IMAGE": image, "BUILDER_IMAGE_ID": image, "BUILDER_IMAGE_FROM": "SMBUILD_BUILDER_IMAGE", "RUNNER_MOUNTS": "/var/cache/fake", "RUNNER_ENV": "http_proxy"} {
		if info[k] != want {
			t.Errorf("BUILD_INFO %s=%q, want %q", k, info[k], want)
		}
	}
	if text, _ := os.ReadFile(infoPath); strings.Contains(string(text), "secret") || strings.Contains(string(text), vol) {
		t.Errorf("BUILD_INFO holds the variable's value or the volume's name:\n%s", text)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", "debian:bookworm"}, `smbuild: --image: BUILDER_IMAGE "debian:bookworm" is not pinned by digest`},
		{[]string{"--env", "TZ=Europe/Berlin"}, "smbuild: --env TZ: smbuild sets TZ itself"},
		{[]string{"--env", "FAKEBUILDER_CACHE=/x"}, "smbuild: --env FAKEBUILDER_CACHE: the configuration sets FAKEBUILDER_CACHE"},
		{[]string{"--volume", "relative/dir:/x"}, `smbuild build: --volume "relative/dir:/x": "relative/dir" is neither an absolute host path nor a docker volume name`},
		{[]string{"--volume", vol + ":/output/x"}, "would cover or lie in /output"},
	} {
		r := smbuild_(t.Context(), append([]string{"build", "--src", src}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit 2 and %q:\n%s", tc.args, tc.want, r)
		}
	}
}

// TestCheck: a build checked against the SHA256SUMS of a release of the
// same commit: from a file and from a URL it matches; against a release
// whose builder leaked the host name it does not, and with the published
// ISO as reference the diagnosis names the leaking file.
func TestCheck(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	if r := smbuild_(t.Context(), "release", "--src", src); r.code != 0 {
		t.Fatalf("release: want exit 0:\n%s", r)
	}
	rel := filepath.Join(src, "output", short(t, src), "release")
	sums := filepath.Join(rel, "SHA256SUMS")
	r := smbuild_(t.Context(), "check", "--src", src, "--sums", sums)
	if r.code != 0 || !strings.Contains(r.stdout, "smbuild: check: reproduced: fake-live.iso has the published sha256 ") {
		t.Fatalf("check against its own release: want exit 0:\n%s", r)
	}
	data, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/release/SHA256SUMS" {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	if r := smbuild_(t.Context(), "check", "--src", src, "--sums", srv.URL+"/release/SHA256SUMS"); r.code != 0 {
		t.Errorf("check against a URL: want exit 0:\n%s", r)
	}
	if r := smbuild_(t.Context(), "check", "--src", src, "--sums", srv.URL+"/missing"); r.code != 2 || !strings.Contains(r.stderr, "404") {
		t.Errorf("check against a missing URL: want exit 2 naming 404:\n%s", r)
	}

	// A "published" release made by a builder that leaked its host name.
	pub := t.TempDir()
	if r := smbuild_(t.Context(), "build", "--src", src, "--env", "FAKEBUILDER_LEAK=hostname"); r.code != 0 {
		t.Fatalf("leaky build: %s", r)
	}
	built := filepath.Join(src, "output", short(t, src), "build")
	for _, f := range []string{"fake-live.iso", "SHA256SUMS"} {
		if err := os.Rename(filepath.Join(built, f), filepath.Join(pub, f)); err != nil {
			t.Fatal(err)
		}
	}
	r = smbuild_(t.Context(), "check", "--src", src, "--sums", filepath.Join(pub, "SHA256SUMS"))
	if r.code != 1 || !strings.Contains(r.stdout, "smbuild: check: NOT reproduced: fake-live.iso\n") || !strings.Contains(r.stdout, "pass the published ISO as --reference ISO") {
		t.Errorf("check against the leaky release: want exit 1:\n%s", r)
	}
	r = smbuild_(t.Context(), "check", "--src", src, "--sums", filepath.Join(pub, "SHA256SUMS"), "--reference", filepath.Join(pub, "fake-live.iso"))
	diag := filepath.Join(src, "output", short(t, src), "check", "diagnosis")
	if r.code != 1 || !strings.Contains(r.stdout, "/etc/build-host") || !strings.Contains(r.stdout, "smbuild: check: diagnosis in "+diag) || !exists(filepath.Join(diag, "checklist.md")) {
		t.Errorf("check with the reference: want exit 1 and a diagnosis naming /etc/build-host:\n%s", r)
	}
	// A reference that is not the published ISO is refused.
	r = smbuild_(t.Context(), "check", "--src", src, "--sums", sums, "--reference", filepath.Join(pub, "fake-live.iso"))
	if r.code != 2 || !strings.Contains(r.stderr, "it is not the published ISO") {
		t.Errorf("a wrong reference: want exit 2:\n%s", r)
	}
	if r := smbuild_(t.Context(), "check", "--src", src); r.code != 2 || !strings.Contains(r.stderr, "--sums FILE|URL (required)") {
		t.Errorf("check without --sums: want exit 2:\n%s", r)
	}
}

// TestRelease: a release holds the verified ISO, its SHA256SUMS and
// BUILD_INFO saying it was verified; a commit that does not verify gets no
// release folder.
func TestRelease(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	r := smbuild_(t.Context(), "release", "--src", src)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	out := filepath.Join(src, "output", short(t, src))
	a := readBuildInfo(t, filepath.Join(out, "build-a", "BUILD_INFO"))
	rel := readBuildInfo(t, filepath.Join(out, "release", "BUILD_INFO"))
	if rel["ISO_SHA256"] != a["ISO_SHA256"] || !strings.Contains(rel["VERIFIED"], "same sha256 "+a["ISO_SHA256"]) {
		t.Errorf("release BUILD_INFO: %v", rel)
	}
	sums, _ := os.ReadFile(filepath.Join(out, "release", "SHA256SUMS"))
	if string(sums) != a["ISO_SHA256"]+"  fake-live.iso\n" {
		t.Errorf("release SHA256SUMS = %q", sums)
	}
	if got, err := smbuild.SHA256File(filepath.Join(out, "release", "fake-live.iso")); err != nil || got != a["ISO_SHA256"] {
		t.Errorf("release ISO sha256 %s, %v", got, err)
	}
	if r := smbuild_(t.Context(), "release", "--src", src, "--allow-dirty"); r.code != 2 || !strings.Contains(r.stderr, "--allow-dirty is refused") {
		t.Errorf("release --allow-dirty: want exit 2:\n%s", r)
	}

	leaky := source(t, image, "FAKEBUILDER_LEAK=cpus\n", nil)
	r = smbuild_(t.Context(), "release", "--src", leaky)
	if r.code != 1 || !strings.Contains(r.stderr, "not released") || exists(filepath.Join(leaky, "output", short(t, leaky), "release")) {
		t.Errorf("leaky release: want exit 1 and no release folder:\n%s", r)
	}
}

// TestLeftoverContainersRemoved: after smbuild is killed with SIGKILL, its
// two build containers keep running; the next run removes them.
func TestLeftoverContainersRemoved(t *testing.T) {
	image := builderImage(t)
	bin := filepath.Join(t.TempDir(), "smbuild")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := source(t, image, "FAKEBUILDER_SLEEP=120s\n", nil)
	containers := func() []string {
		out, err := exec.Command("docker", "ps", "--all", "--quiet", "--filter", "label=smbuild="+short(t, src)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))
	}
	defer func() {
		for _, id := range containers() {
			_ = exec.Command("docker", "rm", "--force", id).Run()
		}
	}()
	var stdout lockedBuffer
	cmd := exec.Command(bin, "verify", "--src", src)
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(containers()) < 2 || !strings.Contains(stdout.String(), "[b] fakebuilder: sleeping") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the two builds did not start:\n%s", stdout.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	time.Sleep(time.Second)
	if n := len(containers()); n != 2 {
		t.Fatalf("after SIGKILL %d containers run, want the 2 left behind", n)
	}
	other := source(t, image, "", nil)
	r := smbuild_(t.Context(), "build", "--src", other)
	if r.code != 0 || strings.Count(r.stdout, "smbuild: removing leftover container smbuild-"+short(t, src)+"-") != 2 ||
		!strings.Contains(r.stdout, "(the smbuild process that started it is gone)") {
		t.Errorf("the next run did not say it removed both:\n%s", r)
	}
	if left := containers(); len(left) > 0 {
		t.Errorf("containers still there: %v", left)
	}
	// Build b's reordered copy of the source, left by the killed run.
	if !strings.Contains(r.stdout, "smbuild: removed leftover source copy /dev/shm/smbuild-source-") {
		t.Errorf("the next run did not say it removed the killed run's source copy:\n%s", r)
	}
}

// TestExampleWorkflow: every smbuild command of the example workflow
// parses (the flags exist and fit the command): run in a folder that is no
// git work tree, each gets as far as reading the source.
func TestExampleWorkflow(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "gitea-verify.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "smbuild ") {
			continue
		}
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
		}
		// The shell expands ${HTTP_PROXY:+...} to nothing without a proxy.
		if j := strings.Index(l, "${HTTP_PROXY:+"); j >= 0 {
			l = l[:j]
		}
		cmds = append(cmds, strings.Fields(l)[1:])
	}
	if len(cmds) != 2 || cmds[0][0] != "verify" || cmds[1][0] != "release" {
		t.Fatalf("the workflow's smbuild commands: %q", cmds)
	}
	dir := t.TempDir()
	for _, c := range cmds {
		args := append(c, "--src", dir)
		r := smbuild_(t.Context(), args...)
		if r.code != 2 || !strings.Contains(r.stderr, "is not in a git work tree") {
			t.Errorf("smbuild %s: want it to parse and stop at the source:\n%s", strings.Join(args, " "), r)
		}
	}
}

// TestVariationCannotBeMade: a variation that is on but cannot be made
// stops smbuild before anything runs, saying how to switch it off.
func TestVariationCannotBeMade(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	conf := filepath.Join(src, "config", "build.conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "BUILDER_LIBFAKETIME="+smbuildtest.LibFaketime, "BUILDER_LIBFAKETIME=/usr/lib/none/libfaketime.so.1", 1))
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	smbuildtest.Git(t, src, "commit", "--quiet", "--all", "--message", "wrong libfaketime")
	if err := os.Chmod(src, 0o700); err != nil {
		t.Fatal(err)
	}
	r := smbuild_(t.Context(), "verify", "--src", src)
	for _, want := range []string{
		"smbuild: BUILDER_LIBFAKETIME /usr/lib/none/libfaketime.so.1 is not in the builder image " + image + ": without it build b's clock would not move",
		"BUILD_VARY_TIME='no: <reason>'",
		"smbuild: build b runs as uid:gid 1000:1000 and cannot enter the source " + src + " (mode 0700)",
	} {
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit 2 and %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "[a] ") || exists(filepath.Join(src, "output", short(t, src), "build-a")) {
		t.Errorf("a build ran:\n%s", r)
	}
}
