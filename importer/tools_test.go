package importer

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// This file builds the test images with the real tools (mksquashfs,
// xorriso), as isodiff's own tests do in internal/testimg, which a separate
// module cannot import: the point of this module is to see isodiff from
// outside.

// need skips the test, saying which, when a tool is not on PATH.
func need(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Skipf("skipped: tools missing: %s (scripts/test.sh installs them)", strings.Join(missing, ", "))
	}
}

// run runs a command in dir (UTC, C locale) and returns its standard
// output; it fails the test with the command's standard error.
func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	return runEnv(t, dir, nil, name, args...)
}

// runEnv is run with env's "KEY=value" settings ("KEY=" to unset KEY).
func runEnv(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	set := map[string]bool{}
	for _, kv := range append([]string{"LC_ALL=C", "TZ=UTC"}, env...) {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for _, kv := range append([]string{"LC_ALL=C", "TZ=UTC"}, env...) {
		if !strings.HasSuffix(kv, "=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// makeSquashfs runs mksquashfs reproducibly on one processor, adding args
// (such as "-comp", "xz" or "-p", "dev/console c 600 0 0 5 1").
func makeSquashfs(t testing.TB, src, out string, args ...string) {
	t.Helper()
	need(t, "mksquashfs")
	base := []string{src, out, "-noappend", "-quiet", "-no-progress", "-processors", "1"}
	// mksquashfs would give every file SOURCE_DATE_EPOCH's time.
	runEnv(t, filepath.Dir(out), []string{"SOURCE_DATE_EPOCH="}, "mksquashfs", append(base, args...)...)
}

// makeISO runs "xorriso -as mkisofs" with args before the source tree,
// with SOURCE_DATE_EPOCH set for fixed volume dates and UUID (file times
// are the tree's).
func makeISO(t testing.TB, src, out string, args ...string) {
	t.Helper()
	need(t, "xorriso")
	argv := append([]string{"-as", "mkisofs", "-quiet", "-o", out}, args...)
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.FormatInt(stamp.Unix(), 10)}
	runEnv(t, filepath.Dir(out), env, "xorriso", append(argv, src)...)
}

// Fixed times, so that two builds of a tree are byte-identical and the ls
// formats of the oracles show years (old) or hours (recent).
var (
	stamp   = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	oldTime = time.Date(2019, 2, 3, 4, 5, 6, 0, time.UTC)
)

// pseudoDevices are mksquashfs pseudo definitions for the root trees, with
// the fixed time: a console, a device whose numbers need the kernel's large
// encoding, a block device and a socket.
var pseudoDevices = func() []string {
	ts := strconv.FormatInt(stamp.Unix(), 10)
	return []string{
		"-p", "dev/console C " + ts + " 600 0 0 5 1",
		"-p", "dev/big C " + ts + " 640 0 6 300 70000",
		"-p", "dev/sda B " + ts + " 660 0 6 8 0",
		"-p", "dev/log I " + ts + " 666 0 0 s",
	}
}()

// longTarget is a symlink target of 479 bytes in 20 components: more than
// one Rock Ridge SL entry holds (255), less than xorriso's crash on one
// 300-byte component.
func longTarget() string {
	var comps []string
	for i := range 20 {
		comps = append(comps, fmt.Sprintf("component_%02d_abcdefghij", i))
	}
	return strings.Join(comps, "/")
}

// fill returns n bytes of deterministic, moderately compressible data.
func fill(seed uint64, n int) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	const alphabet = "live iso squash\n"
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = alphabet[x&15]
	}
	return b
}

// treeOptions choose what buildRoot puts in a tree.
type treeOptions struct {
	docs    int      // files under usr/share/doc
	elf     []string // /usr/bin programs copied to usr/bin
	fifo    bool     // a fifo
	devices bool     // as root, character and block devices (for ISOs; squashfs images get pseudoDevices)
	hostnam string   // content of etc/hostname
}

// buildRoot writes a root filesystem tree to root with what a reader must
// get right: dot files, names ending in dots, setuid/setgid/sticky, owners,
// a symlink over 255 bytes, hard links, empty and multi-block files, a file
// whose last block is zeros, real ELF binaries, a few hundred small files.
// Every node gets a fixed time (some an old one).
func buildRoot(t testing.TB, root string, o treeOptions) {
	t.Helper()
	w := func(rel string, data []byte, perm fs.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(rel string, perm fs.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	host := o.hostnam
	if host == "" {
		host = "debian-live\n"
	}
	w("etc/hostname", []byte(host), 0o644)
	w("etc/.pwd.lock", nil, 0o600)
	w("etc/skel/.bashrc", []byte("# ~/.bashrc\nexport PS1='$ '\n"), 0o644)
	w("etc/skel/.profile", []byte("# ~/.profile\n"), 0o644)
	w("root/.bashrc", []byte("# root's .bashrc\n"), 0o600)
	w(".hidden", []byte("a dot file at the root\n"), 0o644)
	w("etc/end.", []byte("ends with a dot\n"), 0o644)
	w("etc/two..", []byte("ends with two dots\n"), 0o644)
	w("etc/...", []byte("three dots\n"), 0o644)
	w("etc/with space", []byte("a space\n"), 0o644)
	w("etc/empty", nil, 0o644)
	w("var/lib/blocks/two+tail", fill(1, 2<<17+100), 0o644)
	w("var/lib/blocks/one", fill(2, 1<<17), 0o644)
	w("var/lib/blocks/last-zero", append(fill(3, 1<<17), make([]byte, 1<<17)...), 0o644)
	w("var/lib/blocks/all-zero", make([]byte, 3<<17), 0o644)
	w("usr/local/bin/setgid-noexec", []byte("x\n"), 0o640|fs.ModeSetgid)
	mkdir("tmp", 0o777|fs.ModeSticky)
	mkdir("var/mail", 0o775|fs.ModeSetgid)
	mkdir("var/empty", 0o700)
	mkdir("dev", 0o755)
	for i, name := range o.elf {
		b, err := os.ReadFile(filepath.Join("/usr/bin", name))
		if err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Fatalf("/usr/bin/%s: not a readable ELF file (%v)", name, err)
		}
		perm := fs.FileMode(0o755)
		if i == 0 {
			perm |= fs.ModeSetuid // the first one plays su
		}
		w("usr/bin/"+name, b, perm)
	}
	w("usr/bin/passwd", []byte("#!/bin/sh\necho passwd\n"), 0o755|fs.ModeSetuid)
	w("usr/bin/hard-a", []byte("one inode, two names\n"), 0o755)
	if err := os.Link(filepath.Join(root, "usr/bin/hard-a"), filepath.Join(root, "usr/bin/hard-b")); err != nil {
		t.Fatal(err)
	}
	symlink(longTarget(), "usr/lib/long-link")
	symlink("usr/bin", "bin")
	symlink("../bin/passwd", "usr/sbin/passwd-link")
	symlink("/nonexistent/target", "etc/dangling")
	for i := range o.docs {
		w(fmt.Sprintf("usr/share/doc/pkg-%03d/copyright", i), fill(uint64(100+i), 200+i*7), 0o644)
	}
	if o.docs > 0 {
		if err := os.Lchown(filepath.Join(root, "usr/share/doc/pkg-001/copyright"), 1000, 1001); err != nil {
			t.Fatal(err)
		}
	}
	if o.fifo {
		if err := syscall.Mkfifo(filepath.Join(root, "dev/initctl"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if o.devices {
		if os.Geteuid() == 0 {
			for _, d := range []struct {
				name         string
				mode         uint32
				major, minor uint32
			}{
				{"dev/console", syscall.S_IFCHR | 0o600, 5, 1},
				{"dev/big", syscall.S_IFCHR | 0o640, 300, 70000},
				{"dev/sda", syscall.S_IFBLK | 0o660, 8, 0},
			} {
				p := filepath.Join(root, d.name)
				if err := syscall.Mknod(p, d.mode, int(unix.Mkdev(d.major, d.minor))); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, fs.FileMode(d.mode&0o777)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	stampTree(t, root)
}

// stampTree gives every node of root the fixed time, and a few the old one
// (symlinks included; directories last, children before parents).
func stampTree(t testing.TB, root string) {
	t.Helper()
	var paths []string
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		p := paths[i]
		ts := stamp
		if strings.HasSuffix(p, "/etc/hostname") || strings.HasSuffix(p, "/usr/lib/long-link") ||
			strings.HasSuffix(p, "/var/mail") || strings.HasSuffix(p, "/dev/initctl") {
			ts = oldTime
		}
		tv := []unix.Timespec{unix.NsecToTimespec(ts.UnixNano()), unix.NsecToTimespec(ts.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, tv, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}
