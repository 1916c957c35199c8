package isodiff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// buildDeb makes a .deb of the given files with dpkg-deb.
func buildDeb(t *testing.T, dir, name, version string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(dir, name+"_"+version)
	testimg.WriteFiles(t, root, files)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n", name, version)
	testimg.WriteFiles(t, root, map[string]string{"DEBIAN/control": control})
	deb := root + ".deb"
	testimg.Run(t, dir, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb)
	return deb
}

// Each diverging file of a Debian root filesystem is attributed to its
// package, with the verdict its shipped checksums give: the package
// version moved, the build changed the file after installing it, or no
// package owns it (made during the build).
func TestOwnersFromDpkgDatabase(t *testing.T) {
	testimg.Need(t, "dpkg", "dpkg-deb", "mksquashfs", "xorriso")
	base := t.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base, _ = os.MkdirTemp("/dev/shm", "owners-") // dpkg syncs every file it writes
		defer os.RemoveAll(base)
	}
	debs := t.TempDir()
	// demo's upgrade changes six files: said as one line of the short answer.
	demoFiles := func(v string) map[string]string {
		m := map[string]string{"usr/share/demo/data": map[string]string{"1.0": "one\n", "1.1": "two\n"}[v]}
		for k := range 5 {
			m[fmt.Sprintf("usr/lib/demo/mod%d", k)] = "module " + v + "\n"
		}
		return m
	}
	demo10 := buildDeb(t, debs, "demo", "1.0", demoFiles("1.0"))
	demo11 := buildDeb(t, debs, "demo", "1.1", demoFiles("1.1"))
	tool := buildDeb(t, debs, "tool", "2.0", map[string]string{"usr/share/tool/config": "shipped\n"})
	var isos [2]string
	for i, pkgs := range [][]string{{demo10, tool}, {demo11, tool}} {
		root := filepath.Join(base, "root"+string(rune('a'+i)))
		testimg.WriteFiles(t, root, map[string]string{"var/lib/dpkg/status": "", "etc/build-id": fmt.Sprintf("build %d\n", i)})
		os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755)
		os.MkdirAll(filepath.Join(root, "var/lib/dpkg/updates"), 0o755)
		args := append([]string{"--root=" + root, "--force-all", "--log=/dev/null", "-i"}, pkgs...)
		if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
			t.Fatalf("dpkg -i: %v\n%s", err, out)
		}
		if i == 1 { // the build edits a file a package shipped
			os.WriteFile(filepath.Join(root, "usr/share/tool/config"), []byte("edited by the build\n"), 0o644)
		}
		iso := filepath.Join(base, "iso"+string(rune('a'+i)))
		os.MkdirAll(filepath.Join(iso, "live"), 0o755)
		testimg.MakeSquashfs(t, root, filepath.Join(iso, "live", "filesystem.squashfs"), "-mkfs-time", "0", "-all-time", "0")
		isos[i] = testimg.MakeISO(t, iso, filepath.Join(t.TempDir(), "live.iso"), "-R", "-V", "DEB", "--modification-date=2024010203040500")
	}
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true, Ignore: []string{"mtime"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*report.Owner{}
	for _, f := range rep.Stage(report.StageContent).Findings {
		if f.Owner != nil {
			got[f.Path] = f.Owner
		}
	}
	for path, want := range map[string]report.Owner{
		"/usr/share/demo/data":   {Package: "demo", VersionA: "1.0", VersionB: "1.1", Verdict: "package_differs"},
		"/usr/share/tool/config": {Package: "tool", VersionA: "2.0", VersionB: "2.0", Verdict: "changed_after_install"},
		"/etc/build-id":          {Verdict: "not_owned"},
	} {
		o := got[path]
		if o == nil || o.Package != want.Package || o.VersionA != want.VersionA || o.VersionB != want.VersionB || o.Verdict != want.Verdict {
			t.Errorf("%s: owner %+v, want %+v", path, o, want)
		}
	}
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	if strings.Contains(sum.String(), "> /usr/lib/demo/mod1") {
		t.Errorf("the package's files are listed one by one:\n%s", sum.String())
	}
	for _, want := range []string{
		"/live/filesystem.squashfs > 6 files of package demo: package demo 1.0 -> 1.1: package differs between A and B, e.g. /usr/lib/demo/mod0: content: text: line 1 differs",
		"/live/filesystem.squashfs > /usr/share/tool/config: size 8 -> 20, content: text: line 1 differs, package tool 2.0: changed after installation by the build",
		"/live/filesystem.squashfs > /etc/build-id: content: text: line 1 differs, not owned by any package (made during the build)",
	} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("the short answer lacks %q:\n%s", want, sum.String())
		}
	}
}
