package smbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is what smbuild reads from the config directory of the source.
type Config struct {
	BuilderImage       string   // BUILDER_IMAGE, pinned (see CheckPinned)
	BuildCommand       []string // BUILD_COMMAND, split on spaces
	BuildShell         string   // BUILD_SHELL, "" when the image has none
	Network            string   // BUILDER_NETWORK: "default" or "none"
	Privileged         bool     // BUILDER_PRIVILEGED=yes
	ToolchainSubmodule string   // TOOLCHAIN_SUBMODULE, "" for automatic
	// LibFaketime is BUILDER_LIBFAKETIME: where libfaketime is in the
	// builder image, for the time variation.
	LibFaketime string
	// Setarch is BUILDER_SETARCH: where setarch(8) is in the builder
	// image, for the kernel variation (default DefaultSetarch).
	Setarch string

	// varyOff holds the reason of each variation switched off with its
	// BUILD_VARY_* key.
	varyOff map[string]string

	// Env holds every other assignment of config/*.conf, passed to the build
	// as environment variables, sorted by name.
	Env []Entry

	SnapshotTimestamp string // SNAPSHOT_TIMESTAMP from snapshot-pin.env

	// SourceDateEpoch is set when source-date-epoch.env overrides the
	// commit time; SourceDateEpochFile is then that file's shown name.
	SourceDateEpoch     int64
	SourceDateEpochFile string

	Files []string // the files read, as shown in messages
}

// DefaultSetarch is where util-linux puts setarch(8) (Debian, Fedora, Arch).
const DefaultSetarch = "/usr/bin/setarch"

// The config file names inside the config directory.
const (
	SnapshotPinFile     = "snapshot-pin.env"
	SourceDateEpochFile = "source-date-epoch.env"
)

// smbuild's own keys in config/*.conf.
var ownKeys = func() []string {
	keys := []string{"BUILDER_IMAGE", "BUILD_COMMAND", "BUILD_SHELL", "BUILDER_NETWORK", "BUILDER_PRIVILEGED", "BUILDER_LIBFAKETIME", "BUILDER_SETARCH", "TOOLCHAIN_SUBMODULE"}
	for _, v := range Variations {
		keys = append(keys, v.Key)
	}
	return keys
}()

// Names that smbuild sets in the container itself, or that belong in another
// file; config/*.conf may not set them.
var reservedKeys = map[string]string{
	"SOURCE_DATE_EPOCH":            "set it in " + SourceDateEpochFile + ", or leave it to the commit time",
	"SNAPSHOT_TIMESTAMP":           "set it in " + SnapshotPinFile,
	"TZ":                           "smbuild sets TZ (UTC, and another zone in verify's build b); pin it with BUILD_VARY_TIMEZONE='no: <reason>'",
	"LC_ALL":                       "smbuild sets LC_ALL (C.UTF-8, and another locale in verify's build b); pin it with BUILD_VARY_LOCALE='no: <reason>'",
	"LANG":                         "smbuild sets LANG with LC_ALL",
	"LANGUAGE":                     "smbuild sets LC_ALL, which the build's locale follows",
	"UMASK":                        "smbuild varies it between the two verify builds",
	"HOSTNAME":                     "smbuild varies the host name between the two verify builds",
	"HOME":                         "smbuild varies HOME between the two verify builds",
	"LD_PRELOAD":                   "smbuild preloads libfaketime in verify's build b (BUILDER_LIBFAKETIME)",
	"FAKETIME":                     "smbuild sets it in verify's build b",
	"FAKETIME_DONT_FAKE_MONOTONIC": "smbuild sets it in verify's build b",
}

// LoadConfig reads dir/*.conf (in name order), dir/snapshot-pin.env
// (required) and dir/source-date-epoch.env (optional), and validates every
// value. shown is how dir is named in messages (e.g. "config"). Every problem
// found is reported, each naming file and line where there is one.
func LoadConfig(dir, shown string) (*Config, error) {
	c := &Config{Network: "default", Setarch: DefaultSetarch, varyOff: map[string]string{}}
	var errs multiError
	add := func(err error) {
		var m multiError
		if errors.As(err, &m) {
			errs = append(errs, m...)
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	read := func(name string) ([]Entry, bool) {
		shownName := path.Join(shown, name)
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false
		}
		if err != nil {
			add(&LineError{File: shownName, Msg: err.Error()})
			return nil, true
		}
		c.Files = append(c.Files, shownName)
		entries, err := ParseEnvFile(shownName, data)
		add(err)
		return entries, true
	}

	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, &LineError{File: shown, Msg: fmt.Sprintf("config directory not found (%s); pass --config DIR", dir)}
	}
	confs, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(confs)
	if len(confs) == 0 {
		add(&LineError{File: path.Join(shown, "*.conf"), Msg: "no config files; BUILDER_IMAGE and BUILD_COMMAND must be set in one"})
	}
	set := map[string]Entry{}
	for _, p := range confs {
		entries, _ := read(filepath.Base(p))
		for _, e := range entries {
			if prev, dup := set[e.Key]; dup {
				add(&LineError{File: e.File, Line: e.Line, Msg: fmt.Sprintf("%s is already set at %s", e.Key, prev.Where())})
				continue
			}
			set[e.Key] = e
			if err := c.setConf(e); err != nil {
				add(&LineError{File: e.File, Line: e.Line, Msg: err.Error()})
			}
		}
	}
	for _, k := range []string{"BUILDER_IMAGE", "BUILD_COMMAND"} {
		if _, ok := set[k]; !ok && len(confs) > 0 {
			add(&LineError{File: path.Join(shown, "*.conf"), Msg: k + " is not set"})
		}
	}
	sort.Slice(c.Env, func(i, j int) bool { return c.Env[i].Key < c.Env[j].Key })
	if _, ok := set["BUILDER_LIBFAKETIME"]; !ok && c.VaryOff("time") == "" && len(confs) > 0 {
		add(&LineError{File: path.Join(shown, "*.conf"), Msg: "the time variation needs libfaketime in the builder image (a time namespace cannot move the wall clock): install it there (Debian: apt-get install faketime) and set BUILDER_LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 (its path in the image), or switch the variation off with BUILD_VARY_TIME='no: <reason>'"})
	}

	if entries, found := read(SnapshotPinFile); !found {
		add(&LineError{File: path.Join(shown, SnapshotPinFile), Msg: "missing; it must pin the package snapshot: SNAPSHOT_TIMESTAMP=YYYYMMDDTHHMMSSZ"})
	} else {
		add(onlyKey(entries, path.Join(shown, SnapshotPinFile), "SNAPSHOT_TIMESTAMP", func(e Entry) error {
			if err := CheckSnapshotTimestamp(e.Value, time.Now()); err != nil {
				return err
			}
			c.SnapshotTimestamp = e.Value
			return nil
		}))
	}
	if entries, found := read(SourceDateEpochFile); found {
		add(onlyKey(entries, path.Join(shown, SourceDateEpochFile), "SOURCE_DATE_EPOCH", func(e Entry) error {
			n, err := ParseSourceDateEpoch(e.Value)
			if err != nil {
				return err
			}
			c.SourceDateEpoch, c.SourceDateEpochFile = n, e.File
			return nil
		}))
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// onlyKey checks that entries hold exactly one assignment, of key, and
// passes it to check.
func onlyKey(entries []Entry, file, key string, check func(Entry) error) error {
	var errs multiError
	found := false
	for _, e := range entries {
		if e.Key != key {
			errs = append(errs, &LineError{File: e.File, Line: e.Line, Msg: fmt.Sprintf("%s does not belong here; this file holds only %s", e.Key, key)})
			continue
		}
		found = true
		if err := check(e); err != nil {
			errs = append(errs, &LineError{File: e.File, Line: e.Line, Msg: err.Error()})
		}
	}
	if !found && len(errs) == 0 {
		errs = append(errs, &LineError{File: file, Msg: key + " is not set"})
	}
	return errs.err()
}

var (
	absPathRE  = regexp.MustCompile(`^(/[A-Za-z0-9_.+@%,:=-]+)+/?$`)
	relPathRE  = regexp.MustCompile(`^[A-Za-z0-9_.+@%,:=-]+(/[A-Za-z0-9_.+@%,:=-]+)*$`)
	snapshotRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
)

func (c *Config) setConf(e Entry) error {
	v := e.Value
	switch e.Key {
	case "BUILDER_IMAGE":
		if err := CheckPinned(v); err != nil {
			return err
		}
		c.BuilderImage = v
	case "BUILD_COMMAND":
		words := strings.Fields(v)
		if len(words) == 0 {
			return errors.New("BUILD_COMMAND is empty")
		}
		for _, w := range words {
			if strings.ContainsAny(w, "'\"\\") {
				return fmt.Errorf("BUILD_COMMAND word %q holds a quote or backslash; the command is split on spaces only, with no quoting: put a longer command in a script in the source tree", w)
			}
		}
		c.BuildCommand = words
	case "BUILD_SHELL":
		if v != "" && !absPathRE.MatchString(v) {
			return fmt.Errorf("BUILD_SHELL %q is not an absolute path (e.g. /bin/sh), nor empty", v)
		}
		c.BuildShell = v
	case "BUILDER_NETWORK":
		if v != "default" && v != "none" {
			return fmt.Errorf("BUILDER_NETWORK %q is not \"default\" or \"none\"", v)
		}
		c.Network = v
	case "BUILDER_PRIVILEGED":
		if v != "yes" && v != "no" {
			return fmt.Errorf("BUILDER_PRIVILEGED %q is not \"yes\" or \"no\"", v)
		}
		c.Privileged = v == "yes"
	case "BUILDER_LIBFAKETIME":
		if !absPathRE.MatchString(v) || strings.HasSuffix(v, "/") {
			return fmt.Errorf("BUILDER_LIBFAKETIME %q is not the absolute path of a file in the builder image (Debian's: /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1)", v)
		}
		c.LibFaketime = v
	case "BUILDER_SETARCH":
		if !absPathRE.MatchString(v) || strings.HasSuffix(v, "/") {
			return fmt.Errorf("BUILDER_SETARCH %q is not the absolute path of a file in the builder image (util-linux's: %s)", v, DefaultSetarch)
		}
		c.Setarch = v
	case "TOOLCHAIN_SUBMODULE":
		if !relPathRE.MatchString(v) || strings.Contains("/"+v+"/", "/../") || strings.Contains("/"+v+"/", "/./") {
			return fmt.Errorf("TOOLCHAIN_SUBMODULE %q is not a relative path inside the source", v)
		}
		c.ToolchainSubmodule = v
	default:
		for _, x := range Variations {
			if e.Key == x.Key {
				why, err := variationValue(e.Key, v)
				if err != nil {
					return err
				}
				if why != "" {
					c.varyOff[x.Name] = why
				}
				return nil
			}
		}
		if why, ok := reservedKeys[e.Key]; ok {
			return fmt.Errorf("%s may not be set here: %s", e.Key, why)
		}
		for _, k := range ownKeys {
			if d := editDistance(e.Key, k); d > 0 && d <= 2 {
				return fmt.Errorf("unknown key %s; did you mean %s?", e.Key, k)
			}
		}
		for _, p := range []string{"BUILDER_", "BUILD_", "SMBUILD_"} {
			if strings.HasPrefix(e.Key, p) {
				return fmt.Errorf("unknown key %s: names starting with %s are smbuild's (%s)", e.Key, p, strings.Join(ownKeys, ", "))
			}
		}
		c.Env = append(c.Env, e)
	}
	return nil
}

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// The reference name grammar of the distribution project: an optional
	// registry host (with port), then lower-case path components.
	imageNameRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// CheckPinned accepts an image reference pinned to content: either
// name[:tag]@sha256:<64 hex> (a registry digest) or sha256:<64 hex> (a local
// image id, for machines that reach no registry). A tag alone can be moved
// to other content, so it is refused.
func CheckPinned(ref string) error {
	const how = "pin it as name@sha256:<64 hex digits> (docker inspect --format '{{index .RepoDigests 0}}' IMAGE prints it) or as a local image id sha256:<64 hex digits> (docker inspect --format '{{.Id}}' IMAGE)"
	if ref == "" {
		return errors.New("BUILDER_IMAGE is empty; " + how)
	}
	if strings.HasPrefix(ref, "sha256:") {
		if !digestRE.MatchString(ref) {
			return fmt.Errorf("BUILDER_IMAGE %q: an image id is sha256: followed by 64 lower-case hex digits (got %d characters after sha256:)", ref, len(ref)-len("sha256:"))
		}
		return nil
	}
	at := strings.LastIndexByte(ref, '@')
	if at < 0 {
		return fmt.Errorf("BUILDER_IMAGE %q is not pinned by digest: a tag can be moved to other content; %s", ref, how)
	}
	name, digest := ref[:at], ref[at+1:]
	if !strings.HasPrefix(digest, "sha256:") {
		return fmt.Errorf("BUILDER_IMAGE %q: digest %q is not a sha256 digest; %s", ref, digest, how)
	}
	if !digestRE.MatchString(digest) {
		return fmt.Errorf("BUILDER_IMAGE %q: digest %q is not sha256: followed by 64 lower-case hex digits (got %d characters after sha256:)", ref, digest, len(digest)-len("sha256:"))
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if !tagRE.MatchString(name[i+1:]) {
			return fmt.Errorf("BUILDER_IMAGE %q: bad tag %q", ref, name[i+1:])
		}
		name = name[:i]
	}
	if !imageNameRE.MatchString(name) {
		return fmt.Errorf("BUILDER_IMAGE %q: %q is not a valid image name (lower-case path components, optionally after a registry host)", ref, name)
	}
	return nil
}

// CheckSnapshotTimestamp accepts a snapshot.debian.org style timestamp,
// YYYYMMDDTHHMMSSZ, that is a real UTC time no later than now.
func CheckSnapshotTimestamp(v string, now time.Time) error {
	if !snapshotRE.MatchString(v) {
		return fmt.Errorf("SNAPSHOT_TIMESTAMP %q is not of the form YYYYMMDDTHHMMSSZ (e.g. 20250101T000000Z)", v)
	}
	t, err := time.Parse("20060102T150405Z", v)
	if err != nil {
		return fmt.Errorf("SNAPSHOT_TIMESTAMP %q is not a real time: %v", v, err)
	}
	if t.After(now) {
		return fmt.Errorf("SNAPSHOT_TIMESTAMP %q is in the future", v)
	}
	return nil
}

// MaxSourceDateEpoch is the largest SOURCE_DATE_EPOCH accepted: the largest
// time that the 32-bit time fields of squashfs can hold.
const MaxSourceDateEpoch = 1<<32 - 1

// ParseSourceDateEpoch accepts a decimal integer from 1 to
// MaxSourceDateEpoch, without sign or leading zeros.
func ParseSourceDateEpoch(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || v[0] == '+' || v[0] == '-' || v[0] == '0' || n < 1 || n > MaxSourceDateEpoch {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a whole number of seconds from 1 to %d without sign or leading zeros", v, int64(MaxSourceDateEpoch))
	}
	return n, nil
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
