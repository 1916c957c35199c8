// Command smbuild builds a live ISO twice and says why the builds differ.
//
// It builds the checked-out commit of a live-ISO project inside a builder
// container pinned by digest; `smbuild verify` builds it twice, build b under deliberately different
// conditions (host name, source path, umask, clock, CPUs, user, HOME,
// locale, time zone, kernel release, file ordering; each on unless the
// configuration switches it off with a reason), and compares the two ISOs
// with the isodiff library, in process, writing a diagnosis when they
// differ. `smbuild release` verifies and gathers the ISO, SHA256SUMS and
// BUILD_INFO to publish; `smbuild check` builds once against a published
// SHA256SUMS and diagnoses a mismatch against the published ISO.
//
// Usage:
//
//	smbuild build   [flags]   one build into OUT/<commit>/build
//	smbuild verify  [flags]   two builds into OUT/<commit>/build-a and build-b,
//	                          then compare; a diagnosis goes to OUT/<commit>/diagnosis
//	smbuild release [flags]   verify, then OUT/<commit>/release
//	smbuild check --sums FILE|URL [--reference ISO] [flags]
//	                          one build into OUT/<commit>/check/build against the
//	                          published sums; a diagnosis into OUT/<commit>/check/diagnosis
//
// Flags:
//
//	--src DIR      the git work tree to build (default .; its top level is used)
//	--config DIR   the config folder (default: the first of SRC/config,
//	               TOP/config, TOP/linux/build/config that exists)
//	--out DIR      where output folders go (default CONFIG/../output)
//	--docker PATH  the docker client to run (default docker)
//	--allow-dirty  build even with uncommitted changes or untracked (not
//	               ignored) files; the output root is not counted; not for release
//	--tail N       lines of a failed build's log to print (default 40)
//	--sequential   verify, release: run build b after build a, not alongside it
//	--volume SRC:TARGET[:ro], --env NAME[=VALUE], --image REF
//	               runner settings: mounts (an apt cache volume), extra
//	               environment (a proxy), the builder image override (also
//	               SMBUILD_BUILDER_IMAGE)
//
// Exit status: 0 the build succeeded / the two builds are identical / the
// build has the published sum; 1 they differ; 2 trouble: bad config,
// unpinned image, a variation that cannot be made, a failed build or pull,
// an interruption, or anything else that stopped smbuild from answering.
//
// The configuration format, the container contract, what each variation
// does and why (libfaketime for the clock: a time namespace cannot move the
// wall clock), the BUILD_INFO keys and the output layout are described in
// README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/isodiff/isodiff/internal/smbuild"
	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

const usage = `usage: smbuild build   [flags]  one build of the checked-out commit into OUT/<commit>/build
       smbuild verify  [flags]  two builds, b differing in everything that must not matter
                                (host name, source path, umask, clock, CPUs, user, HOME,
                                locale, time zone, kernel release, file ordering), into
                                OUT/<commit>/build-a and build-b, then compare them; on a
                                difference write OUT/<commit>/diagnosis/
       smbuild release [flags]  verify, then put the ISO, SHA256SUMS and BUILD_INFO into
                                OUT/<commit>/release
       smbuild check --sums FILE|URL [--reference ISO] [flags]
                                one build into OUT/<commit>/check/build, compared with the
                                published SHA256SUMS; with the published ISO as --reference,
                                a difference is diagnosed into OUT/<commit>/check/diagnosis
flags:
  --src DIR        git work tree to build (default .)
  --config DIR     config folder (default: SRC/config, TOP/config or TOP/linux/build/config,
                   the first that exists; TOP is the work tree's top level)
  --out DIR        output root (default: beside the config folder, CONFIG/../output)
  --docker PATH    docker client (default docker)
  --allow-dirty    build with uncommitted changes or untracked files (not for release)
  --tail N         lines of a failed build's log to print (default 40)
  --sequential     verify, release: run the builds one after the other
runner settings (this machine's, not the commit's; BUILD_INFO records targets and names):
  --volume SRC:TARGET[:ro]  mount a docker volume or an absolute host path in both builds
                            (e.g. an apt cache: apt-cache:/var/cache/apt/archives); repeatable
  --env NAME[=VALUE]        extra environment variable (NAME alone: smbuild's own value);
                            repeatable; may not change what the configuration sets
  --image REF               builder image instead of BUILDER_IMAGE, pinned by digest
                            (also SMBUILD_BUILDER_IMAGE in the environment)
exit status: 0 built / identical / reproduced, 1 the builds differ, 2 trouble
`

// Exit statuses.
const (
	exitOK        = 0
	exitDifferent = 1
	exitTrouble   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitTrouble
	}
	cmd := args[0]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "build", "verify", "check", "release":
	default:
		fmt.Fprintf(stderr, "smbuild: unknown command %q\n%s", cmd, usage)
		return exitTrouble
	}
	fs := flag.NewFlagSet("smbuild "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var o smbuild.Options
	var docker string
	fs.StringVar(&o.Src, "src", ".", "")
	fs.StringVar(&o.ConfigDir, "config", "", "")
	fs.StringVar(&o.OutDir, "out", "", "")
	fs.StringVar(&docker, "docker", "docker", "")
	fs.BoolVar(&o.AllowDirty, "allow-dirty", false, "")
	fs.IntVar(&o.TailLines, "tail", 40, "")
	sequential := fs.Bool("sequential", false, "")
	var image, sums, reference string
	fs.StringVar(&image, "image", "", "")
	fs.StringVar(&sums, "sums", "", "")
	fs.StringVar(&reference, "reference", "", "")
	var bad []string
	fs.Func("volume", "", func(v string) error {
		m, err := smbuild.ParseMount(v)
		if err != nil {
			bad = append(bad, err.Error())
		}
		o.Mounts = append(o.Mounts, m)
		return nil
	})
	fs.Func("env", "", func(v string) error {
		e, err := smbuild.ParseRunnerEnv(v)
		if err != nil {
			bad = append(bad, err.Error())
		}
		o.RunnerEnv = append(o.RunnerEnv, e)
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitTrouble
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "smbuild %s: unexpected argument %q\n%s", cmd, fs.Arg(0), usage)
		return exitTrouble
	}
	if (sums != "" || reference != "") != (cmd == "check") || (cmd == "check" && sums == "") {
		bad = append(bad, "--sums FILE|URL (required) and --reference ISO go with check, and only with check")
	}
	if *sequential && cmd != "verify" && cmd != "release" {
		bad = append(bad, "--sequential goes with verify and release")
	}
	if cmd == "release" && o.AllowDirty {
		bad = append(bad, "a release is of a commit: --allow-dirty is refused")
	}
	o.Image, o.ImageFrom = image, "--image"
	if image == "" {
		o.Image, o.ImageFrom = os.Getenv("SMBUILD_BUILDER_IMAGE"), "SMBUILD_BUILDER_IMAGE"
	}
	if v := os.Getenv("BUILDER_IMAGE"); v != "" {
		fmt.Fprintf(stderr, "smbuild: warning: BUILDER_IMAGE=%s in the environment is not used; override the configuration's builder image with --image or SMBUILD_BUILDER_IMAGE\n", v)
	}
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintf(stderr, "smbuild %s: %s\n", cmd, b)
		}
		return exitTrouble
	}
	if o.TailLines < 1 {
		fmt.Fprintln(stderr, "smbuild: --tail must be at least 1")
		return exitTrouble
	}
	o.Docker = smbuild.Docker{Bin: docker}
	term := smbuild.NewSyncWriter(stdout)
	o.Progress = term

	job, err := smbuild.Prepare(ctx, o)
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "smbuild: %s\n", l)
		}
		return exitTrouble
	}
	fmt.Fprintf(term, "smbuild: %s of %s (SOURCE_DATE_EPOCH=%d from %s, snapshot %s, image %s)\n",
		cmd, job.Source.Commit, job.SourceDateEpoch, job.SourceDateEpochFrom, job.Config.SnapshotTimestamp, job.Image)
	if cmd == "build" {
		res, err := job.Build(ctx, job.Variants()[0], filepath.Join(job.OutDir, "build"), term, "[build] ")
		if err != nil {
			reportFailure(stderr, err)
			return exitTrouble
		}
		fmt.Fprintf(term, "smbuild: built %s\nsmbuild: sha256 %s\n", res.ISO, res.SHA256)
		return exitOK
	}
	switch cmd {
	case "check":
		return check(ctx, job, sums, reference, term, stdout, stderr)
	case "release":
		return release(ctx, job, term, stdout, stderr, *sequential)
	}
	code, _ := verify(ctx, job, term, stdout, stderr, *sequential)
	return code
}

// verify builds twice and compares; on success it also returns build a.
func verify(ctx context.Context, job *smbuild.Job, term, stdout, stderr io.Writer, sequential bool) (int, *smbuild.Result) {
	var (
		results [2]*smbuild.Result
		errs    [2]error
	)
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, d := range []string{"build-a", "build-b", "diagnosis"} {
		if err := os.RemoveAll(filepath.Join(job.OutDir, d)); err != nil {
			fmt.Fprintf(stderr, "smbuild: cannot clean %s: %v\n", filepath.Join(job.OutDir, d), err)
			return exitTrouble, nil
		}
	}
	build := func(i int) {
		v := job.Variants()[i]
		results[i], errs[i] = job.Build(bctx, v, filepath.Join(job.OutDir, "build-"+v.Name), term, "["+v.Name+"] ")
		if errs[i] != nil {
			cancel(fmt.Errorf("build %s failed", v.Name))
		}
	}
	if sequential {
		build(0)
		if errs[0] == nil {
			build(1)
		}
	} else {
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); build(i) }()
		}
		wg.Wait()
	}
	if errs[0] != nil || errs[1] != nil {
		for _, err := range errs {
			var be *smbuild.BuildError
			if errors.As(err, &be) && be.Interrupted && ctx.Err() == nil {
				fmt.Fprintf(stderr, "smbuild: build %s stopped: %v\n", be.Variant.Name, context.Cause(bctx))
				continue
			}
			if err != nil {
				reportFailure(stderr, err)
			}
		}
		return exitTrouble, nil
	}
	a, b := results[0], results[1]
	if a.SHA256 == b.SHA256 {
		fmt.Fprintf(term, "smbuild: verify: identical: both builds of %s produced %s with sha256 %s\n",
			job.Source.Short(), filepath.Base(a.ISO), a.SHA256)
		return exitOK, a
	}
	fmt.Fprintf(term, "smbuild: verify: the builds differ:\n  a: sha256 %s  %s\n  b: sha256 %s  %s\nsmbuild: diagnosing with isodiff\n",
		a.SHA256, a.ISO, b.SHA256, b.ISO)
	variations := job.VariationReport()
	fmt.Fprintf(term, "smbuild: what differed between the builds (and what did not):\n%s", indent(variations))
	diag := filepath.Join(job.OutDir, "diagnosis")
	rep, ok := diagnose(ctx, a.ISO, b.ISO, diag, stdout, stderr)
	if !ok {
		return exitTrouble, nil
	}
	if err := os.WriteFile(filepath.Join(diag, smbuild.VariationsFile), []byte(smbuild.VariationsHeader+variations), 0o644); err != nil {
		fmt.Fprintf(stderr, "smbuild: writing the diagnosis: %v\n", err)
		return exitTrouble, nil
	}
	switch rep.ExitCode() {
	case exitOK:
		fmt.Fprintln(stderr, "smbuild: the ISOs' SHA-256 differ but isodiff found them identical; this is a bug, please report it")
		return exitTrouble, nil
	case exitTrouble:
		fmt.Fprintln(stderr, "smbuild: warning: the diagnosis is incomplete (isodiff had trouble; see its report)")
	}
	fmt.Fprintf(term, "smbuild: verify: NOT reproducible; diagnosis in %s\n", diag)
	return exitDifferent, nil
}

// diagnose compares two ISOs with isodiff, writes the report into dir and
// prints its summary. It reports false when there is no complete diagnosis
// to go on (an error, or an interruption: then the report so far is still
// written).
func diagnose(ctx context.Context, isoA, isoB, dir string, stdout, stderr io.Writer) (*report.Report, bool) {
	rep, err := isodiff.Compare(ctx, isoA, isoB, isodiff.Options{})
	if rep == nil {
		fmt.Fprintf(stderr, "smbuild: diagnosis failed: %v\n", err)
		return nil, false
	}
	if werr := report.WriteDir(dir, rep); werr != nil {
		fmt.Fprintf(stderr, "smbuild: writing the diagnosis: %v\n", werr)
		return nil, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "smbuild: diagnosis interrupted (%v); the report so far is in %s\n", err, dir)
		return nil, false
	}
	if err := report.WriteSummary(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "smbuild: %v\n", err)
	}
	return rep, true
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// reportFailure prints a failed build's reason and the tail of its log.
func reportFailure(w io.Writer, err error) {
	var be *smbuild.BuildError
	if !errors.As(err, &be) {
		fmt.Fprintf(w, "smbuild: %v\n", err)
		return
	}
	if be.Interrupted {
		fmt.Fprintf(w, "smbuild: build %s interrupted (%s); its container was stopped and removed (log: %s)\n", be.Variant.Name, be.Reason, be.Log)
		return
	}
	fmt.Fprintf(w, "smbuild: %v\n", be)
	if len(be.Tail) > 0 {
		fmt.Fprintf(w, "smbuild: last %d lines of %s:\n", len(be.Tail), be.Log)
		for _, l := range be.Tail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
	if len(be.ErrTail) > 0 {
		fmt.Fprintf(w, "smbuild: its last %d lines on standard error:\n", len(be.ErrTail))
		for _, l := range be.ErrTail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
}
