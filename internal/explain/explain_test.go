package explain

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
)

// fileInput is an Input reading a file.
func fileInput(path string) Input {
	fi, err := os.Stat(path)
	size := int64(-1)
	if err == nil {
		size = fi.Size()
	}
	return Input{Name: filepath.Base(path), Size: size, Open: func() (io.Reader, error) { return os.Open(path) }}
}

// explainFiles runs Explain on two files and logs the rendering.
func explainFiles(t *testing.T, a, b string, opts Options) *Result {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	r, err := Explain(context.Background(), fileInput(a), fileInput(b), opts)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	t.Logf("summary: %s\nhint: %s\ncomplete: %v\n%s", r.Summary, r.Hint, r.Complete, r.Text(1<<16))
	return r
}

func wantHints(t *testing.T, r *Result, hints ...string) {
	t.Helper()
	for _, h := range hints {
		if !slices.Contains(r.Hints, h) {
			t.Errorf("hints %q lack %q", r.Hints, h)
		}
	}
}

func wantSummary(t *testing.T, r *Result, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.Summary, p) {
			t.Errorf("summary %q lacks %q", r.Summary, p)
		}
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"LC_ALL=C", "TZ=UTC"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func write(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func TestGzipHeaderMtime(t *testing.T) {
	testimg.Need(t, "gzip")
	dir := t.TempDir()
	for _, side := range []string{"a", "b"} {
		write(t, filepath.Join(dir, side, "changelog"), strings.Repeat("changelog line\n", 200), t0)
	}
	run(t, filepath.Join(dir, "a"), nil, "gzip", "-n9", "changelog")
	run(t, filepath.Join(dir, "b"), nil, "gzip", "-9", "changelog")
	r := explainFiles(t, filepath.Join(dir, "a/changelog.gz"), filepath.Join(dir, "b/changelog.gz"), Options{})
	wantHints(t, r, hintGzipTimestamp)
	wantSummary(t, r, "gzip: header", "mtime", "payload identical")
	if !r.Complete {
		t.Error("a header-only difference is the whole difference")
	}
}

func TestGzipPayloadText(t *testing.T) {
	testimg.Need(t, "gzip")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a/build.log"), "start\nbuilt on 2024-03-01 12:00:00 UTC\nid 3f2a9c1e77d0\nend\n", t0)
	write(t, filepath.Join(dir, "b/build.log"), "start\nbuilt on 2024-03-02 08:13:55 UTC\nid 9be41f07a2c3\nend\n", t0)
	run(t, filepath.Join(dir, "a"), nil, "gzip", "-n", "build.log")
	run(t, filepath.Join(dir, "b"), nil, "gzip", "-n", "build.log")
	r := explainFiles(t, filepath.Join(dir, "a/build.log.gz"), filepath.Join(dir, "b/build.log.gz"), Options{})
	wantHints(t, r, hintTextTimestamp, hintRandomID)
	wantSummary(t, r, "gzip payload: text: 2 lines differ, first at line 2")
	if !r.Complete || len(r.Children) != 1 || !strings.Contains(r.Children[0].Details, "+built on 2024-03-02 08:13:55 UTC") {
		t.Errorf("want the payload's unified diff, complete")
	}
}

// buildELF compiles one C file in dir (so debug info records dir).
func buildELF(t *testing.T, dir string, strip bool) string {
	t.Helper()
	src := "#include <stdio.h>\nstatic const char *msg = \"hello\";\nint main(void) { puts(msg); return 0; }\n"
	write(t, filepath.Join(dir, "hello.c"), src, t0)
	run(t, dir, nil, "gcc", "-O1", "-g", "-Wl,--build-id=sha1", "-o", "hello", "hello.c")
	if strip {
		run(t, dir, nil, "strip", "--strip-debug", "hello")
	}
	return filepath.Join(dir, "hello")
}

func TestELFBuildIDOnly(t *testing.T) {
	testimg.Need(t, "gcc", "strip")
	root := t.TempDir()
	a := buildELF(t, filepath.Join(root, "build-1"), true)
	b := buildELF(t, filepath.Join(root, "build-2"), true)
	r := explainFiles(t, a, b, Options{})
	wantHints(t, r, hintBuildIDOnly)
	wantSummary(t, r, "only the build id differs")
	if !r.Complete {
		t.Error("a build-id-only difference is the whole difference")
	}
	if !strings.Contains(r.Details, "build id: ") {
		t.Error("details lack both build ids")
	}
}

func TestELFBuildPath(t *testing.T) {
	testimg.Need(t, "gcc")
	root := t.TempDir()
	a := buildELF(t, filepath.Join(root, "build-1"), false)
	b := buildELF(t, filepath.Join(root, "build-2"), false)
	r := explainFiles(t, a, b, Options{})
	wantHints(t, r, hintBuildPath)
	wantSummary(t, r, "ELF differs", "embedded paths differ")
	if r.Complete {
		t.Error("differing debug info is not a build-id-only difference")
	}
	if !strings.Contains(r.Details, filepath.Join(root, "build-1")) {
		t.Error("details lack the embedded build path")
	}
}

// cpioOf archives the files under dir (sorted) with GNU cpio.
func cpioOf(t *testing.T, dir, out string, args ...string) {
	t.Helper()
	var names []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	slices.Sort(names)
	cmd := exec.Command("cpio", append([]string{"-o", "-H", "newc", "--reproducible", "--quiet"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(names, "\n") + "\n")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cpio: %v\n%s", err, stderr.String())
	}
}

func TestCpioTimesAndOwners(t *testing.T) {
	testimg.Need(t, "cpio")
	dir := t.TempDir()
	files := map[string]string{"etc/hostname": "live\n", "init": "#!/bin/sh\nexec /sbin/init\n", "bin/tool": "\x7fbinary\x00"}
	for _, side := range []string{"a", "b"} {
		mt := t0
		if side == "b" {
			mt = t0.Add(90 * time.Minute)
		}
		for name, content := range files {
			write(t, filepath.Join(dir, side, name), content, mt)
		}
		os.Chtimes(filepath.Join(dir, side, "etc"), t0, t0)
		os.Chtimes(filepath.Join(dir, side, "bin"), t0, t0)
	}
	cpioOf(t, filepath.Join(dir, "a"), filepath.Join(dir, "a.cpio"), "-R", "0:0")
	cpioOf(t, filepath.Join(dir, "b"), filepath.Join(dir, "b.cpio"), "-R", "1000:1000")
	r := explainFiles(t, filepath.Join(dir, "a.cpio"), filepath.Join(dir, "b.cpio"), Options{})
	wantHints(t, r, hintCpioTimes, hintCpioUsers)
	wantSummary(t, r, "cpio: metadata differs", "mtime of 3", "uid of 5", "gid of 5")
	if !r.Complete {
		t.Error("metadata-only differences are the whole difference")
	}
}

// TestInitrdSegments: early microcode (plain cpio) followed by a
// compressed cpio; one member of the compressed part changes.
func TestInitrdSegments(t *testing.T) {
	testimg.Need(t, "cpio", "zstd")
	dir := t.TempDir()
	for _, side := range []string{"a", "b"} {
		early := filepath.Join(dir, side, "early")
		main := filepath.Join(dir, side, "main")
		write(t, filepath.Join(early, "kernel/x86/microcode/GenuineIntel.bin"), "microcode blob\n", t0)
		conf := "MODULES=most\n"
		if side == "b" {
			conf = "MODULES=dep\n"
		}
		write(t, filepath.Join(main, "conf/initramfs.conf"), conf, t0)
		write(t, filepath.Join(main, "init"), "#!/bin/sh\n", t0)
		for _, d := range []string{"kernel/x86/microcode", "kernel/x86", "kernel"} {
			os.Chtimes(filepath.Join(early, d), t0, t0)
		}
		os.Chtimes(filepath.Join(main, "conf"), t0, t0)
		cpioOf(t, early, filepath.Join(dir, side, "early.cpio"))
		cpioOf(t, main, filepath.Join(dir, side, "main.cpio"))
		run(t, filepath.Join(dir, side), nil, "zstd", "-q", "-19", "main.cpio")
		var img []byte
		for _, part := range []string{"early.cpio", "main.cpio.zst"} {
			b, err := os.ReadFile(filepath.Join(dir, side, part))
			if err != nil {
				t.Fatal(err)
			}
			img = append(img, b...)
		}
		if err := os.WriteFile(filepath.Join(dir, side, "initrd.img"), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := explainFiles(t, filepath.Join(dir, "a/initrd.img"), filepath.Join(dir, "b/initrd.img"), Options{})
	wantSummary(t, r, "content of conf/initramfs.conf differs: text: line 1 differs")
	if !r.Complete {
		t.Error("one text member's diff is the whole difference")
	}
	if !strings.Contains(r.Text(1<<16), "+MODULES=dep") {
		t.Error("the member's diff is missing")
	}
}

func TestDebMemberTimes(t *testing.T) {
	testimg.Need(t, "dpkg-deb")
	dir := t.TempDir()
	for i, side := range []string{"a", "b"} {
		pkg := filepath.Join(dir, side, "pkg")
		write(t, filepath.Join(pkg, "DEBIAN/control"), "Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: Demo <demo@example.org>\nDescription: demo\n", t0)
		mt := t0.Add(time.Duration(i) * 24 * time.Hour)
		write(t, filepath.Join(pkg, "usr/share/demo/data.txt"), "same data\n", mt)
		for _, d := range []string{"usr/share/demo", "usr/share", "usr", "DEBIAN", "."} {
			os.Chtimes(filepath.Join(pkg, d), mt, mt)
		}
		sde := fmt.Sprint(mt.Unix())
		run(t, filepath.Join(dir, side), []string{"SOURCE_DATE_EPOCH=" + sde}, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", "pkg", "demo.deb")
	}
	r := explainFiles(t, filepath.Join(dir, "a/demo.deb"), filepath.Join(dir, "b/demo.deb"), Options{})
	wantHints(t, r, hintArTimes, hintTarTimes)
	wantSummary(t, r, "deb: content differs in 2 members (control.tar.xz, data.tar.xz)", "mtime of 3")
	if !r.Complete {
		t.Error("member times are the whole difference")
	}
}

func TestJarMemberTimes(t *testing.T) {
	tool := "jar"
	if _, err := exec.LookPath("jar"); err != nil {
		tool = "zip" // a jar is a zip with a manifest
	}
	testimg.Need(t, tool)
	dir := t.TempDir()
	for i, side := range []string{"a", "b"} {
		mt := t0.Add(time.Duration(i) * time.Hour)
		d := filepath.Join(dir, side)
		write(t, filepath.Join(d, "META-INF/MANIFEST.MF"), "Manifest-Version: 1.0\r\nCreated-By: test\r\n\r\n", mt)
		write(t, filepath.Join(d, "org/demo/App.class"), "\xca\xfe\xba\xbe class bytes", mt)
		write(t, filepath.Join(d, "org/demo/app.properties"), "name=demo\n", mt)
		for _, x := range []string{"org/demo", "org", "META-INF"} {
			os.Chtimes(filepath.Join(d, x), mt, mt)
		}
		if tool == "jar" {
			run(t, d, nil, "jar", "--create", "--file", "../"+side+".jar", "--manifest", "META-INF/MANIFEST.MF", "org")
		} else {
			run(t, d, nil, "zip", "-qrX", "../"+side+".jar", "META-INF", "org")
		}
	}
	r := explainFiles(t, filepath.Join(dir, "a.jar"), filepath.Join(dir, "b.jar"), Options{})
	wantHints(t, r, hintJarTimes)
	wantSummary(t, r, "jar: ", "mtime of")
}

func TestPycSourceMtime(t *testing.T) {
	testimg.Need(t, "python3")
	dir := t.TempDir()
	for i, side := range []string{"a", "b"} {
		src := filepath.Join(dir, side, "mod.py")
		write(t, src, "def f():\n    return 42\n", t0.Add(time.Duration(i)*time.Hour))
		run(t, filepath.Join(dir, side), nil, "python3", "-c", "import py_compile; py_compile.compile('mod.py', cfile='mod.pyc', dfile='mod.py')")
	}
	r := explainFiles(t, filepath.Join(dir, "a/mod.pyc"), filepath.Join(dir, "b/mod.pyc"), Options{})
	wantHints(t, r, hintPycMtime)
	wantSummary(t, r, "pyc: header source mtime differs, code object identical")
	if !r.Complete {
		t.Error("a header-only difference is the whole difference")
	}
}

func TestFATSerialAndTimes(t *testing.T) {
	testimg.Need(t, "mkfs.vfat", "mcopy", "mmd")
	dir := t.TempDir()
	for i, side := range []string{"a", "b"} {
		d := filepath.Join(dir, side)
		mt := t0.Add(time.Duration(i) * 2 * time.Hour)
		write(t, filepath.Join(d, "BOOTX64.EFI"), "MZ efi loader bytes", mt)
		write(t, filepath.Join(d, "grub.cfg"), "search --set=root --file /.disk/id\n", mt)
		img := filepath.Join(d, "efi.img")
		serial := []string{"1234ABCD", "9F00E2C1"}[i]
		run(t, d, nil, "mkfs.vfat", "-C", "-i", serial, "-n", "EFIBOOT", img, "1440")
		run(t, d, nil, "mmd", "-i", img, "::/EFI", "::/EFI/BOOT")
		run(t, d, nil, "mcopy", "-m", "-i", img, filepath.Join(d, "BOOTX64.EFI"), filepath.Join(d, "grub.cfg"), "::/EFI/BOOT/")
	}
	r := explainFiles(t, filepath.Join(dir, "a/efi.img"), filepath.Join(dir, "b/efi.img"), Options{})
	wantHints(t, r, hintFATSerial, hintFATTimes)
	wantSummary(t, r, "FAT: boot sector volume serial", "mtime of 2")
}

func TestTextRandomID(t *testing.T) {
	dir := t.TempDir()
	var a, b strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&a, "line %d\n", i)
		fmt.Fprintf(&b, "line %d\n", i)
		if i == 100 {
			a.WriteString("machine-id 6f1c0b6e-2f41-4c8b-9d1e-3a5b7c9d0e1f\n")
			b.WriteString("machine-id 0d3e8a77-91b2-4f6a-8c0d-5e4f3a2b1c0d\n")
		}
	}
	write(t, filepath.Join(dir, "a/id.txt"), a.String(), t0)
	write(t, filepath.Join(dir, "b/id.txt"), b.String(), t0)
	r := explainFiles(t, filepath.Join(dir, "a/id.txt"), filepath.Join(dir, "b/id.txt"), Options{})
	wantHints(t, r, hintRandomID)
	wantSummary(t, r, "text: line 102 differs")
	if !strings.Contains(r.Details, "@@ -99,7 +99,7 @@") {
		t.Errorf("unexpected hunk:\n%s", r.Details)
	}
}

func TestHexWindow(t *testing.T) {
	dir := t.TempDir()
	base := make([]byte, 5000)
	rand.New(rand.NewSource(1)).Read(base)
	b := append([]byte(nil), base...)
	copy(b[3000:], "BUILD-20240302")
	copy(base[3000:], "BUILD-20240301")
	write(t, filepath.Join(dir, "a.bin"), string(base), t0)
	write(t, filepath.Join(dir, "b.bin"), string(b), t0)
	r := explainFiles(t, filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin"), Options{})
	wantSummary(t, r, "1 differing byte range (1 bytes) at equal size 5000, first at byte 3013")
	wantHints(t, r, hintBinaryTimestamp)
	if !strings.Contains(r.Details, " 00000bb0: ") {
		t.Errorf("no hex window:\n%s", r.Details)
	}
}

// TestHostileMemberNames: members named ../../x and /abs/x are compared
// without writing anything outside the private temporary directory, which
// is gone afterwards.
func TestHostileMemberNames(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work", "deep")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "tmp")
	os.Mkdir(tmp, 0o700)
	names := []string{"../../escaped", "/" + filepath.Join(root, "absolute"), "../../../../../../../" + filepath.Join(root, "dotdot")}
	for i, side := range []string{"a", "b"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, n := range names {
			body := fmt.Sprintf("content %d of %s\n", i, n)
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: t0, Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		write(t, filepath.Join(work, side+".tar"), buf.String(), t0)
	}
	r := explainFiles(t, filepath.Join(work, "a.tar"), filepath.Join(work, "b.tar"), Options{TempDir: tmp})
	wantSummary(t, r, "tar: content differs in 3 members")
	for _, p := range []string{filepath.Join(root, "escaped"), filepath.Join(root, "work", "escaped"), filepath.Join(root, "absolute"), filepath.Join(root, "dotdot")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for _, n := range names {
		if j := SafeJoin(tmp, n); !strings.HasPrefix(j, tmp+string(filepath.Separator)) {
			t.Errorf("SafeJoin(%q) = %q escapes", n, j)
		}
	}
}

// TestDecompressionBomb: a gzip stream past MaxStreamBytes is cut off and
// said so, quickly and without error.
func TestDecompressionBomb(t *testing.T) {
	testimg.Need(t, "gzip")
	dir := t.TempDir()
	for i, side := range []string{"a", "b"} {
		p := filepath.Join(dir, side+".bin")
		f, _ := os.Create(p)
		f.Truncate(8 << 20)
		f.WriteAt([]byte{byte(i + 1)}, 8<<20-1)
		f.Close()
		run(t, dir, nil, "gzip", "-n", side+".bin")
	}
	r := explainFiles(t, filepath.Join(dir, "a.bin.gz"), filepath.Join(dir, "b.bin.gz"), Options{MaxStreamBytes: 1 << 20})
	wantSummary(t, r, "exceeds 1048576 bytes")
	if r.Complete {
		t.Error("a cut-off comparison is not complete")
	}
}

// TestMyers checks the edit script against a quadratic LCS on random
// inputs: it must turn a into b, and be minimal within budget.
func TestMyers(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for iter := 0; iter < 300; iter++ {
		a := make([]int, rng.Intn(40))
		b := make([]int, rng.Intn(40))
		for i := range a {
			a[i] = rng.Intn(5)
		}
		for i := range b {
			b[i] = rng.Intn(5)
		}
		edits, costly := myers(a, b, 0, nil)
		if costly {
			t.Fatal("budget hit on a tiny input")
		}
		var got []int
		ia, ib, changes := 0, 0, 0
		for _, e := range edits {
			switch e.kind {
			case editEqual:
				for k := 0; k < e.n; k++ {
					if a[ia] != b[ib] {
						t.Fatalf("equal run on unequal lines")
					}
					got = append(got, a[ia])
					ia++
					ib++
				}
			case editDelete:
				ia += e.n
				changes += e.n
			case editInsert:
				got = append(got, b[ib:ib+e.n]...)
				ib += e.n
				changes += e.n
			}
		}
		if ia != len(a) || ib != len(b) || !slices.Equal(got, b) {
			t.Fatalf("script does not turn a into b: %v %v %v", a, b, edits)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); changes != want {
			t.Fatalf("not minimal: %d changes, want %d", changes, want)
		}
	}
	// A budget too small still gives a correct (wholesale) script.
	edits, costly := myers([]int{1, 2, 3, 4}, []int{5, 2, 6, 4}, 1, nil)
	if !costly || len(edits) == 0 {
		t.Errorf("budget not applied: %v", edits)
	}
}

func lcs(a, b []int) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = 1 + dp[i+1][j+1]
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
