package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/smbuild"
	"github.com/isodiff/isodiff/internal/smbuild/smbuildtest"
	"github.com/isodiff/isodiff/internal/testimg"
)

// The builder image is made once, on first use, and removed at the end.
var (
	imageOnce sync.Once
	imageID   string
	imageErr  error
	engineErr string
)

func TestMain(m *testing.M) {
	engineErr = smbuildtest.EngineError()
	code := m.Run()
	if imageID != "" {
		if err := smbuildtest.RemoveImage(imageID); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// builderImage returns the id of the fake builder image, skipping the test
// when no Docker engine answers.
func builderImage(t *testing.T) string {
	t.Helper()
	if engineErr != "" {
		t.Skipf("SKIP: this test needs a Docker engine: %s", engineErr)
	}
	imageOnce.Do(func() {
		work, err := os.MkdirTemp("", "smbuild-image")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(work)
		imageID, imageErr = smbuildtest.MakeImage(work)
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageID
}

// source makes a git repository to build: config/build.conf with image and
// the extra lines, the snapshot pin, and files.
func source(t *testing.T, image string, conf string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"config/build.conf": "# test builder\nBUILDER_IMAGE=" + image + "\n" +
			"BUILD_COMMAND='/fakebuilder --out /output/ --name fake-live.iso'\nBUILDER_NETWORK=none\n" +
			"BUILDER_LIBFAKETIME=" + smbuildtest.LibFaketime + "\n" + conf,
		"config/snapshot-pin.env": "SNAPSHOT_TIMESTAMP=20250101T000000Z\n",
		"VERSION":                 t.Name() + "\n", // each test its own commit
		".gitignore":              "/output/\n",
	}
	for k, v := range files {
		all[k] = v
	}
	smbuildtest.GitRepo(t, dir, all)
	// Build b runs as another user (t.TempDir is 0700).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

func smbuild_(ctx context.Context, args ...string) result {
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

func readBuildInfo(t *testing.T, p string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := smbuild.ParseEnvFile(p, data)
	if err != nil {
		t.Fatalf("BUILD_INFO does not parse: %v\n%s", err, data)
	}
	m := map[string]string{}
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m
}

// checkHostIndependent fails when text names this host or the source path.
func checkHostIndependent(t *testing.T, name, text, src string) {
	t.Helper()
	host, _ := os.Hostname()
	for _, bad := range []string{src, os.TempDir(), host} {
		if bad != "" && strings.Contains(text, bad) {
			t.Errorf("%s names the host (%q):\n%s", name, bad, text)
		}
	}
}

func TestVerifyDeterministicBuilderPasses(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	start := time.Now()
	r := smbuild_(t.Context(), "verify", "--src", src)
	t.Logf("verify took %s", time.Since(start).Round(time.Millisecond))
	if r.code != 0 || !strings.Contains(r.stdout, "smbuild: verify: identical") {
		t.Fatalf("want exit 0 and identical:\n%s", r)
	}
	commit := smbuildtest.Git(t, src, "rev-parse", "HEAD")
	out := filepath.Join(src, "output", commit[:12])
	// The two builds ran under different conditions, each streamed with its
	// prefix.
	for _, want := range []string{
		"[a] fakebuilder: host name smbuild-a, working directory /source\n",
		"[b] fakebuilder: host name smbuild-variant-b.invalid, working directory /build/variant-b/source\n",
		"[a] fakebuilder: umask 0022\n", "[b] fakebuilder: umask 0002\n",
		"[a] fakebuilder: 2 CPUs, uid 0 gid 0, HOME /root, LC_ALL C.UTF-8, TZ UTC\n",
		"[b] fakebuilder: 1 CPUs, uid 1000 gid 1000, HOME /nonexistent/smbuild-variant-b, LC_ALL fr_CH.UTF-8, TZ <+14>-14\n",
		"[a] fakebuilder: date +%F says " + time.Now().UTC().Format("2006-01-02") + "\n",
		// Build b's clock is 398 days ahead, and its zone is UTC+14.
		"[b] fakebuilder: date +%F says " + time.Now().UTC().Add(14*time.Hour).AddDate(0, 0, 398).Format("2006-01-02") + "\n",
		"[a] fakebuilder: done\n", "[b] fakebuilder: done\n",
		"[b] smbuild: copying the source to /dev/shm, each directory's entries in reverse order\n",
		"[b] fakebuilder: kernel 2.6.",
		"[a] fakebuilder: kernel " + hostRelease(t) + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	for _, v := range []string{"a", "b"} {
		dir := filepath.Join(out, "build-"+v)
		iso, err := os.ReadFile(filepath.Join(dir, "fake-live.iso"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(iso)
		sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		if want := hex.EncodeToString(sum[:]) + "  fake-live.iso\n"; string(sums) != want {
			t.Errorf("build-%s/SHA256SUMS = %q, want %q", v, sums, want)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "build.log"))
		if !strings.Contains(string(log), "fakebuilder: done\n") {
			t.Errorf("build-%s/build.log lacks the build's output:\n%s", v, log)
		}
		infoText, _ := os.ReadFile(filepath.Join(dir, "BUILD_INFO"))
		checkHostIndependent(t, "build-"+v+"/BUILD_INFO", string(infoText), src)
		info := readBuildInfo(t, filepath.Join(dir, "BUILD_INFO"))
		for k, want := range map[string]string{
			"COMMIT":                 commit,
			"SOURCE_DATE_EPOCH":      fmt.Sprint(smbuildtest.CommitEpoch),
			"SOURCE_DATE_EPOCH_FROM": "commit",
			"SNAPSHOT_TIMESTAMP":     "20250101T000000Z",
			"BUILDER_IMAGE":          image,
			"BUILDER_IMAGE_ID":       image,
			"TOOLCHAIN_COMMIT":       "none",
			"SOURCE_DIRTY":           "no",
			"BUILD_VARIANT":          v,
			"BUILD_VARY_TIME":        "yes",
			"BUILD_INFO_FORMAT":      "2",
			"BUILD_VARY_USER":        "yes",
			"ISO":                    "fake-live.iso",
			"ISO_SHA256":             hex.EncodeToString(sum[:]),
		} {
			if info[k] != want {
				t.Errorf("build-%s BUILD_INFO %s=%q, want %q", v, k, info[k], want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "diagnosis")); err == nil {
		t.Error("identical builds left a diagnosis folder")
	}
	infoB := readBuildInfo(t, filepath.Join(out, "build-b", "BUILD_INFO"))
	for k, want := range map[string]string{
		"BUILD_CLOCK": "+398d", "BUILD_CPUS": "1 (cpuset 0)", "BUILD_USER": "1000:1000", "BUILD_HOME": "/nonexistent/smbuild-variant-b",
		"BUILD_LOCALE": "fr_CH.UTF-8", "BUILD_TZ": "<+14>-14", "BUILD_HOSTNAME": "smbuild-variant-b.invalid", "BUILD_FILE_ORDER": "reversed (a copy)", "BUILD_KERNEL": "2.6.x (setarch --uname-2.6)",
	} {
		if infoB[k] != want {
			t.Errorf("build-b BUILD_INFO %s=%q, want %q", k, infoB[k], want)
		}
	}
}

// TestVerifyLeakyBuilderFails checks that each variation verify makes
// catches, on its own, the leak it is there for, and that the summary a
// person reads names the inner file that leaked.
func TestVerifyLeakyBuilderFails(t *testing.T) {
	image := builderImage(t)
	for _, tc := range []struct{ leak, file string }{
		{"hostname", "/etc/build-host"},
		{"path", "/etc/build-path"},
		{"umask", "/etc/os-release"},
		{"time", "/etc/build-date"},
		{"cpus", "/etc/build-cpus"},
		{"user", "/etc/build-user"},
		{"home", "/etc/build-home"},
		{"locale", "/etc/build-locale"},
		{"timezone", "/etc/build-date"},
		{"kernel", "/etc/build-kernel"},
		{"fileordering", "/etc/build-order"},
	} {
		t.Run(tc.leak, func(t *testing.T) {
			// Only the variation under test is on: it alone must catch
			// its leak.
			conf := "FAKEBUILDER_LEAK=" + tc.leak + "\n"
			for _, x := range smbuild.Variations {
				if x.Name != tc.leak {
					conf += x.Key + "='no: isolating the " + tc.leak + " leak'\n"
				}
			}
			src := source(t, image, conf, nil)
			r := smbuild_(t.Context(), "verify", "--src", src)
			if r.code != 1 {
				t.Fatalf("want exit 1:\n%s", r)
			}
			named := false
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.Contains(l, "/live/filesystem.squashfs") && strings.Contains(l, tc.file) {
					named = true
				}
			}
			if !named {
				t.Errorf("no line of the summary names %s inside /live/filesystem.squashfs:\n%s", tc.file, r)
			}
			commit := smbuildtest.Git(t, src, "rev-parse", "HEAD")
			diag := filepath.Join(src, "output", commit[:12], "diagnosis")
			if !strings.Contains(r.stdout, "diagnosis in "+diag) {
				t.Errorf("output does not say where the diagnosis is:\n%s", r)
			}
			for _, f := range []string{"checklist.md", "report.json"} {
				data, err := os.ReadFile(filepath.Join(diag, f))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(data, []byte(tc.file)) {
					t.Errorf("diagnosis/%s does not name %s", f, tc.file)
				}
			}
			// The diagnosis and the output say what was varied, and
			// what was not and why.
			vary, err := os.ReadFile(filepath.Join(diag, "VARIATIONS"))
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range smbuild.Variations {
				want := fmt.Sprintf("%-12s not varied (%s=no): isolating the %s leak; both: ", x.Name, x.Key, tc.leak)
				if x.Name == tc.leak {
					want = fmt.Sprintf("%-12s a: ", x.Name)
				}
				if !bytes.Contains(vary, []byte("\n"+want)) {
					t.Errorf("diagnosis/VARIATIONS lacks %q:\n%s", want, vary)
				}
				if !strings.Contains(r.stdout, "\n  "+want) {
					t.Errorf("output lacks %q:\n%s", want, r)
				}
			}
		})
	}
}

// TestVariationSwitchedOff checks that a variation switched off is not
// made (the CPU leak passes unseen), and that BUILD_INFO and the output say
// so with the reason.
func TestVariationSwitchedOff(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "FAKEBUILDER_LEAK=cpus\nBUILD_VARY_CPUS='no: the test says so'\n", nil)
	r := smbuild_(t.Context(), "verify", "--src", src)
	if r.code != 0 {
		t.Fatalf("want exit 0 (the leaking variation is off):\n%s", r)
	}
	if !strings.Contains(r.stdout, "[b] fakebuilder: 2 CPUs, uid 1000 gid 1000") || !strings.Contains(r.stdout, "[b] smbuild: build b of ") || !strings.Contains(r.stdout, ", cpus 2, user 1000:1000,") {
		t.Errorf("build b did not have all CPUs, or the output does not say so:\n%s", r)
	}
	commit := smbuildtest.Git(t, src, "rev-parse", "HEAD")
	for _, v := range []string{"a", "b"} {
		info := readBuildInfo(t, filepath.Join(src, "output", commit[:12], "build-"+v, "BUILD_INFO"))
		if info["BUILD_VARY_CPUS"] != "no: the test says so" || info["BUILD_CPUS"] != "2" || info["BUILD_VARY_TIME"] != "yes" {
			t.Errorf("build-%s BUILD_INFO: %v", v, info)
		}
	}
}

// TestBuild checks one build: the ISO is real (xorriso and unsquashfs read
// it), dated from the SOURCE_DATE_EPOCH override, and BUILD_INFO records the
// toolchain submodule.
func TestBuild(t *testing.T) {
	image := builderImage(t)
	testimg.Need(t, "xorriso", "unsquashfs")
	toolchain := t.TempDir()
	smbuildtest.GitRepo(t, toolchain, map[string]string{"README": "toolchain\n"})
	toolchainCommit := smbuildtest.Git(t, toolchain, "rev-parse", "HEAD")
	src := source(t, image, "", map[string]string{"config/source-date-epoch.env": "SOURCE_DATE_EPOCH=1700000000\n"})
	smbuildtest.Git(t, src, "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", toolchain, "toolchain")
	smbuildtest.Git(t, src, "commit", "--quiet", "--message", "add toolchain")

	r := smbuild_(t.Context(), "build", "--src", src)
	if r.code != 0 {
		t.Fatalf("want exit 0:\n%s", r)
	}
	if !strings.Contains(r.stdout, "[build] fakebuilder: done\n") {
		t.Errorf("output not streamed with its prefix:\n%s", r)
	}
	commit := smbuildtest.Git(t, src, "rev-parse", "HEAD")
	out := filepath.Join(src, "output", commit[:12], "build")
	info := readBuildInfo(t, filepath.Join(out, "BUILD_INFO"))
	for k, want := range map[string]string{
		"COMMIT":                 commit,
		"SOURCE_DATE_EPOCH":      "1700000000",
		"SOURCE_DATE_EPOCH_FROM": "config/source-date-epoch.env",
		"TOOLCHAIN_SUBMODULE":    "toolchain",
		"TOOLCHAIN_COMMIT":       toolchainCommit,
		"SUBMODULES":             "toolchain@" + toolchainCommit,
		"BUILD_VARIANT":          "a",
		"BUILD_HOSTNAME":         "smbuild-a",
	} {
		if info[k] != want {
			t.Errorf("BUILD_INFO %s=%q, want %q", k, info[k], want)
		}
	}
	iso := filepath.Join(out, "fake-live.iso")
	ls := testimg.Run(t, out, "xorriso", "-indev", iso, "-find", "/", "-exec", "lsdl")
	for _, want := range []string{"Nov 14  2023 '/live/filesystem.squashfs'", "'/live/vmlinuz'", "'/md5sum.txt'"} {
		if !strings.Contains(ls, want) {
			t.Errorf("xorriso listing lacks %q:\n%s", want, ls)
		}
	}
	sq := filepath.Join(t.TempDir(), "fs.squashfs")
	testimg.Run(t, out, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/live/filesystem.squashfs", sq)
	lln := testimg.Run(t, out, "unsquashfs", "-lln", sq)
	for _, want := range []string{
		"-rw-r--r-- 0/0                       8 2023-11-14 22:13 squashfs-root/etc/build-host",
		"-rwxr-xr-x 0/0                  307200 2023-11-14 22:13 squashfs-root/usr/bin/hello",
	} {
		if !strings.Contains(lln, want) {
			t.Errorf("unsquashfs -lln lacks %q:\n%s", want, lln)
		}
	}
	if got := testimg.Run(t, out, "unsquashfs", "-cat", sq, "usr/share/doc/fakelive/VERSION"); got != t.Name()+"\n" {
		t.Errorf("the build did not read the source: VERSION = %q", got)
	}
}

func TestFailingBuildShowsLogTail(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "FAKEBUILDER_FAIL=yes\n", nil)
	r := smbuild_(t.Context(), "verify", "--src", src, "--sequential")
	if r.code != 2 {
		t.Fatalf("want exit 2:\n%s", r)
	}
	for _, want := range []string{
		"smbuild: build a failed: the build command exited with status 3 (log: ",
		"build-a/build.log)",
		"smbuild: last 40 lines of ",
		"  | fakebuilder: step 60 of 60\n",
		"  | fakebuilder: error: failing as asked (FAKEBUILDER_FAIL=yes)\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stderr, "| fakebuilder: step 1 of 60\n") {
		t.Errorf("the tail is longer than 40 lines:\n%s", r)
	}
	if strings.Contains(r.stdout, "[b] ") {
		t.Errorf("build b ran after build a failed (--sequential):\n%s", r)
	}
}

func TestMissingCommandInImage(t *testing.T) {
	image := builderImage(t)
	src := source(t, image, "", nil)
	conf := filepath.Join(src, "config", "build.conf")
	data, _ := os.ReadFile(conf)
	data = bytes.Replace(data, []byte("/fakebuilder --out"), []byte("/no-such-builder --out"), 1)
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	smbuildtest.Git(t, src, "commit", "--quiet", "--all", "--message", "wrong command")
	r := smbuild_(t.Context(), "build", "--src", src)
	if r.code != 2 || !strings.Contains(r.stderr, "smbuild: build a failed: ") || !strings.Contains(r.stderr, "no-such-builder") {
		t.Errorf("want exit 2 naming the missing command:\n%s", r)
	}
}

// TestCtrlCRemovesContainers runs the smbuild binary, sends it SIGINT (what
// Ctrl-C sends) while both verify builds run, and checks that it exits 2
// and that both containers are gone.
func TestCtrlCRemovesContainers(t *testing.T) {
	image := builderImage(t)
	bin := filepath.Join(t.TempDir(), "smbuild")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := source(t, image, "FAKEBUILDER_SLEEP=120s\n", nil)
	short := smbuildtest.Git(t, src, "rev-parse", "HEAD")[:12]
	containers := func() []string {
		out, err := exec.Command("docker", "ps", "--all", "--quiet", "--filter", "label=smbuild="+short).Output()
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
	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "verify", "--src", src)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(containers()) < 2 || !strings.Contains(stdout.String(), "[a] fakebuilder: sleeping") || !strings.Contains(stdout.String(), "[b] fakebuilder: sleeping") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the two builds did not start:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("smbuild did not stop within a minute of SIGINT:\n%s", stdout.String())
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	r := result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	if err == nil || r.code != 2 {
		t.Errorf("want exit 2 (%v):\n%s", err, r)
	}
	if left := containers(); len(left) > 0 {
		t.Errorf("containers left behind: %v\n%s", left, r)
	}
	for _, v := range []string{"a", "b"} {
		if !strings.Contains(r.stdout, "["+v+"] smbuild: interrupted; stopping and removing container smbuild-"+short+"-"+v+"-") {
			t.Errorf("output does not say it stopped container %s:\n%s", v, r)
		}
		if !strings.Contains(r.stderr, "smbuild: build "+v+" interrupted (interrupt signal received); its container was stopped and removed (log: ") {
			t.Errorf("stderr does not say build %s was interrupted:\n%s", v, r)
		}
	}
	if strings.Contains(r.stderr, "last ") {
		t.Errorf("an interrupted build's log tail was printed as if it had failed:\n%s", r)
	}
}

// lockedBuffer is a bytes.Buffer that a running command may write while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The following need no Docker engine: smbuild refuses before it runs one.

func TestUnpinnedImageRefused(t *testing.T) {
	for ref, want := range map[string]string{
		"debian:bookworm":  `config/build.conf:2: BUILDER_IMAGE "debian:bookworm" is not pinned by digest: a tag can be moved to other content; pin it as name@sha256:<64 hex digits>`,
		"foo@sha256:short": `config/build.conf:2: BUILDER_IMAGE "foo@sha256:short": digest "sha256:short" is not sha256: followed by 64 lower-case hex digits (got 5 characters after sha256:)`,
	} {
		src := source(t, ref, "", nil)
		for _, cmd := range []string{"build", "verify"} {
			r := smbuild_(t.Context(), cmd, "--src", src)
			if r.code != 2 || !strings.Contains(r.stderr, want) {
				t.Errorf("%s with %s: want exit 2 and %q:\n%s", cmd, ref, want, r)
			}
			if _, err := os.Stat(filepath.Join(src, "output")); err == nil {
				t.Errorf("%s with %s made an output folder", cmd, ref)
			}
		}
	}
}

func TestBadConfigRefused(t *testing.T) {
	src := source(t, "sha256:"+strings.Repeat("0", 64), "BUILDER_PRIVILEGED=maybe\nMKSQUASHFS_OPTIONS=-comp xz\n", map[string]string{
		"config/snapshot-pin.env": "# pin\nSNAPSHOT_TIMESTAMP=yesterday\n",
	})
	r := smbuild_(t.Context(), "verify", "--src", src)
	for _, want := range []string{
		`smbuild: config/build.conf:6: BUILDER_PRIVILEGED "maybe" is not "yes" or "no"`,
		`smbuild: config/build.conf:7: MKSQUASHFS_OPTIONS: unexpected text "xz" after the value; quote values with blanks`,
		`smbuild: config/snapshot-pin.env:2: SNAPSHOT_TIMESTAMP "yesterday" is not of the form YYYYMMDDTHHMMSSZ`,
	} {
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit 2 and %q:\n%s", want, r)
		}
	}
}

func TestDirtySourceRefused(t *testing.T) {
	src := source(t, "sha256:"+strings.Repeat("0", 64), "", nil)
	if err := os.WriteFile(filepath.Join(src, "VERSION"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := smbuild_(t.Context(), "build", "--src", src)
	if r.code != 2 || !strings.Contains(r.stderr, "uncommitted changes in ") || !strings.Contains(r.stderr, "(VERSION)") {
		t.Errorf("want exit 2 naming the changed file:\n%s", r)
	}
	smbuildtest.Git(t, src, "checkout", "--", "VERSION")
	// Untracked files are seen by the build too; smbuild's output folder
	// is not counted even when it is not ignored.
	if err := os.WriteFile(filepath.Join(src, ".gitignore"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	smbuildtest.Git(t, src, "commit", "--quiet", "--all", "--message", "no ignore")
	for _, d := range []string{"output/0123456789ab", "stray"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, d, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r = smbuild_(t.Context(), "build", "--src", src)
	if r.code != 2 || !strings.Contains(r.stderr, "uncommitted changes in ") || !strings.Contains(r.stderr, "(stray/)") {
		t.Errorf("want exit 2 naming only the untracked folder stray/:\n%s", r)
	}
}

func TestUsage(t *testing.T) {
	if r := smbuild_(t.Context()); r.code != 2 || !strings.Contains(r.stderr, "usage: smbuild build") {
		t.Errorf("no arguments:\n%s", r)
	}
	if r := smbuild_(t.Context(), "help"); r.code != 0 || !strings.Contains(r.stdout, "smbuild verify  [flags]") {
		t.Errorf("help:\n%s", r)
	}
	if r := smbuild_(t.Context(), "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command:\n%s", r)
	}
	if r := smbuild_(t.Context(), "verify", "extra"); r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "extra"`) {
		t.Errorf("extra argument:\n%s", r)
	}
}

// hostRelease is the kernel release of this machine (and of the engine,
// which runs here).
func hostRelease(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
