// Command fakebuilder is the static builder smbuild's tests run in a container.
//
// The container is made from nothing but this binary. It writes a small live
// ISO (ISO 9660 with Rock Ridge, carrying a squashfs root filesystem at
// /live/filesystem.squashfs) into --out, deterministically from
// SOURCE_DATE_EPOCH and the source directory (its working directory), or
// with one deliberate leak.
//
// Environment:
//
//	SOURCE_DATE_EPOCH   required; every time in the image
//	SNAPSHOT_TIMESTAMP  recorded in /etc/os-release of the root filesystem
//	UMASK               octal; applied with umask(2) before anything is written
//	                    (smbuild's contract for images that have no shell)
//	FAKEBUILDER_LEAK    empty, or one of:
//	                      hostname  /etc/build-host holds the container's host name
//	                      time      /etc/build-date holds `date +%F` (today, as the
//	                                image's date(1) sees it: libfaketime moves it)
//	                      path      /etc/build-path holds the working directory
//	                      umask     file and directory modes follow the umask
//	                      cpus      /etc/build-cpus holds the number of CPUs it may use
//	                      user      /etc/build-user holds its uid and gid
//	                      home      /etc/build-home holds $HOME
//	                      locale    /etc/build-locale holds $LC_ALL
//	                      timezone  /etc/build-date holds `date -d @$SOURCE_DATE_EPOCH`
//	                                in the local time zone (date(1) reads TZ)
//	                      kernel    /etc/build-kernel holds the kernel release (uname -r)
//	                      fileordering  /etc/build-order lists the working directory
//	                                in the order the file system gives (as `ls -U`)
//	FAKEBUILDER_FAIL    non-empty: print some progress, then fail with exit 3
//	FAKEBUILDER_SLEEP   a Go duration to sleep before writing (to test Ctrl-C)
//	FAKEBUILDER_CACHE   a folder to use as a cache (a mounted volume): each run
//	                    adds a line to its fakebuilder-runs and says how many
//	                    there are (nothing of it goes into the image)
//	http_proxy          printed when set (a runner's extra environment)
//
// Usage: fakebuilder --out DIR [--name NAME.iso]
package main

import (
	"crypto/md5"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/isodiff/isodiff/internal/smbuild/fakelive"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakebuilder: error:", err)
		os.Exit(3)
	}
}

func run() error {
	out := flag.String("out", "", "output directory")
	name := flag.String("name", "live.iso", "ISO file name")
	flag.Parse()
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	if u := os.Getenv("UMASK"); u != "" {
		m, err := strconv.ParseUint(u, 8, 32)
		if err != nil || m > 0o777 {
			return fmt.Errorf("bad UMASK %q", u)
		}
		syscall.Umask(int(m))
		fmt.Printf("fakebuilder: umask %04o\n", m)
	}
	host0, _ := os.Hostname()
	wd0, _ := os.Getwd()
	fmt.Printf("fakebuilder: host name %s, working directory %s\n", host0, wd0)
	fmt.Printf("fakebuilder: %d CPUs, uid %d gid %d, HOME %s, LC_ALL %s, TZ %s\n", runtime.NumCPU(), os.Getuid(), os.Getgid(), os.Getenv("HOME"), os.Getenv("LC_ALL"), os.Getenv("TZ"))
	fmt.Printf("fakebuilder: kernel %s\n", release())
	if _, err := exec.LookPath("date"); err == nil {
		today, err := exec.Command("date", "+%F").Output()
		if err != nil {
			return fmt.Errorf("date +%%F: %v", err)
		}
		fmt.Printf("fakebuilder: date +%%F says %s", today)
	}
	sde, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH: %v", err)
	}
	epoch := time.Unix(sde, 0).UTC()
	if fail := os.Getenv("FAKEBUILDER_FAIL"); fail != "" {
		for i := 1; i <= 60; i++ {
			fmt.Printf("fakebuilder: step %d of 60\n", i)
		}
		return fmt.Errorf("failing as asked (FAKEBUILDER_FAIL=%s)", fail)
	}
	if d := os.Getenv("FAKEBUILDER_SLEEP"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return err
		}
		fmt.Printf("fakebuilder: sleeping %s\n", dur)
		time.Sleep(dur)
	}
	if p := os.Getenv("http_proxy"); p != "" {
		fmt.Printf("fakebuilder: http_proxy is %s\n", p)
	}
	if c := os.Getenv("FAKEBUILDER_CACHE"); c != "" {
		f, err := os.OpenFile(filepath.Join(c, "fakebuilder-runs"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("cache: %v", err)
		}
		_, err = f.WriteString("run\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cache: %v", err)
		}
		runs, err := os.ReadFile(filepath.Join(c, "fakebuilder-runs"))
		if err != nil {
			return fmt.Errorf("cache: %v", err)
		}
		fmt.Printf("fakebuilder: cache %s has seen %d runs\n", c, len(runs)/4)
	}
	leak := os.Getenv("FAKEBUILDER_LEAK")
	switch leak {
	case "", "hostname", "time", "path", "umask", "cpus", "user", "home", "locale", "timezone", "kernel", "fileordering":
	default:
		return fmt.Errorf("bad FAKEBUILDER_LEAK %q", leak)
	}
	mode := func(m os.FileMode) os.FileMode {
		if leak == "umask" {
			return 0
		}
		return m
	}

	host, buildDate, buildPath := "builder\n", epoch.Format(time.RFC3339)+"\n", "/build\n"
	cpus, user, home, locale, order, kernel := "some\n", "root\n", "/root\n", "C.UTF-8\n", "sorted\n", "linux\n"
	switch leak {
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		host = h + "\n"
	case "time":
		out, err := exec.Command("date", "+%F").Output()
		if err != nil {
			return fmt.Errorf("date +%%F: %v", err)
		}
		buildDate = string(out)
	case "timezone":
		out, err := exec.Command("date", "-d", "@"+strconv.FormatInt(sde, 10), "+%F %T %z").Output()
		if err != nil {
			return fmt.Errorf("date -d: %v", err)
		}
		buildDate = string(out)
	case "cpus":
		cpus = strconv.Itoa(runtime.NumCPU()) + "\n"
	case "user":
		user = fmt.Sprintf("%d:%d\n", os.Getuid(), os.Getgid())
	case "home":
		home = os.Getenv("HOME") + "\n"
	case "locale":
		locale = os.Getenv("LC_ALL") + "\n"
	case "kernel":
		kernel = release() + "\n"
	case "fileordering":
		d, err := os.Open(".")
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return err
		}
		order = strings.Join(names, "\n") + "\n"
	case "path":
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		buildPath = wd + "\n"
	}
	version := "unknown\n"
	if b, err := os.ReadFile("VERSION"); err == nil {
		version = string(b)
	}
	root := []fakelive.File{
		{Path: "etc/os-release", Mode: mode(0o644), Data: []byte(fmt.Sprintf("PRETTY_NAME=\"Fake Live\"\nID=fakelive\nSNAPSHOT=%s\n", os.Getenv("SNAPSHOT_TIMESTAMP")))},
		{Path: "etc/build-host", Mode: mode(0o644), Data: []byte(host)},
		{Path: "etc/build-date", Mode: mode(0o644), Data: []byte(buildDate)},
		{Path: "etc/build-path", Mode: mode(0o644), Data: []byte(buildPath)},
		{Path: "etc/build-cpus", Mode: mode(0o644), Data: []byte(cpus)},
		{Path: "etc/build-user", Mode: mode(0o644), Data: []byte(user)},
		{Path: "etc/build-home", Mode: mode(0o644), Data: []byte(home)},
		{Path: "etc/build-locale", Mode: mode(0o644), Data: []byte(locale)},
		{Path: "etc/build-order", Mode: mode(0o644), Data: []byte(order)},
		{Path: "etc/build-kernel", Mode: mode(0o644), Data: []byte(kernel)},
		{Path: "usr/bin/hello", Mode: mode(0o755), Data: noise(1, 300<<10)},
		{Path: "usr/share/doc/fakelive/VERSION", Mode: mode(0o644), Data: []byte(version)},
	}

	tmp, err := os.MkdirTemp("", "fakebuilder")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rootDir, isoDir := filepath.Join(tmp, "root"), filepath.Join(tmp, "iso")
	fmt.Println("fakebuilder: staging the root filesystem")
	if err := stage(rootDir, root, epoch, leak); err != nil {
		return err
	}
	sqfs := filepath.Join(tmp, "filesystem.squashfs")
	fmt.Println("fakebuilder: writing filesystem.squashfs")
	if err := fakelive.WriteSquashfs(sqfs, rootDir, epoch); err != nil {
		return err
	}
	sq, err := os.ReadFile(sqfs)
	if err != nil {
		return err
	}
	iso := []fakelive.File{
		{Path: "live/filesystem.squashfs", Mode: mode(0o644), Data: sq},
		{Path: "live/vmlinuz", Mode: mode(0o644), Data: noise(2, 64<<10)},
		{Path: "live/initrd.img", Mode: mode(0o644), Data: noise(3, 32<<10)},
		{Path: ".disk/info", Mode: mode(0o644), Data: []byte("Fake Live " + epoch.Format("20060102") + "\n")},
	}
	iso = append(iso, fakelive.File{Path: "md5sum.txt", Mode: mode(0o644), Data: md5sums(iso)})
	if err := stage(isoDir, iso, epoch, leak); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(*out, *name)
	fmt.Printf("fakebuilder: writing %s\n", dst)
	_ = os.Remove(dst)
	if err := fakelive.WriteISO(dst, isoDir, "FAKE_LIVE", epoch); err != nil {
		return err
	}
	fmt.Println("fakebuilder: done")
	return nil
}

func stage(dir string, files []fakelive.File, epoch time.Time, leak string) error {
	if err := fakelive.Stage(dir, files, epoch); err != nil {
		return err
	}
	if leak == "umask" {
		return nil
	}
	return fakelive.FixDirModes(dir)
}

// noise is n deterministic bytes that do not compress.
func noise(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func md5sums(files []fakelive.File) []byte {
	lines := make([]string, 0, len(files))
	for _, f := range files {
		lines = append(lines, fmt.Sprintf("%x  ./%s\n", md5.Sum(f.Data), f.Path))
	}
	sort.Strings(lines)
	var out []byte
	for _, l := range lines {
		out = append(out, l...)
	}
	return out
}

// release is the kernel release uname(2) reports.
func release() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
