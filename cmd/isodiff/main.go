// Command isodiff tells why two builds of the same Linux live ISO differ.
//
//	isodiff [flags] A.iso B.iso
//
// It runs the staged comparison of package isodiff (sizes and SHA-256; ISO
// headers, system area, MBR/GPT and El Torito; the ISO tree; each embedded
// squashfs image's superblock and tree; file contents), reading both images
// in place, and prints a summary that ends with the short answer: every
// diverging path and what differs in it. With --output-dir it also writes
// the report files a CI step publishes. The exit status follows diff and
// cmp: 0 identical, 1 different, 2 trouble.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

const usage = `usage: isodiff [flags] A.iso B.iso

Compares two ISO images stage by stage, cheap to expensive, and prints which
files differ, how, and the likely cause. Exit status: 0 identical,
1 different, 2 trouble (a file could not be read, a stage failed, an image
is damaged, or the run was stopped by --timeout or a signal).

examples:
  isodiff a.iso b.iso                          the summary and short answer
  isodiff --output-dir diag a.iso b.iso        also write the CI report files
  isodiff --timeout 10m --no-diffoscope a.iso b.iso
  isodiff --json a.iso b.iso > report.json
  isodiff --html report.html a.iso b.iso       also write the report as one HTML page

flags:
`

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// sizeFlag is a byte count given as a number with an optional unit: K, M,
// G (powers of 1000 with B, of 1024 with iB or alone).
type sizeFlag int64

// String shows the size in the largest binary unit that divides it.
func (f *sizeFlag) String() string {
	n := int64(*f)
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (f *sizeFlag) Set(v string) error {
	s := strings.TrimSpace(v)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q", v)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1e3, "m": 1 << 20, "mib": 1 << 20,
		"mb": 1e6, "g": 1 << 30, "gib": 1 << 30, "gb": 1e9}[unit]
	if mult == 0 {
		return fmt.Errorf("bad size unit in %q", v)
	}
	*f = sizeFlag(n * mult)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal stops the comparison and writes the report so
		// far; a second one ends the process at once, as by default.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// parseArgs parses flags before, between and after the file names, as diff
// does; "--" ends the flags (what follows are file names, even "-a.iso").
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(files, rest...), nil
		}
		if len(rest) == 0 {
			return files, nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}

// usageError says what is wrong in one line and where help is; exit 2.
func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "isodiff: %s\nRun 'isodiff --help' for usage.\n", fmt.Sprintf(format, a...))
	return 2
}

// printUsage writes the help with every flag spelled as the README does.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "0s" && def != "[]" {
			help += " (default " + def + ")"
		}
		fmt.Fprintf(w, "        %s\n", help)
	})
}

// checkOutputDir makes dir if needed and proves a report file can be
// written there.
func checkOutputDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".isodiff-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// checkHTMLFile proves, before any work, that the page can be written at
// path: not a directory, in a directory that exists and is writable.
func checkHTMLFile(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("is a directory")
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".isodiff-check-*")
	if err != nil {
		return fmt.Errorf("cannot write there: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// versionString is the module version the binary was built from (a tag
// with go install ...@vX.Y.Z), else the library's version and the VCS
// revision when the build recorded one.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return isodiff.Version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "v" + isodiff.Version + " (devel"
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			v += " " + kv.Value[:min(12, len(kv.Value))]
		case "vcs.modified":
			if kv.Value == "true" {
				v += ", modified"
			}
		}
	}
	return v + ")"
}

// fixedMemory is the working memory a comparison needs whatever the images
// say (read buffers, fixed-size caches, the Go runtime): --memory-budget
// gives the rest to the budget charged by image-derived data.
const fixedMemory = 64 << 20

// run is the whole command, separated from main for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("isodiff", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // its errors are said once, by usageError
	var (
		outDir      = fs.String("output-dir", "", "write the report files (sizes.txt ... checklist.md, report.json) into `DIR`")
		asJSON      = fs.Bool("json", false, "print the JSON report on stdout instead of the summary")
		htmlOut     = fs.String("html", "", "write the report as one self-contained HTML page to `FILE` (also report.html in --output-dir)")
		noScan      = fs.Bool("no-scan", false, "compare only the --squashfs paths, not every file with the squashfs magic")
		ignoreMtime = fs.Bool("ignore-mtime", false, "the same as --ignore mtime")
		verbose     = fs.Bool("v", false, "log each stage to stderr as it runs")
		showProg    = fs.Bool("progress", false, "show progress on stderr even when it is not a terminal")
		quiet       = fs.Bool("quiet", false, "show no progress (it is shown when stderr is a terminal)")
		version     = fs.Bool("version", false, "print the version and exit")
		timeLimit   = fs.Duration("timeout", 0, "stop the analysis after `DURATION`, keeping what it found until then (exit 2)")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile of the comparison to `FILE` (for go tool pprof)")
		explainMax  = fs.Int("explain-max", isodiff.DefaultExplainMax, "explain at most `N` diverging files (0: none)")
		noDiffo     = fs.Bool("no-diffoscope", false, "do not hand diverging files to diffoscope even when it is installed")
		explainBud  = fs.Duration("explain-budget", isodiff.DefaultExplainBudget, "spend at most `DURATION` on explanations and diffoscope together, least-explained files first")
		diffoVM     = fs.Bool("diffoscope-vm", false, "let diffoscope compare filesystem images through libguestfs (it boots a virtual machine)")
		diffoTime   = fs.Duration("diffoscope-timeout", isodiff.DefaultDiffoscopeTimeout, "stop each diffoscope run after `DURATION`")
		diffoMem    = sizeFlag(isodiff.DefaultDiffoscopeMemory)
		diffoSize   = sizeFlag(isodiff.DefaultDiffoscopeMaxSize)
		memBudget   = sizeFlag(isodiff.DefaultMemoryBudget + fixedMemory)
		ignoreFile  = fs.String("ignore-file", "", "read ignore rules from `FILE`, one a line (# comments)")
		squashfs    listFlag
		ignore      listFlag
	)
	fs.Var(&ignore, "ignore", "leave differences matched by `RULE` out of the short answer, counted and listed apart (repeatable): mtime, owner, nlink, timestamps, directory-metadata, semantic, path:GLOB")
	fs.Var(&memBudget, "memory-budget", "keep the process within about `SIZE` of memory (e.g. 512MiB; 0: no budget): 64 MiB of working memory, the rest for what the images make it hold; reaching it is a problem (exit 2)")
	fs.Var(&diffoMem, "diffoscope-memory", "cap the address space of diffoscope and each tool it runs at `SIZE` (e.g. 2GiB)")
	fs.Var(&diffoSize, "diffoscope-max-size", "hand no file larger than `SIZE` to diffoscope")
	fs.Var(&squashfs, "squashfs", "`PATH` inside the ISO to compare as squashfs (repeatable; default "+isodiff.DefaultSquashfs+")")
	fs.Usage = func() {} // usage goes to stdout on --help only; errors get one line
	files, err := parseArgs(fs, args)
	switch {
	case err == flag.ErrHelp:
		printUsage(stdout, fs)
		return 0
	case err != nil:
		return usageError(stderr, "%s", strings.ReplaceAll(err.Error(), "for flag -", "for --"))
	}
	if *version {
		fmt.Fprintln(stdout, "isodiff", versionString())
		return 0
	}
	switch len(files) {
	case 0:
		return usageError(stderr, "two images to compare are needed, A.iso and B.iso")
	case 1:
		return usageError(stderr, "a second image to compare %s with is needed", files[0])
	case 2:
	default:
		return usageError(stderr, "two images to compare are needed, got %d arguments: %s", len(files), strings.Join(files, " "))
	}
	if *explainMax < 0 {
		return usageError(stderr, "--explain-max %d: a count must be 0 or more", *explainMax)
	}
	if *timeLimit < 0 || *diffoTime < 0 || *explainBud < 0 {
		return usageError(stderr, "durations must be positive (--timeout %v, --diffoscope-timeout %v, --explain-budget %v)", *timeLimit, *diffoTime, *explainBud)
	}
	if *ignoreFile != "" {
		rules, err := isodiff.ReadIgnoreFile(*ignoreFile)
		if err != nil {
			return usageError(stderr, "--ignore-file: %v", err)
		}
		ignore = append(ignore, rules...)
	}
	if err := isodiff.CheckIgnore(ignore); err != nil {
		return usageError(stderr, "--ignore: %v", err)
	}
	if *outDir != "" {
		// Before any work: a typo here must not cost the whole analysis.
		if err := checkOutputDir(*outDir); err != nil {
			fmt.Fprintf(stderr, "isodiff: --output-dir %s: %v\n", *outDir, err)
			return 2
		}
	}
	if *htmlOut != "" {
		if err := checkHTMLFile(*htmlOut); err != nil {
			fmt.Fprintf(stderr, "isodiff: --html %s: %v\n", *htmlOut, err)
			return 2
		}
	}
	opts := isodiff.Options{Squashfs: squashfs, NoScan: *noScan, IgnoreMtime: *ignoreMtime,
		ExplainMax: *explainMax, NoDiffoscope: *noDiffo, DiffoscopeTimeout: *diffoTime,
		DiffoscopeMemory: int64(diffoMem), DiffoscopeMaxSize: int64(diffoSize), TimeLimit: *timeLimit,
		ExplainBudget: *explainBud, DiffoscopeVM: *diffoVM, Ignore: ignore}
	if *explainMax == 0 {
		opts.ExplainMax = -1
	}
	switch {
	case memBudget == 0:
		opts.MemoryBudget = -1
	case int64(memBudget) < fixedMemory+16<<20:
		fmt.Fprintf(stderr, "isodiff: --memory-budget %s is too small: at least %d MiB (64 MiB of working memory and 16 MiB for image data)\n", memBudget.String(), (fixedMemory+16<<20)>>20)
		return 2
	default:
		opts.MemoryBudget = int64(memBudget) - fixedMemory
		if os.Getenv("GOMEMLIMIT") == "" {
			// Let the collector work harder near the budget rather than
			// let garbage double the heap past it.
			debug.SetMemoryLimit(int64(memBudget))
		}
	}
	if *verbose {
		opts.Logf = func(format string, a ...any) {
			fmt.Fprintf(stderr, "isodiff: %s\n", report.SafeText(fmt.Sprintf(format, a...)))
		}
	}
	var prog *progressLine
	if *showProg || (!*quiet && !*verbose && isTerminal(stderr)) {
		prog = newProgressLine(stderr)
		opts.Progress = prog.report
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "isodiff:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "isodiff:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := isodiff.Compare(ctx, files[0], files[1], opts)
	if prog != nil {
		prog.clear()
	}
	if rep == nil {
		fmt.Fprintln(stderr, "isodiff:", err)
		return 2
	}
	code := rep.ExitCode()
	if err != nil {
		// Interrupted: the report so far is written, as with --timeout.
		fmt.Fprintf(stderr, "isodiff: %v: writing the report so far\n", context.Cause(ctx))
		code = 2
	}
	if *outDir != "" {
		if err := report.WriteDir(*outDir, rep); err != nil {
			fmt.Fprintln(stderr, "isodiff:", err)
			code = 2
		}
	}
	if *htmlOut != "" {
		if err := report.WriteFile(*htmlOut, rep, report.WriteHTML); err != nil {
			fmt.Fprintf(stderr, "isodiff: --html %s: %v\n", *htmlOut, err)
			code = 2
		}
	}
	if *asJSON {
		err = report.WriteJSON(stdout, rep)
	} else {
		err = report.WriteSummary(stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "isodiff:", err)
		return 2
	}
	return code
}
