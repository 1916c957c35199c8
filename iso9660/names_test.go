package iso9660

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// runUTF8 runs a command in a UTF-8 locale (testimg.Run uses LC_ALL=C, in
// which xorriso turns non-ASCII names into "_").
func runUTF8(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// TestNonASCIINames: UTF-8 Rock Ridge names are bytes as recorded; Joliet
// names are UCS-2 decoded to the same UTF-8 (a character outside the BMP
// becomes "_" when xorriso writes Joliet). Both are checked against xorriso's
// listing in a UTF-8 locale, and the walk order is bytewise on UTF-8.
func TestNonASCIINames(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	names := []string{"héllo", "日本語", "emoji😀", "Zed", "ärger/ö"}
	for _, n := range names {
		testimg.WriteFiles(t, src, map[string]string{n: n})
	}
	for _, c := range []struct {
		ns   string
		args []string
	}{
		{NamespaceRockRidge, []string{"-R", "-J"}},
		{NamespaceJoliet, []string{"--norock", "-J"}},
	} {
		img := filepath.Join(dir, c.ns+".iso")
		runUTF8(t, "xorriso", append(append([]string{"-as", "mkisofs", "-quiet", "-o", img}, c.args...), src)...)
		im, _ := openImage(t, img)
		if im.Namespace != c.ns {
			t.Fatalf("namespace %s", im.Namespace)
		}
		entries := walkAll(t, im)
		var got []string
		for _, e := range entries {
			got = append(got, e.Path)
		}
		out := runUTF8(t, "xorriso", "-indev", img, "-find", "/", "-exec", "lsdl")
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			i := strings.Index(line, " '/")
			want = append(want, strings.TrimSuffix(line[i+2:], "'"))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s:\n walk %q\n xorriso %q", c.ns, got, want)
		}
		if c.ns == NamespaceRockRidge && !strings.Contains(strings.Join(got, "|"), "/emoji😀") {
			t.Errorf("Rock Ridge lost the emoji: %q", got)
		}
	}
}
