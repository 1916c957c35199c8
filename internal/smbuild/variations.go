package smbuild

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Variation is one condition that `smbuild verify` varies between build a
// and build b because it must not matter to the result. Each is on unless
// config/*.conf switches it off with its Key and a reason:
// BUILD_VARY_TIME='no: the builder image has no libfaketime yet'.
type Variation struct {
	Name string // "time"
	Key  string // "BUILD_VARY_TIME"
	What string // what it varies, for people
}

// Variations are the conditions verify varies, as reprotest defines them
// (its domain_host, build_path, umask, time, num_cpus, user_group, home,
// locales, timezone and fileordering), in the order they are reported.
var Variations = []Variation{
	{"hostname", "BUILD_VARY_HOSTNAME", "host name"},
	{"path", "BUILD_VARY_PATH", "source path"},
	{"umask", "BUILD_VARY_UMASK", "umask"},
	{"time", "BUILD_VARY_TIME", "clock (build b's is " + ClockOffsetDays + " ahead, through libfaketime)"},
	{"cpus", "BUILD_VARY_CPUS", "number of CPUs (docker run --cpuset-cpus)"},
	{"user", "BUILD_VARY_USER", "user (build b runs as uid:gid " + VariantUser + ")"},
	{"home", "BUILD_VARY_HOME", "HOME"},
	{"locale", "BUILD_VARY_LOCALE", "locale (LC_ALL, LANG)"},
	{"timezone", "BUILD_VARY_TIMEZONE", "time zone (TZ)"},
	{"kernel", "BUILD_VARY_KERNEL", "kernel release (build b runs under setarch --uname-2.6, so uname says 2.6.x)"},
	{"fileordering", "BUILD_VARY_FILEORDERING", "the order directories of the source list their entries (build b's source is a copy on a tmpfs, each directory reversed)"},
}

// Build b's values of the variations that are not simply a second string.
const (
	// ClockOffsetDays is how far ahead build b's clock runs, as libfaketime's
	// FAKETIME reads it: a year and 33 days, so that the day, the month and
	// the year all differ from build a's (reprotest also shifts by over a
	// year).
	ClockOffsetDays = "+398d"
	// VariantUser is the uid:gid build b runs as when the user varies.
	VariantUser = "1000:1000"
)

// variationValue reads a BUILD_VARY_* value: "yes", or "no: <reason>". It
// returns the reason ("" for yes).
func variationValue(key, v string) (string, error) {
	if v == "yes" {
		return "", nil
	}
	reason, ok := strings.CutPrefix(v, "no:")
	reason = strings.TrimSpace(reason)
	if !ok || len(reason) < 3 {
		return "", fmt.Errorf("%s %q is not \"yes\" or \"no: <the reason it cannot vary>\" (e.g. %s='no: the build needs root')", key, v, key)
	}
	return reason, nil
}

// VaryOff returns the reason a variation is switched off, or "" when it is
// on.
func (c *Config) VaryOff(name string) string { return c.varyOff[name] }

// Variant is what one build varies: the things that must not matter to the
// result. Job.Variants gives the two of verify; `smbuild build` uses a.
type Variant struct {
	Name       string // "a" or "b"; also the build folder suffix
	Hostname   string // the container's host name
	SourcePath string // where the source is mounted read-only in the container
	Umask      string // passed as UMASK (see the package doc)
	// ClockOffset is FAKETIME's offset for libfaketime, "" for the real
	// clock.
	ClockOffset string
	// CPUSet is docker run's --cpuset-cpus, "" for all of the engine's
	// CPUs; CPUs is how many the build has.
	CPUSet string
	CPUs   int
	// User is docker run's --user, "" for the image's user (root).
	User   string
	Home   string // HOME
	Locale string // LC_ALL and LANG
	TZ     string // TZ
	// Uname26 runs the build command under `setarch --uname-2.6`, the
	// UNAME26 personality: uname(2) reports a 2.6 kernel release.
	Uname26 bool
	// ReorderSource makes the build's source a copy in which every
	// directory lists its entries in the reverse order (see OrderBase).
	ReorderSource bool
}

// The two variants' values of each variation. Build a's are those of
// `smbuild build`: a plain build.
var (
	variantA = Variant{Name: "a", Hostname: "smbuild-a", SourcePath: "/source", Umask: "0022",
		Home: "/root", Locale: "C.UTF-8", TZ: "UTC"}
	variantB = Variant{Name: "b", Hostname: "smbuild-variant-b.invalid", SourcePath: "/build/variant-b/source", Umask: "0002",
		ClockOffset: ClockOffsetDays, User: VariantUser,
		// HOME does not exist, as in reprotest: a build that writes
		// there fails rather than leaking it.
		Home: "/nonexistent/smbuild-variant-b", Locale: "fr_CH.UTF-8",
		// UTC+14, as a POSIX TZ rule so that it needs no tzdata in the
		// image (glibc reads it; a name like Pacific/Kiritimati would
		// silently be UTC without tzdata).
		TZ: "<+14>-14", Uname26: true, ReorderSource: true}
)

// Variants are the two builds of `smbuild verify`: b differs from a in
// every variation that is on. ncpu is the engine's CPU count.
func (j *Job) Variants() [2]Variant {
	a, b := variantA, variantB
	a.CPUs, b.CPUs = j.EngineCPUs, j.EngineCPUs
	if k := j.EngineCPUs / 2; k >= 1 {
		b.CPUs = k
		b.CPUSet = "0"
		if k > 1 {
			b.CPUSet = "0-" + strconv.Itoa(k-1)
		}
	}
	off := func(name string) bool { return j.Config.VaryOff(name) != "" }
	if off("hostname") {
		b.Hostname = a.Hostname
	}
	if off("path") {
		b.SourcePath = a.SourcePath
	}
	if off("umask") {
		b.Umask = a.Umask
	}
	if off("time") {
		b.ClockOffset = a.ClockOffset
	}
	if off("cpus") {
		b.CPUSet, b.CPUs = a.CPUSet, a.CPUs
	}
	if off("user") {
		b.User = a.User
	}
	if off("home") {
		b.Home = a.Home
	}
	if off("locale") {
		b.Locale = a.Locale
	}
	if off("timezone") {
		b.TZ = a.TZ
	}
	if off("kernel") {
		b.Uname26 = a.Uname26
	}
	if off("fileordering") {
		b.ReorderSource = a.ReorderSource
	}
	return [2]Variant{a, b}
}

// values are the variant's value of each variation, in Variations order,
// as BUILD_INFO and the diagnosis show them.
func (v Variant) values() map[string]string {
	clock := "real"
	if v.ClockOffset != "" {
		clock = v.ClockOffset
	}
	cpus := strconv.Itoa(v.CPUs)
	if v.CPUSet != "" {
		cpus += " (cpuset " + v.CPUSet + ")"
	}
	user := "image default"
	if v.User != "" {
		user = v.User
	}
	kernel := "the engine's"
	if v.Uname26 {
		kernel = "2.6.x (setarch --uname-2.6)"
	}
	order := "as the file system lists it"
	if v.ReorderSource {
		order = "reversed (a copy)"
	}
	return map[string]string{
		"hostname": v.Hostname, "path": v.SourcePath, "umask": v.Umask, "time": clock,
		"cpus": cpus, "user": user, "home": v.Home, "locale": v.Locale, "timezone": v.TZ,
		"kernel": kernel, "fileordering": order,
	}
}

// VariationReport says, one line per variation, what build a and build b
// had, or why a variation was off. It goes into the diagnosis (VARIATIONS)
// and to the terminal when the builds differ.
func (j *Job) VariationReport() string {
	vs := j.Variants()
	a, b := vs[0].values(), vs[1].values()
	var sb strings.Builder
	for _, x := range Variations {
		if why := j.Config.VaryOff(x.Name); why != "" {
			fmt.Fprintf(&sb, "%-12s not varied (%s=no): %s; both: %s\n", x.Name, x.Key, why, a[x.Name])
			continue
		}
		fmt.Fprintf(&sb, "%-12s a: %s | b: %s\n", x.Name, a[x.Name], b[x.Name])
	}
	return sb.String()
}

// checkVariations makes sure that every variation that is on can be made
// with this engine, image and source, so that none is silently not made.
func (j *Job) checkVariations(ctx context.Context) error {
	var errs multiError
	if j.Config.VaryOff("cpus") == "" && j.EngineCPUs < 2 {
		errs = append(errs, fmt.Errorf("the cpus variation needs a docker engine with at least 2 CPUs (this one has %d); switch it off with BUILD_VARY_CPUS='no: <reason>'", j.EngineCPUs))
	}
	if j.Config.VaryOff("time") == "" {
		ok, err := j.Opts.Docker.ImageHasFile(ctx, j.ImageID, j.Config.LibFaketime)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot check for BUILDER_LIBFAKETIME in the builder image: %v", err))
		} else if !ok {
			errs = append(errs, fmt.Errorf("BUILDER_LIBFAKETIME %s is not in the builder image %s: without it build b's clock would not move (the dynamic loader ignores a missing LD_PRELOAD); install libfaketime there or switch the variation off with BUILD_VARY_TIME='no: <reason>'", j.Config.LibFaketime, j.Image))
		}
	}
	if j.Config.VaryOff("kernel") == "" {
		ok, err := j.Opts.Docker.ImageHasFile(ctx, j.ImageID, j.Config.Setarch)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot check for BUILDER_SETARCH in the builder image: %v", err))
		} else if !ok {
			errs = append(errs, fmt.Errorf("BUILDER_SETARCH %s is not in the builder image %s: the kernel variation runs build b under `setarch --uname-2.6` (util-linux 2.33 or later); install util-linux there, name its setarch with BUILDER_SETARCH, or switch the variation off with BUILD_VARY_KERNEL='no: <reason>'", j.Config.Setarch, j.Image))
		}
	}
	if j.Config.VaryOff("fileordering") == "" {
		if _, err := probeOrder(OrderBase); err != nil {
			errs = append(errs, fmt.Errorf("the fileordering variation copies the source to %s, a tmpfs, and cannot: %v; switch it off with BUILD_VARY_FILEORDERING='no: <reason>'", OrderBase, err))
		}
	}
	if j.Config.VaryOff("user") == "" {
		if fi, err := os.Stat(j.Source.Dir); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			errs = append(errs, fmt.Errorf("build b runs as uid:gid %s and cannot enter the source %s (mode %04o): chmod o+rx it, or switch the user variation off with BUILD_VARY_USER='no: <reason>'", VariantUser, j.Source.Dir, fi.Mode().Perm()))
		}
	}
	return errs.err()
}

// VariationsFile is the file of the diagnosis folder that says what differed
// between the two builds (VariationReport).
const VariationsFile = "VARIATIONS"

// VariationsHeader starts VariationsFile.
const VariationsHeader = "# What smbuild verify varied between build a and build b; a file that differs\n# follows from one of these (or from something not varied: see the README).\n"
