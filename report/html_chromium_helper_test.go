package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Chromium runs headless Chromium (Debian's chromium package) with args
// and the page at path, and returns its stdout. Without chromium the test
// is skipped, unless the environment variable CI is set: there a missing
// chromium fails it (scripts/test.sh installs it). Chromium gets a HOME and
// a profile of its own, and its whole process group is killed if it runs
// past a minute.
func Chromium(t *testing.T, path string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("CI=%s and chromium is not installed (scripts/test.sh installs it): %v", ci, err)
		}
		t.Skip("chromium is not installed (apt-get install chromium), and CI is not set: the rendering check is skipped")
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir=" + filepath.Join(home, "profile")}, append(args, "file://"+abs)...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.Dir = home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// Whatever it left behind in its group (renderer, zygote) goes too.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		t.Fatalf("chromium %v: killed after a minute\n%s", args, stderr.Bytes())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// domElements returns the names of the elements in a DOM Chromium dumped.
func domElements(dom string) map[string]int {
	n := map[string]int{}
	for _, m := range regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)`).FindAllStringSubmatch(dom, -1) {
		n[strings.ToLower(m[1])]++
	}
	return n
}

// TestHTMLChromiumHostile: Chromium's own parser, given the page of a
// report with hostile names in every field, builds only the page's
// elements: no script, image, SVG, frame, form or style element from a
// name, no event-handler attribute, and the names as text.
func TestHTMLChromiumHostile(t *testing.T) {
	r := hostileReport(htmlHostileNames...)
	r.A.Path, r.B.Path = htmlHostileNames[0], htmlHostileNames[1]
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(Chromium(t, page, "--dump-dom"))
	if !strings.Contains(dom, `id="findings"`) {
		t.Fatalf("chromium did not render the page:\n%.2000s", dom)
	}
	got := domElements(dom)
	want := domElements(b.String())
	for name, n := range got {
		if !htmlTags[name] {
			t.Errorf("chromium built %d <%s> elements: not one of the page's own", n, name)
		} else if n != want[name] {
			t.Errorf("chromium built %d <%s> elements, the page writes %d", n, name, want[name])
		}
	}
	if regexp.MustCompile(`(?i)<[^>]*\son[a-z]+=`).MatchString(dom) {
		t.Error("an element with an event handler attribute")
	}
	if got["style"] != 1 || got["script"] != 0 {
		t.Errorf("%d style and %d script elements", got["style"], got["script"])
	}
	text := strings.ReplaceAll(dom, "&nbsp;", "\u00a0")
	for _, name := range htmlHostileNames[:9] {
		want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(SafeText(inline("/c/"+name)), "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
		if !strings.Contains(text, want) {
			t.Errorf("the DOM lacks the text %q", want)
		}
	}
}
