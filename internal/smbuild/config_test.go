package smbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodImage = "registry.example:5000/team/builder:bookworm@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseEnvFileAccepts(t *testing.T) {
	data := "# comment\n\n   \t\n" +
		"A=plain-value_1.2/x:y,z@w%+=\n" +
		"B='single $quoted \"x\"' # trailing comment\n" +
		"C=\"double 'quoted'\"\n" +
		"D=\n" +
		"E= # empty, then a comment\n" +
		"lower_case=ok\n"
	got, err := ParseEnvFile("f.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "plain-value_1.2/x:y,z@w%+=", "B": `single $quoted "x"`, "C": "double 'quoted'", "D": "", "E": "", "lower_case": "ok"}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	for _, e := range got {
		if want[e.Key] != e.Value {
			t.Errorf("%s = %q, want %q", e.Key, e.Value, want[e.Key])
		}
	}
	if got[1].Line != 5 || got[1].File != "f.conf" {
		t.Errorf("B at %s, want f.conf:5", got[1].Where())
	}
}

func TestParseEnvFileRejects(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"A=b c", "unexpected text \"c\""},
		{"A=$HOME", "unexpected \"$\""},
		{"A=x;y", "unexpected \";\""},
		{"A=~/x", "unexpected \"~\""},
		{"A='open", "single quote is not closed"},
		{"A=\"x$y\"", "would be interpreted by a shell"},
		{"A=\"x\\y\"", "would be interpreted by a shell"},
		{"A='x'y", "unexpected text \"y\""},
		{"A=b#c", "unexpected \"#\""},
		{"A = b", "bad name \"A \""},
		{"1A=b", "bad name"},
		{"export A=b", "\"export\" is not supported"},
		{"  A=b", "first column"},
		{"just words", "expected NAME=VALUE"},
		{"A=b\r", "CRLF"},
		{"A=\x1b[31m", "control character"},
	} {
		_, err := ParseEnvFile("x.env", []byte("# first\n"+tc.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), "x.env:2: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want x.env:2: ...%s", tc.line, err, tc.want)
		}
	}
	if _, err := ParseEnvFile("d.env", []byte("A=1\nB=2\nA=3\n")); err == nil || !strings.Contains(err.Error(), "d.env:3: A is set again (first set on line 1)") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := ParseEnvFile("n.env", []byte("A=\x00")); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("NUL: %v", err)
	}
	if _, err := ParseEnvFile("u.env", []byte("A='\xff'")); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("bad UTF-8: %v", err)
	}
}

func TestQuoteValueRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", "two words", "it's x", "$HOME and `x`", "a'b"} {
		q, ok := quoteValue(v)
		if !ok {
			t.Errorf("%q: cannot quote", v)
			continue
		}
		got, err := ParseEnvFile("rt", []byte("K="+q+"\n"))
		if err != nil || len(got) != 1 || got[0].Value != v {
			t.Errorf("%q quoted as %s reads back %+v, %v", v, q, got, err)
		}
	}
	if _, ok := quoteValue(`a'b"c`); ok {
		t.Error(`a'b"c should not be quotable`)
	}
}

func TestCheckPinned(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, ok := range []string{"sha256:" + hex, "debian@sha256:" + hex, "debian:bookworm@sha256:" + hex, goodImage, "localhost/a_b/c-d@sha256:" + hex} {
		if err := CheckPinned(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for ref, want := range map[string]string{
		"debian:bookworm":                    "is not pinned by digest",
		"debian":                             "is not pinned by digest",
		"foo@sha256:short":                   "not sha256: followed by 64 lower-case hex digits (got 5",
		"sha256:abc":                         "an image id is sha256: followed by 64",
		"foo@sha256:" + strings.ToUpper(hex): "64 lower-case hex digits",
		"foo@md5:" + hex:                     "not a sha256 digest",
		"Foo@sha256:" + hex:                  "not a valid image name",
		"foo:b@d@sha256:" + hex:              "",
		"":                                   "is empty",
	} {
		err := CheckPinned(ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", ref, err, want)
		}
	}
}

func TestCheckSnapshotTimestamp(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := CheckSnapshotTimestamp("20250102T030405Z", now); err != nil {
		t.Error(err)
	}
	for v, want := range map[string]string{
		"2025-01-02":       "not of the form",
		"20251302T000000Z": "not a real time",
		"20250230T000000Z": "not a real time",
		"20270101T000000Z": "in the future",
	} {
		if err := CheckSnapshotTimestamp(v, now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", v, err, want)
		}
	}
}

func TestParseSourceDateEpoch(t *testing.T) {
	if n, err := ParseSourceDateEpoch("1700000000"); n != 1700000000 || err != nil {
		t.Errorf("got %d, %v", n, err)
	}
	for _, v := range []string{"0", "-1", "+5", "017", "1.5", "4294967296", "abc", "1e9"} {
		if _, err := ParseSourceDateEpoch(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadConfig(t *testing.T) {
	dir := writeConfig(t, map[string]string{
		"build.conf": "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND='/builder --out /output/'\nBUILDER_NETWORK=none\n",
		"flavor.conf": "# derivative selection\nDERIVATIVE_FLAVOR=kicksecure-xfce\n" +
			"MKSQUASHFS_OPTIONS='-comp xz -Xbcj x86'\nBUILD_SHELL=/bin/sh\nTOOLCHAIN_SUBMODULE=packages/derivative-maker\n" +
			"BUILDER_LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1\nBUILD_VARY_USER='no: live-build needs root'\nBUILD_VARY_CPUS=yes\n",
		SnapshotPinFile:     "SNAPSHOT_TIMESTAMP=20250101T000000Z\n",
		SourceDateEpochFile: "# override\nSOURCE_DATE_EPOCH=1700000000\n",
	})
	c, err := LoadConfig(dir, "config")
	if err != nil {
		t.Fatal(err)
	}
	if c.BuilderImage != goodImage || strings.Join(c.BuildCommand, "|") != "/builder|--out|/output/" ||
		c.Network != "none" || c.BuildShell != "/bin/sh" || c.ToolchainSubmodule != "packages/derivative-maker" ||
		c.SnapshotTimestamp != "20250101T000000Z" || c.SourceDateEpoch != 1700000000 || c.SourceDateEpochFile != "config/source-date-epoch.env" {
		t.Errorf("config: %+v", c)
	}
	if c.LibFaketime != "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1" || c.Setarch != DefaultSetarch || c.VaryOff("user") != "live-build needs root" || c.VaryOff("cpus") != "" || c.VaryOff("time") != "" {
		t.Errorf("variations: %+v", c)
	}
	if len(c.Env) != 2 || c.Env[0].Key != "DERIVATIVE_FLAVOR" || c.Env[1].Value != "-comp xz -Xbcj x86" {
		t.Errorf("env: %+v", c.Env)
	}
}

// TestLoadConfigRejects checks that each bad value is reported with the
// file and line it is on.
func TestLoadConfigRejects(t *testing.T) {
	pin := "SNAPSHOT_TIMESTAMP=20250101T000000Z\n"
	base := "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND=/builder\nBUILDER_LIBFAKETIME=/lib/libfaketime.so.1\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unpinned", map[string]string{"build.conf": "BUILD_COMMAND=/b\nBUILDER_IMAGE=debian:bookworm\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:2: BUILDER_IMAGE "debian:bookworm" is not pinned by digest`}},
		{"short digest", map[string]string{"build.conf": "BUILD_COMMAND=/b\n\nBUILDER_IMAGE=foo@sha256:short\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:3: BUILDER_IMAGE "foo@sha256:short": digest "sha256:short"`}},
		{"bad values", map[string]string{"build.conf": base + "BUILDER_NETWORK=host\nBUILDER_PRIVILEGED=true\nBUILD_SHELL=sh\nTOOLCHAIN_SUBMODULE=../x\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:4: BUILDER_NETWORK "host"`, `config/build.conf:5: BUILDER_PRIVILEGED "true"`, `config/build.conf:6: BUILD_SHELL "sh"`, `config/build.conf:7: TOOLCHAIN_SUBMODULE "../x"`}},
		{"empty command", map[string]string{"build.conf": "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND=' '\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:2: BUILD_COMMAND is empty`}},
		{"quoted command", map[string]string{"build.conf": "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND=\"./b 'x y'\"\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:2: BUILD_COMMAND word "'x"`}},
		{"typo and reserved", map[string]string{"build.conf": base + "BUILDER_IMAGES=x\nBUILD_COMAND=x\nTZ=Europe/Berlin\nSOURCE_DATE_EPOCH=5\nBUILD_FOO=1\n", SnapshotPinFile: pin},
			[]string{"config/build.conf:4: unknown key BUILDER_IMAGES; did you mean BUILDER_IMAGE?", "config/build.conf:5: unknown key BUILD_COMAND; did you mean BUILD_COMMAND?",
				"config/build.conf:6: TZ may not be set here", "config/build.conf:7: SOURCE_DATE_EPOCH may not be set here", "config/build.conf:8: unknown key BUILD_FOO"}},
		{"variations", map[string]string{"build.conf": "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND=/b\nBUILD_VARY_CPUS=no\nBUILD_VARY_HOME='no:'\nBUILD_VARY_TIMEZONE=off\nBUILD_VARY_TIMES=yes\nHOME=/x\nLD_PRELOAD=/x.so\nBUILDER_LIBFAKETIME=lib.so\n", SnapshotPinFile: pin},
			[]string{`config/build.conf:3: BUILD_VARY_CPUS "no" is not "yes" or "no: <the reason it cannot vary>"`, `config/build.conf:4: BUILD_VARY_HOME "no:" is not`, `config/build.conf:5: BUILD_VARY_TIMEZONE "off" is not`,
				"config/build.conf:6: unknown key BUILD_VARY_TIMES; did you mean BUILD_VARY_TIME?", "config/build.conf:7: HOME may not be set here", "config/build.conf:8: LD_PRELOAD may not be set here",
				`config/build.conf:9: BUILDER_LIBFAKETIME "lib.so" is not the absolute path`}},
		{"time needs libfaketime", map[string]string{"build.conf": "BUILDER_IMAGE=" + goodImage + "\nBUILD_COMMAND=/b\n", SnapshotPinFile: pin},
			[]string{"config/*.conf: the time variation needs libfaketime in the builder image", "BUILD_VARY_TIME='no: <reason>'"}},
		{"duplicate across files", map[string]string{"a.conf": base, "b.conf": "\nBUILD_COMMAND=/other\n", SnapshotPinFile: pin},
			[]string{"config/b.conf:2: BUILD_COMMAND is already set at config/a.conf:2"}},
		{"missing keys", map[string]string{"a.conf": "X=1\n", SnapshotPinFile: pin},
			[]string{"config/*.conf: BUILDER_IMAGE is not set", "config/*.conf: BUILD_COMMAND is not set"}},
		{"no conf", map[string]string{SnapshotPinFile: pin}, []string{"config/*.conf: no config files"}},
		{"syntax", map[string]string{"a.conf": base + "X=a b\n", SnapshotPinFile: pin}, []string{`config/a.conf:4: X: unexpected text "b"`}},
		{"pin missing", map[string]string{"a.conf": base}, []string{"config/snapshot-pin.env: missing"}},
		{"pin bad", map[string]string{"a.conf": base, SnapshotPinFile: "# pin\nSNAPSHOT_TIMESTAMP=2025-01-01\nOTHER=1\n"},
			[]string{`config/snapshot-pin.env:2: SNAPSHOT_TIMESTAMP "2025-01-01" is not of the form`, "config/snapshot-pin.env:3: OTHER does not belong here"}},
		{"pin empty", map[string]string{"a.conf": base, SnapshotPinFile: "# nothing\n"}, []string{"config/snapshot-pin.env: SNAPSHOT_TIMESTAMP is not set"}},
		{"epoch bad", map[string]string{"a.conf": base, SnapshotPinFile: pin, SourceDateEpochFile: "SOURCE_DATE_EPOCH=017\n"},
			[]string{`config/source-date-epoch.env:1: SOURCE_DATE_EPOCH "017" is not a whole number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.files), "config")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestExampleConfig keeps the example in examples/smbuild-config valid.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "..", "examples", "smbuild-config"), "examples/smbuild-config")
	if err != nil {
		t.Fatal(err)
	}
	if c.ToolchainSubmodule != "derivative-maker" || len(c.Env) != 3 || c.SourceDateEpoch != 1748736000 {
		t.Errorf("example config read as %+v", c)
	}
}
