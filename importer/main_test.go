package importer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mknodLog is the file the mknod wrapper appends its arguments to: CalebQ42
// gives device numbers to nothing but the mknod command its extraction
// runs, so the wrapper (first on PATH) is how the test sees them.
var mknodLog string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if real, err := exec.LookPath("mknod"); err == nil {
		dir, err := os.MkdirTemp("", "importer-mknod-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		mknodLog = filepath.Join(dir, "log")
		script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n", mknodLog, real)
		if err := os.WriteFile(filepath.Join(dir, "mknod"), []byte(script), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	defer removeBenchData()
	return m.Run()
}

// mknodArgs returns the arguments after the path of the mknod call that
// made target ("c 5 1"), if the wrapper saw one.
func mknodArgs(target string) string {
	b, err := os.ReadFile(mknodLog)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, target+" "); ok {
			return rest
		}
	}
	return ""
}
