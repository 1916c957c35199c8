package smbuild

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OutputPath is where a build's output folder is mounted in the container.
const OutputPath = "/output"

// Files smbuild writes into each build folder.
const (
	LogFile       = "build.log"
	BuildInfoFile = "BUILD_INFO"
	SumsFile      = "SHA256SUMS"
)

// Options say where things are.
type Options struct {
	Src        string // the source, a git work tree (its top level is used)
	ConfigDir  string // default <src>/config
	OutDir     string // default <src>/output
	Docker     Docker
	AllowDirty bool      // build even with uncommitted changes or untracked files
	Progress   io.Writer // smbuild's own messages; default io.Discard
	TailLines  int       // lines of a failed build's log to keep; default 40

	// Runner settings (see runner.go): mounts and extra environment of
	// both builds, and the builder image overriding BUILDER_IMAGE, with
	// where the override came from ("--image", "SMBUILD_BUILDER_IMAGE").
	Mounts    []Mount
	RunnerEnv []string // NAME=VALUE
	Image     string
	ImageFrom string
}

// Job is a prepared build of one commit: source, configuration and builder
// image all checked.
type Job struct {
	Opts                Options
	Source              *Source
	Config              *Config
	ImageID             string
	SourceDateEpoch     int64
	SourceDateEpochFrom string // "commit" or the overriding file
	Toolchain           *Submodule
	OutDir              string // <out>/<short commit>
	// Image is the builder image used: BUILDER_IMAGE, or the runner's
	// override; ImageFrom says which ("config" or Options.ImageFrom).
	Image, ImageFrom string
	// EngineCPUs is the number of CPUs of the docker engine; build b of
	// the cpus variation gets half of them.
	EngineCPUs int
}

// ErrDirty is returned by Prepare for a work tree with uncommitted changes
// or untracked files that are not ignored.
var ErrDirty = errors.New("uncommitted changes")

// Prepare reads and checks everything a build needs, and makes sure the
// builder image is present. It does not touch the output folder.
func Prepare(ctx context.Context, o Options) (*Job, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.TailLines == 0 {
		o.TailLines = 40
	}
	if o.Src == "" {
		o.Src = "."
	}
	src, err := ReadSource(ctx, o.Src)
	if err != nil {
		return nil, err
	}
	if o.ConfigDir == "" {
		if o.ConfigDir, err = findConfig(o.Src, src.Dir); err != nil {
			return nil, err
		}
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(filepath.Dir(o.ConfigDir), "output")
	}
	if o.ConfigDir, err = filepath.Abs(o.ConfigDir); err != nil {
		return nil, err
	}
	if o.OutDir, err = filepath.Abs(o.OutDir); err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(o.ConfigDir, shownPath(src.Dir, o.ConfigDir))
	if err != nil {
		return nil, err
	}
	j := &Job{Opts: o, Source: src, Config: cfg, OutDir: filepath.Join(o.OutDir, src.Short())}
	if err := src.CheckClean(ctx, o.OutDir); err != nil {
		return nil, err
	}
	if len(src.Dirty) > 0 && !o.AllowDirty {
		return nil, fmt.Errorf("%w in %s (%s): a build must be of a commit; commit, stash, remove or ignore them, or pass --allow-dirty (recorded as SOURCE_DIRTY=yes)", ErrDirty, src.Dir, strings.Join(first(src.Dirty, 5), ", "))
	}
	if j.Toolchain, err = src.Toolchain(cfg.ToolchainSubmodule); err != nil {
		return nil, err
	}
	if j.Toolchain != nil && j.Toolchain.State != ' ' && !o.AllowDirty {
		return nil, fmt.Errorf("toolchain submodule %s is not checked out at the commit recorded in %s (git submodule status shows %q); run git submodule update --init", j.Toolchain.Path, src.Short(), string(j.Toolchain.State))
	}
	j.SourceDateEpoch, j.SourceDateEpochFrom = src.CommitTime, "commit"
	if cfg.SourceDateEpochFile != "" {
		j.SourceDateEpoch, j.SourceDateEpochFrom = cfg.SourceDateEpoch, cfg.SourceDateEpochFile
	}
	if _, err := o.Docker.Check(ctx); err != nil {
		return nil, err
	}
	if err := o.Docker.RemoveLeftovers(ctx, src.Short(), o.Progress); err != nil {
		return nil, err
	}
	removeLeftoverCopies(o.Progress)
	if err := checkRunnerEnv(o.RunnerEnv, cfg); err != nil {
		return nil, err
	}
	j.Image, j.ImageFrom = cfg.BuilderImage, "config"
	if o.Image != "" {
		if err := CheckPinned(o.Image); err != nil {
			return nil, fmt.Errorf("%s: %v", o.ImageFrom, err)
		}
		j.Image, j.ImageFrom = o.Image, o.ImageFrom
		fmt.Fprintf(o.Progress, "smbuild: builder image %s from %s (instead of %s from the configuration)\n", o.Image, o.ImageFrom, cfg.BuilderImage)
	}
	if j.ImageID, err = o.Docker.ResolveImage(ctx, j.Image, o.Progress); err != nil {
		return nil, err
	}
	if j.EngineCPUs, err = o.Docker.CPUs(ctx); err != nil {
		return nil, err
	}
	if err := j.checkVariations(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// ConfigCandidates are where Prepare looks for the config folder when
// --config is not given, relative to the work tree's top level, after
// SRC/config (SRC being --src as given): the distribution's layout is
// linux/build/config.
var ConfigCandidates = []string{"config", "linux/build/config"}

// findConfig returns the first config folder of SRC/config and the
// ConfigCandidates under top that exists.
func findConfig(srcArg, top string) (string, error) {
	var tried []string
	if abs, err := filepath.Abs(srcArg); err == nil {
		tried = append(tried, filepath.Join(abs, "config"))
	}
	for _, c := range ConfigCandidates {
		tried = append(tried, filepath.Join(top, filepath.FromSlash(c)))
	}
	seen := map[string]bool{}
	var shown []string
	for _, p := range tried {
		if seen[p] {
			continue
		}
		seen[p] = true
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, nil
		}
		shown = append(shown, p)
	}
	return "", fmt.Errorf("no config folder found: tried %s; pass --config DIR (the output then goes beside it, to DIR/../output, unless --out says otherwise)", strings.Join(shown, ", "))
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

// shownPath names p relative to the source when it is inside it.
func shownPath(srcDir, p string) string {
	if rel, err := filepath.Rel(srcDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(rel)
	}
	return p
}

// Result is a finished build.
type Result struct {
	Variant Variant
	Dir     string // the build folder: ISO, SHA256SUMS, BUILD_INFO, build.log
	ISO     string // path of the ISO
	SHA256  string // hex
}

// BuildError is a build that did not produce an ISO.
type BuildError struct {
	Variant  Variant
	Log      string   // path of its build.log
	ExitCode int      // of docker run; -1 when it did not run to an end
	Reason   string   // what went wrong
	Tail     []string // the last lines of its output
	// ErrTail holds the last lines of its standard error when they are not
	// all in Tail.
	ErrTail []string
	// Interrupted is set when the build was stopped because its context
	// was cancelled (Ctrl-C, or the other verify build failing).
	Interrupted bool
}

func (e *BuildError) Error() string {
	if e.Interrupted {
		return fmt.Sprintf("build %s interrupted (%s) (log: %s)", e.Variant.Name, e.Reason, e.Log)
	}
	return fmt.Sprintf("build %s failed: %s (log: %s)", e.Variant.Name, e.Reason, e.Log)
}

// ResetDir empties dir, making it if needed.
func ResetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("cannot clean %s: %v", dir, err)
	}
	return os.MkdirAll(dir, 0o755)
}

// ContainerName is a name no other run will use.
func ContainerName(short, variant string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("smbuild-%s-%s-%s", short, variant, hex.EncodeToString(b[:]))
}

// Env is the environment of the build command, in order: the pins and
// variations smbuild sets, then config/*.conf's other assignments, then the
// runner's --env variables.
func (j *Job) Env(v Variant) []string {
	env := []string{
		"LC_ALL=" + v.Locale,
		"LANG=" + v.Locale,
		"TZ=" + v.TZ,
		"HOME=" + v.Home,
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(j.SourceDateEpoch, 10),
		"SNAPSHOT_TIMESTAMP=" + j.Config.SnapshotTimestamp,
		"UMASK=" + v.Umask,
	}
	if v.ClockOffset != "" {
		// Monotonic clocks are left alone: timeouts keep working.
		env = append(env, "LD_PRELOAD="+j.Config.LibFaketime, "FAKETIME="+v.ClockOffset, "FAKETIME_DONT_FAKE_MONOTONIC=1")
	}
	for _, e := range j.Config.Env {
		env = append(env, e.Key+"="+e.Value)
	}
	return append(env, j.Opts.RunnerEnv...)
}

// RunArgs are the arguments of `docker run` for a build of variant v into
// the host folder dir, in a container named name, of the source itself.
func (j *Job) RunArgs(v Variant, dir, name string) []string {
	return j.runArgs(v, dir, name, j.Source.Dir)
}

// runArgs is RunArgs with the host folder that holds the source (the
// source, or build b's reordered copy of it).
func (j *Job) runArgs(v Variant, dir, name, srcDir string) []string {
	args := []string{"run", "--rm", "--init", "--name", name, "--label", "smbuild=" + j.Source.Short(), "--label", OwnerLabel + "=" + Owner(),
		"--hostname", v.Hostname, "--workdir", v.SourcePath,
		"--mount", mountArg("type=bind", "source="+srcDir, "target="+v.SourcePath, "readonly"),
		"--mount", mountArg("type=bind", "source="+dir, "target="+OutputPath),
	}
	// Hide the output folder from the source mount when it lies inside it,
	// so that neither build sees the other's (or an earlier run's) output.
	if rel, err := filepath.Rel(j.Source.Dir, j.Opts.OutDir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		args = append(args, "--mount", mountArg("type=tmpfs", "target="+path.Join(v.SourcePath, filepath.ToSlash(rel)), "tmpfs-size=4096"))
	}
	for _, m := range j.Opts.Mounts {
		args = append(args, "--mount", m.arg())
	}
	if j.Config.Network == "none" {
		args = append(args, "--network", "none")
	}
	if j.Config.Privileged {
		args = append(args, "--privileged")
	}
	if v.CPUSet != "" {
		args = append(args, "--cpuset-cpus", v.CPUSet)
	}
	if v.User != "" {
		args = append(args, "--user", v.User)
	}
	for _, e := range j.Env(v)[:len(j.Env(v))-len(j.Opts.RunnerEnv)] {
		args = append(args, "--env", e)
	}
	// The runner's variables are passed by name, their values through the
	// docker client's environment (Build sets it): a proxy URL may hold a
	// password, and a command line is visible to every user of the host.
	for _, e := range j.Opts.RunnerEnv {
		name, _, _ := strings.Cut(e, "=")
		args = append(args, "--env", name)
	}
	args = append(args, j.ImageID)
	if j.Config.BuildShell != "" {
		args = append(args, j.Config.BuildShell, "-c", ShellWrapper, "smbuild-build")
	}
	if v.Uname26 {
		// The personality is inherited by everything the build runs;
		// docker's default seccomp profile allows it.
		args = append(args, j.Config.Setarch, "--uname-2.6")
	}
	return append(args, j.Config.BuildCommand...)
}

// ShellWrapper is the script BUILD_SHELL runs: it applies the umask and
// sends standard error to standard output, so that the order of the build's
// messages survives the trip through docker.
const ShellWrapper = `umask "$UMASK" && exec "$@" 2>&1`

// Build runs one build of variant v into dir, which it empties first. It
// streams the container's output to term, each line prefixed, and keeps it
// in dir/build.log. When ctx is cancelled it stops and removes the
// container before returning. A build that fails returns a *BuildError.
func (j *Job) Build(ctx context.Context, v Variant, dir string, term io.Writer, prefix string) (*Result, error) {
	if err := ResetDir(dir); err != nil {
		return nil, err
	}
	if v.User != "" {
		// Another uid writes the ISO into this host folder.
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, LogFile)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	sink := newLineSink(term, logf, prefix, j.Opts.TailLines)
	fail := func(code int, reason string) *BuildError {
		_ = sink.Close()
		tail, errTail := sink.Tail()
		return &BuildError{Variant: v, Log: logPath, ExitCode: code, Reason: reason, Tail: tail, ErrTail: errTail}
	}

	srcDir := j.Source.Dir
	if v.ReorderSource {
		fmt.Fprintf(sink, "smbuild: copying the source to %s, each directory's entries in reverse order\n", OrderBase)
		copyStart := time.Now()
		root, err := reorderedCopy(ctx, j.Source.Dir, j.Opts.OutDir)
		if err != nil {
			be := fail(-1, err.Error())
			if ctx.Err() != nil {
				be.Reason, be.Interrupted = context.Cause(ctx).Error(), true
			}
			return nil, be
		}
		defer os.RemoveAll(filepath.Dir(root))
		fmt.Fprintf(sink, "smbuild: copied in %s\n", time.Since(copyStart).Round(time.Millisecond))
		srcDir = root
	}
	name := ContainerName(j.Source.Short(), v.Name)
	start := time.Now().UTC()
	vals := v.values()
	var desc []string
	for _, x := range Variations {
		desc = append(desc, x.Name+" "+vals[x.Name])
	}
	fmt.Fprintf(sink, "smbuild: build %s of %s in container %s (%s)\n", v.Name, j.Source.Short(), name, strings.Join(desc, ", "))
	cmd := j.Opts.Docker.command(j.runArgs(v, dir, name, srcDir)...)
	cmd.Env = append(os.Environ(), j.Opts.RunnerEnv...)
	cmd.Stdout, cmd.Stderr = sink, sink.Stderr()
	if err := cmd.Start(); err != nil {
		return nil, fail(-1, fmt.Sprintf("cannot run docker: %v", err))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		fmt.Fprintf(sink, "smbuild: interrupted; stopping and removing container %s\n", name)
		j.Opts.Docker.ForceRemove(name)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		// A create request still in flight when the client stopped can
		// leave a container behind: look again.
		for i := 0; i < 3 && j.Opts.Docker.Exists(name); i++ {
			j.Opts.Docker.ForceRemove(name)
		}
		be := fail(-1, context.Cause(ctx).Error())
		be.Interrupted = true
		return nil, be
	}
	end := time.Now().UTC()
	if waitErr != nil {
		j.Opts.Docker.ForceRemove(name)
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return nil, fail(-1, waitErr.Error())
		}
		code := ee.ExitCode()
		return nil, fail(code, exitReason(code))
	}
	if err := sink.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %v", logPath, err)
	}
	iso, err := findISO(dir)
	if err != nil {
		return nil, fail(0, err.Error())
	}
	sum, err := SHA256File(filepath.Join(dir, iso))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(sum+"  "+iso+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, BuildInfoFile), j.buildInfo(v, iso, sum, start, end), 0o644); err != nil {
		return nil, err
	}
	return &Result{Variant: v, Dir: dir, ISO: filepath.Join(dir, iso), SHA256: sum}, nil
}

func exitReason(code int) string {
	switch code {
	case 125:
		return "docker could not create or start the container (exit status 125)"
	case 126:
		return "the build command could not be executed (exit status 126)"
	case 127:
		return "the build command was not found in the image (exit status 127)"
	case 137:
		return "the build was killed (exit status 137: SIGKILL, perhaps out of memory)"
	}
	return fmt.Sprintf("the build command exited with status %d", code)
}

// findISO returns the name of the one *.iso file at the top of dir.
func findISO(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var isos []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(strings.ToLower(e.Name()), ".iso") {
			isos = append(isos, e.Name())
		}
	}
	switch len(isos) {
	case 1:
		return isos[0], nil
	case 0:
		return "", fmt.Errorf("the build command succeeded but wrote no *.iso file to %s", OutputPath)
	}
	sort.Strings(isos)
	return "", fmt.Errorf("the build command wrote %d *.iso files to %s (%s); smbuild expects one", len(isos), OutputPath, strings.Join(isos, ", "))
}

// SHA256File is the hex SHA-256 of the file at p.
func SHA256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildInfo renders BUILD_INFO: KEY=VALUE lines in the syntax of the config
// files (ParseEnvFile reads it, sh can source it). It names no host: no
// host name, no host path, no user; the container paths and host names it
// records are smbuild's fixed variant values.
func (j *Job) buildInfo(v Variant, iso, sum string, start, end time.Time) []byte {
	toolchain, toolchainPath := "none", "none"
	if j.Toolchain != nil {
		toolchain, toolchainPath = j.Toolchain.Commit, j.Toolchain.Path
	}
	var subs []string
	for _, m := range j.Source.Submodules {
		subs = append(subs, m.Path+"@"+m.Commit)
	}
	dirty := "no"
	if len(j.Source.Dirty) > 0 {
		dirty = "yes"
	}
	kv := [][2]string{
		{"BUILD_INFO_FORMAT", "2"},
		{"COMMIT", j.Source.Commit},
		{"SOURCE_DIRTY", dirty},
		{"SOURCE_DATE_EPOCH", strconv.FormatInt(j.SourceDateEpoch, 10)},
		{"SOURCE_DATE_EPOCH_FROM", j.SourceDateEpochFrom},
		{"SNAPSHOT_TIMESTAMP", j.Config.SnapshotTimestamp},
		{"BUILDER_IMAGE", j.Image},
		{"BUILDER_IMAGE_FROM", j.ImageFrom},
		{"BUILDER_IMAGE_ID", j.ImageID},
		{"TOOLCHAIN_SUBMODULE", toolchainPath},
		{"TOOLCHAIN_COMMIT", toolchain},
		{"SUBMODULES", strings.Join(subs, " ")},
		{"BUILD_COMMAND", strings.Join(j.Config.BuildCommand, " ")},
		{"RUNNER_MOUNTS", runnerMounts(j.Opts.Mounts)},
		{"RUNNER_ENV", runnerEnvNames(j.Opts.RunnerEnv)},
		{"BUILD_VARIANT", v.Name},
		{"BUILD_HOSTNAME", v.Hostname},
		{"BUILD_SOURCE_PATH", v.SourcePath},
		{"BUILD_UMASK", v.Umask},
		{"BUILD_CLOCK", v.values()["time"]},
		{"BUILD_CPUS", v.values()["cpus"]},
		{"BUILD_USER", v.values()["user"]},
		{"BUILD_HOME", v.Home},
		{"BUILD_LOCALE", v.Locale},
		{"BUILD_TZ", v.TZ},
		{"BUILD_KERNEL", v.values()["kernel"]},
		{"BUILD_FILE_ORDER", v.values()["fileordering"]},
	}
	for _, x := range Variations {
		val := "yes"
		if why := j.Config.VaryOff(x.Name); why != "" {
			val = "no: " + why
		}
		kv = append(kv, [2]string{x.Key, val})
	}
	kv = append(kv, [][2]string{
		{"ISO", iso},
		{"ISO_SHA256", sum},
		{"BUILD_START", start.Format(time.RFC3339)},
		{"BUILD_END", end.Format(time.RFC3339)},
	}...)
	var b strings.Builder
	b.WriteString("# BUILD_INFO written by smbuild: KEY=VALUE lines in the syntax of config/*.conf.\n")
	for _, p := range kv {
		q, ok := quoteValue(p[1])
		if !ok {
			q = "'" + strings.Map(func(r rune) rune {
				if r == '\'' || r < 0x20 {
					return '?'
				}
				return r
			}, p[1]) + "'"
		}
		b.WriteString(p[0] + "=" + q + "\n")
	}
	return []byte(b.String())
}

func runnerMounts(ms []Mount) string {
	var t []string
	for _, m := range ms {
		t = append(t, m.Target)
	}
	return strings.Join(t, " ")
}

func runnerEnvNames(env []string) string {
	var n []string
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		n = append(n, name)
	}
	return strings.Join(n, " ")
}
