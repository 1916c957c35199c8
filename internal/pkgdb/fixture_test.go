package pkgdb

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The fixture: two root filesystems A and B, each a real dpkg database
// made by installing .deb packages built with dpkg-deb, then changed as a
// live build would change them. Built once per test binary.
//
// Packages (A / B):
//
//	alpha 1.0 / 1.1, beta 2.0 / 2.1, gamma 0.9 / 1.0: upgrades, nAlpha,
//	  nBeta, nGamma files whose contents carry the version; gamma ships
//	  /bin/gamma on a merged-/usr root (/bin -> usr/bin).
//	conf 1.0 both: conffile /etc/conf/conf.conf, edited by B's build.
//	tool 3.0 both: /usr/share/tool/table, edited by both builds, differently.
//	local 1.0 both, but built twice with different contents (a package
//	  built during the build, not reproducibly).
//	nosums 1.0 both: its md5sums info file removed (as a database from
//	  before dpkg made them); /usr/share/nosums/data edited by B's build.
//	extra 1.0 in B only; in A the build writes /usr/share/extra/x itself.
//	same 1.0 both: /usr/share/same/file chmod'ed by B's build (bytes equal).
//	libm:amd64 and libm:i386 1.0 both (Multi-Arch: same, one shared file).
//	divpkg 1.0 and thing 1.0 both: divpkg diverts /usr/bin/thing to
//	  /usr/bin/thing.distrib and ships its own /usr/bin/thing.
//
// Unowned: /var/log/build.log and /etc/machine-id differ.
type fixture struct {
	dir        string
	a, b       string // root trees
	sqA, sqB   string // mksquashfs images of them
	want       map[string]Verdict
	divergingN int
}

const (
	nAlpha = 5000
	nBeta  = 3000
	nGamma = 2000
)

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "dpkg-divert", "mksquashfs", "md5sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func getFixture(t *testing.T) *fixture {
	t.Helper()
	needTools(t)
	fixOnce.Do(func() {
		// dpkg syncs every file it unpacks: on tmpfs that costs nothing.
		base := ""
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
		dir, err := os.MkdirTemp(base, "pkgdb-fixture-")
		if err != nil {
			dir, err = os.MkdirTemp("", "pkgdb-fixture-")
		}
		if err != nil {
			fixErr = err
			return
		}
		fix, fixErr = buildFixture(dir)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

type debSpec struct {
	name, version, arch string
	multiArch           string
	files               map[string]string // absolute path -> contents
	conffiles           []string
}

// buildDeb makes a .deb with dpkg-deb; md5sums is written the way
// dh_md5sums writes it (conffiles left out).
func buildDeb(dir string, s debSpec, tag string) (string, error) {
	root := filepath.Join(dir, "src-"+s.name+"-"+s.arch+"-"+s.version+"-"+tag)
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		return "", err
	}
	conf := map[string]bool{}
	for _, c := range s.conffiles {
		conf[c] = true
	}
	var sums strings.Builder
	paths := make([]string, 0, len(s.files))
	for p := range s.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(s.files[p]), 0o644); err != nil {
			return "", err
		}
		if !conf[p] {
			sum := md5.Sum([]byte(s.files[p]))
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), strings.TrimPrefix(p, "/"))
		}
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.org>\nSource: %s-src (%s)\n",
		s.name, s.version, s.arch, s.name, s.version)
	if s.multiArch != "" {
		control += "Multi-Arch: " + s.multiArch + "\n"
	}
	control += "Description: test package " + s.name + "\n a package built by the pkgdb tests\n .\n with a long description\n"
	files := map[string]string{"control": control, "md5sums": sums.String()}
	if len(s.conffiles) > 0 {
		files["conffiles"] = strings.Join(s.conffiles, "\n") + "\n"
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", n), []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	deb := root + ".deb"
	if _, err := run("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", root, deb); err != nil {
		return "", err
	}
	return deb, os.RemoveAll(root)
}

// newRoot prepares an empty merged-/usr root with an empty dpkg database.
func newRoot(root string) error {
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "usr/bin", "usr/sbin", "usr/lib", "etc", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for _, l := range []string{"bin", "sbin", "lib"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		return err
	}
	_, err := run("dpkg", "--root="+root, "--add-architecture", "i386")
	return err
}

func install(root string, debs ...string) error {
	args := append([]string{"--root=" + root, "--force-all", "--log=/dev/null", "-i"}, debs...)
	_, err := run("dpkg", args...)
	return err
}

func many(prefix, version string, n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("%s/f%05d", prefix, i)] = fmt.Sprintf("%s file %d version %s\n", prefix, i, version)
	}
	return m
}

func buildFixture(dir string) (*fixture, error) {
	f := &fixture{dir: dir, a: filepath.Join(dir, "A"), b: filepath.Join(dir, "B"), want: map[string]Verdict{}}
	specs := func(side string) []debSpec {
		up := func(a, b string) string {
			if side == "A" {
				return a
			}
			return b
		}
		gamma := many("/usr/lib/gamma", up("0.9", "1.0"), nGamma-1)
		gamma["/bin/gamma"] = "gamma binary " + up("0.9", "1.0") + "\n"
		s := []debSpec{
			{name: "alpha", version: up("1.0", "1.1"), arch: "all", files: many("/usr/share/alpha", up("1.0", "1.1"), nAlpha)},
			{name: "beta", version: up("2.0", "2.1"), arch: "amd64", files: many("/usr/share/beta", up("2.0", "2.1"), nBeta)},
			{name: "gamma", version: up("0.9", "1.0"), arch: "amd64", files: gamma},
			{name: "conf", version: "1.0", arch: "all", files: map[string]string{
				"/etc/conf/conf.conf": "setting = 1\n", "/usr/share/conf/data": "conf data\n"},
				conffiles: []string{"/etc/conf/conf.conf"}},
			{name: "tool", version: "3.0", arch: "amd64", files: map[string]string{
				"/usr/share/tool/table": "tool table\n", "/usr/bin/tool": "tool binary\n"}},
			{name: "local", version: "1.0", arch: "amd64", files: map[string]string{
				"/usr/lib/local/blob": "built in build " + side + "\n", "/usr/lib/local/readme": "stable\n"}},
			{name: "nosums", version: "1.0", arch: "all", files: map[string]string{"/usr/share/nosums/data": "nosums data\n"}},
			{name: "same", version: "1.0", arch: "all", files: map[string]string{"/usr/share/same/file": "same bytes\n"}},
			{name: "libm", version: "1.0", arch: "amd64", multiArch: "same", files: map[string]string{
				"/usr/share/doc/libm/copyright": "libm copyright\n", "/usr/lib/x86_64-linux-gnu/libm.so": "amd64 " + side + "\n"}},
			{name: "libm", version: "1.0", arch: "i386", multiArch: "same", files: map[string]string{
				"/usr/share/doc/libm/copyright": "libm copyright\n", "/usr/lib/i386-linux-gnu/libm.so": "i386 " + side + "\n"}},
			{name: "divpkg", version: "1.0", arch: "all", files: map[string]string{"/usr/bin/thing": "the diverting thing " + side + "\n"}},
			{name: "thing", version: "1.0", arch: "all", files: map[string]string{"/usr/bin/thing": "the original thing\n"}},
		}
		if side == "B" {
			s = append(s, debSpec{name: "extra", version: "1.0", arch: "all", files: map[string]string{"/usr/share/extra/x": "extra from package\n"}})
		}
		return s
	}
	for _, side := range []string{"A", "B"} {
		root := filepath.Join(dir, side)
		if err := newRoot(root); err != nil {
			return nil, err
		}
		var debs []string
		for _, s := range specs(side) {
			// The same version of a package is one .deb on both sides
			// unless its contents differ (local, libm, divpkg).
			deb, err := buildDeb(dir, s, side)
			if err != nil {
				return nil, err
			}
			debs = append(debs, deb)
		}
		if _, err := run("dpkg-divert", "--root="+root, "--package", "divpkg", "--divert", "/usr/bin/thing.distrib", "--add", "/usr/bin/thing"); err != nil {
			return nil, err
		}
		if err := install(root, debs...); err != nil {
			return nil, err
		}
		// What the build does after installing.
		if err := os.Remove(filepath.Join(root, "var/lib/dpkg/info/nosums.md5sums")); err != nil {
			return nil, err
		}
		w := func(p, s string, mode os.FileMode) error {
			return os.WriteFile(filepath.Join(root, p), []byte(s), mode)
		}
		if err := w("var/log/build.log", "built at "+side+"\n", 0o644); err != nil {
			return nil, err
		}
		if err := w("etc/machine-id", "id-"+side+"\n", 0o444); err != nil {
			return nil, err
		}
		if err := w("usr/share/tool/table", "tool table\nbuilt by "+side+"\n", 0o644); err != nil {
			return nil, err
		}
		if side == "A" {
			if err := os.MkdirAll(filepath.Join(root, "usr/share/extra"), 0o755); err != nil {
				return nil, err
			}
			if err := w("usr/share/extra/x", "extra made by the build\n", 0o644); err != nil {
				return nil, err
			}
		} else {
			if err := w("etc/conf/conf.conf", "setting = 2\n", 0o644); err != nil {
				return nil, err
			}
			if err := w("usr/share/nosums/data", "nosums data, edited\n", 0o644); err != nil {
				return nil, err
			}
			if err := os.Chmod(filepath.Join(root, "usr/share/same/file"), 0o600); err != nil {
				return nil, err
			}
		}
		img := filepath.Join(dir, side+".sqfs")
		if _, err := run("mksquashfs", root, img, "-noappend", "-no-progress", "-quiet", "-comp", "gzip"); err != nil {
			return nil, err
		}
		if side == "A" {
			f.sqA = img
		} else {
			f.sqB = img
		}
	}
	// What each diverging file should be attributed to, by construction.
	for i := range nAlpha {
		f.want[fmt.Sprintf("/usr/share/alpha/f%05d", i)] = PackageDiffers
	}
	for i := range nBeta {
		f.want[fmt.Sprintf("/usr/share/beta/f%05d", i)] = PackageDiffers
	}
	for i := range nGamma - 1 {
		f.want[fmt.Sprintf("/usr/lib/gamma/f%05d", i)] = PackageDiffers
	}
	f.want["/usr/bin/gamma"] = PackageDiffers // listed as /bin/gamma
	f.want["/etc/conf/conf.conf"] = ChangedAfterInstall
	f.want["/usr/share/tool/table"] = ChangedAfterInstall
	f.want["/usr/lib/local/blob"] = ShippedThisWay
	f.want["/usr/share/nosums/data"] = Unverified
	f.want["/usr/share/extra/x"] = OwnedOneSide
	f.want["/usr/share/same/file"] = SameContent
	f.want["/usr/lib/x86_64-linux-gnu/libm.so"] = ShippedThisWay
	f.want["/usr/lib/i386-linux-gnu/libm.so"] = ShippedThisWay
	f.want["/usr/bin/thing"] = ShippedThisWay // divpkg's own copy, rebuilt
	f.want["/var/log/build.log"] = NotOwned
	f.want["/etc/machine-id"] = NotOwned
	return f, nil
}

// md5Tree runs md5sum over every regular file of root outside the dpkg
// database: absolute path in the image -> md5.
func md5Tree(root string) (map[string]string, error) {
	out, err := run("sh", "-c", `cd "$1" && find . -path ./var/lib/dpkg -prune -o -type f -print0 | xargs -0 md5sum`, "sh", root)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 35 {
			return nil, fmt.Errorf("md5sum line %q", line)
		}
		m[strings.TrimPrefix(line[34:], ".")] = line[:32]
	}
	return m, nil
}

// diverging lists the regular files whose bytes or mode differ between the
// two trees, present in both or in one, with their md5s.
func diverging(a, b string) ([]File, error) {
	ma, err := md5Tree(a)
	if err != nil {
		return nil, err
	}
	mb, err := md5Tree(b)
	if err != nil {
		return nil, err
	}
	var out []File
	seen := map[string]bool{}
	for _, m := range []map[string]string{ma, mb} {
		for p := range m {
			if seen[p] {
				continue
			}
			seen[p] = true
			differs := ma[p] != mb[p]
			if !differs {
				fa, err1 := os.Lstat(filepath.Join(a, p))
				fb, err2 := os.Lstat(filepath.Join(b, p))
				differs = err1 != nil || err2 != nil || fa.Mode() != fb.Mode()
			}
			if differs {
				out = append(out, File{Path: p, MD5A: ma[p], MD5B: mb[p]})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// listedPaths returns every path the .list files of root name.
func listedPaths(root string) ([]string, error) {
	lists, err := filepath.Glob(filepath.Join(root, "var/lib/dpkg/info/*.list"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		b, err := os.ReadFile(l)
		if err != nil {
			return nil, err
		}
		for _, p := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if p != "/." && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// dpkgS asks dpkg -S who owns each path: path -> package names (with
// ":arch" for Multi-Arch: same packages, as dpkg prints them).
func dpkgS(root string, paths []string) (map[string][]string, error) {
	// dpkg -S takes each argument as a glob when it holds one of \*?[ (as
	// systemd's unit names with \x2d escapes do): escape them, so that it
	// looks for the path itself.
	args := []string{"--admindir=" + filepath.Join(root, "var/lib/dpkg"), "-S"}
	glob := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	for _, p := range paths {
		args = append(args, glob.Replace(p))
	}
	// Exit status 1: some path had no owner (it stays out of the map).
	out, err := exec.Command("dpkg", args...).Output()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1 && len(out) > 0) {
		return nil, fmt.Errorf("dpkg -S: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "diversion by ") || strings.HasPrefix(line, "local diversion ") {
			continue
		}
		i := strings.Index(line, ": /")
		if i < 0 {
			return nil, fmt.Errorf("dpkg -S line %q", line)
		}
		m[line[i+2:]] = strings.Split(line[:i], ", ")
	}
	return m, nil
}

// dpkgVerify returns the paths dpkg --verify finds with a different MD5.
func dpkgVerify(root string) (map[string]bool, error) {
	out, _ := exec.Command("dpkg", "--root="+root, "--verify").Output() // exit 1 when something fails
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if len(line) < 13 || !strings.HasPrefix(line[2:], "5") {
			continue
		}
		m[line[strings.Index(line, " /")+1:]] = true
	}
	return m, nil
}

var _ fs.FS = os.DirFS(".")
