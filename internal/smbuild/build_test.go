package smbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunArgs(t *testing.T) {
	j := &Job{
		Opts:   Options{OutDir: "/work/src/output"},
		Source: &Source{Dir: "/work/src", Commit: strings.Repeat("ab", 20)},
		Config: &Config{
			LibFaketime:       "/usr/lib/faketime/libfaketime.so.1",
			Setarch:           "/usr/bin/setarch",
			varyOff:           map[string]string{},
			BuildCommand:      []string{"./build", "--flavor", "x"},
			BuildShell:        "/bin/sh",
			Network:           "none",
			Privileged:        true,
			SnapshotTimestamp: "20250101T000000Z",
			Env:               []Entry{{Key: "DERIVATIVE_FLAVOR", Value: "kicksecure xfce"}},
		},
		ImageID:         "sha256:" + strings.Repeat("0", 64),
		SourceDateEpoch: 1700000000,
		EngineCPUs:      8,
	}
	j.Opts.RunnerEnv = []string{"http_proxy=http://user:secret@proxy:3128"}
	args := j.RunArgs(j.Variants()[1], "/out,dir/build-b", "smbuild-x-b-1")
	got := strings.Join(args, "\n")
	for _, want := range []string{
		"run\n--rm\n--init\n--name\nsmbuild-x-b-1\n",
		"--hostname\nsmbuild-variant-b.invalid\n--workdir\n/build/variant-b/source\n",
		"--mount\ntype=bind,source=/work/src,target=/build/variant-b/source,readonly\n",
		"--mount\ntype=bind,\"source=/out,dir/build-b\",target=/output\n",
		"--mount\ntype=tmpfs,target=/build/variant-b/source/output,tmpfs-size=4096\n",
		"--network\nnone\n--privileged\n--cpuset-cpus\n0-3\n--user\n1000:1000\n",
		"--env\nLC_ALL=fr_CH.UTF-8\n--env\nLANG=fr_CH.UTF-8\n--env\nTZ=<+14>-14\n--env\nHOME=/nonexistent/smbuild-variant-b\n--env\nSOURCE_DATE_EPOCH=1700000000\n--env\nSNAPSHOT_TIMESTAMP=20250101T000000Z\n--env\nUMASK=0002\n" +
			"--env\nLD_PRELOAD=/usr/lib/faketime/libfaketime.so.1\n--env\nFAKETIME=+398d\n--env\nFAKETIME_DONT_FAKE_MONOTONIC=1\n--env\nDERIVATIVE_FLAVOR=kicksecure xfce\n--env\nhttp_proxy\nsha256:",
		"sha256:" + strings.Repeat("0", 64) + "\n/bin/sh\n-c\n" + ShellWrapper + "\nsmbuild-build\n/usr/bin/setarch\n--uname-2.6\n./build\n--flavor\nx",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("docker run arguments lack\n%s\nin\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret") {
		t.Errorf("a runner variable's value is on the docker command line:\n%s", got)
	}
	if env := j.Env(j.Variants()[1]); env[len(env)-1] != "http_proxy=http://user:secret@proxy:3128" {
		t.Errorf("Env does not end with the runner's variable: %q", env)
	}
	// Output outside the source: no mask; no shell: the command as is.
	j.Opts.OutDir, j.Config.BuildShell, j.Config.Network, j.Config.Privileged = "/elsewhere", "", "default", false
	got = strings.Join(j.RunArgs(j.Variants()[0], "/elsewhere/x", "n"), " ")
	if strings.Contains(got, "tmpfs") || strings.Contains(got, "--network") || strings.Contains(got, "--privileged") ||
		strings.Contains(got, "--cpuset-cpus") || strings.Contains(got, "--user") || strings.Contains(got, "FAKETIME") || strings.Contains(got, "setarch") ||
		!strings.HasSuffix(got, strings.Repeat("0", 64)+" ./build --flavor x") || !strings.Contains(got, "UMASK=0022") ||
		!strings.Contains(got, "--env LC_ALL=C.UTF-8 --env LANG=C.UTF-8 --env TZ=UTC --env HOME=/root ") {
		t.Errorf("docker run arguments of build a: %s", got)
	}
}

// TestVariationsOff checks that a variation switched off gives build b
// build a's value, and only for that variation.
func TestVariationsOff(t *testing.T) {
	j := &Job{Config: &Config{varyOff: map[string]string{}}, EngineCPUs: 2}
	on := j.Variants()
	if a, b := on[0], on[1]; a.CPUSet != "" || a.CPUs != 2 || b.CPUSet != "0" || b.CPUs != 1 || a.ClockOffset != "" || b.ClockOffset != "+398d" || a.ReorderSource || !b.ReorderSource || a.Uname26 || !b.Uname26 {
		t.Errorf("all on: a %+v, b %+v", a, b)
	}
	for _, x := range Variations {
		j.Config.varyOff = map[string]string{x.Name: "a reason"}
		vs := j.Variants()
		a, b := vs[0].values(), vs[1].values()
		for _, y := range Variations {
			if same := a[y.Name] == b[y.Name]; same != (x.Name == y.Name) {
				t.Errorf("%s off: %s a %q b %q", x.Name, y.Name, a[y.Name], b[y.Name])
			}
		}
		if r := j.VariationReport(); !strings.Contains(r, x.Name+strings.Repeat(" ", 12-len(x.Name))+" not varied ("+x.Key+"=no): a reason; both: "+a[x.Name]+"\n") {
			t.Errorf("%s off: report\n%s", x.Name, r)
		}
	}
}

func TestFindISO(t *testing.T) {
	dir := t.TempDir()
	if _, err := findISO(dir); err == nil || !strings.Contains(err.Error(), "wrote no *.iso file") {
		t.Errorf("empty: %v", err)
	}
	touch := func(name string) {
		t.Helper()
		if err := writeFile(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	touch("build.log")
	touch("a.iso")
	if got, err := findISO(dir); got != "a.iso" || err != nil {
		t.Errorf("got %q, %v", got, err)
	}
	touch("b.ISO")
	if _, err := findISO(dir); err == nil || !strings.Contains(err.Error(), "wrote 2 *.iso files to /output (a.iso, b.ISO)") {
		t.Errorf("two: %v", err)
	}
}

func writeFile(dir, name string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
}

func TestToolchain(t *testing.T) {
	s := &Source{Dir: "/src"}
	if m, err := s.Toolchain(""); m != nil || err != nil {
		t.Errorf("no submodules: %v, %v", m, err)
	}
	s.Submodules = []Submodule{{Path: "derivative-maker", Commit: "c1", State: ' '}}
	if m, err := s.Toolchain(""); err != nil || m.Commit != "c1" {
		t.Errorf("one submodule: %v, %v", m, err)
	}
	s.Submodules = append(s.Submodules, Submodule{Path: "other", Commit: "c2", State: ' '})
	if _, err := s.Toolchain(""); err == nil || !strings.Contains(err.Error(), "2 submodules (derivative-maker, other); name the toolchain one with TOOLCHAIN_SUBMODULE") {
		t.Errorf("two submodules: %v", err)
	}
	if m, err := s.Toolchain("other"); err != nil || m.Commit != "c2" {
		t.Errorf("named: %v, %v", m, err)
	}
	if _, err := s.Toolchain("missing"); err == nil {
		t.Error("a missing submodule was accepted")
	}
}
