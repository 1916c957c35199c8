package tree

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModeFromPOSIXAgainstOS: for real nodes of every type a test can make
// (with setuid, setgid and sticky), ModeFromPOSIX of the st_mode lstat
// gives is the mode os.Lstat reports.
func TestModeFromPOSIXAgainstOS(t *testing.T) {
	dir := t.TempDir()
	makers := map[string]func(p string) error{
		"file": func(p string) error { return os.WriteFile(p, nil, 0o644) },
		"setuid": func(p string) error {
			if err := os.WriteFile(p, nil, 0o755); err != nil {
				return err
			}
			return os.Chmod(p, 0o755|os.ModeSetuid|os.ModeSetgid)
		},
		"dir": func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.Chmod(p, 0o777|os.ModeSticky)
		},
		"link": func(p string) error { return os.Symlink("file", p) },
		"fifo": func(p string) error { return syscall.Mkfifo(p, 0o640) },
		"sock": func(p string) error {
			l, err := net.Listen("unix", p)
			if err == nil {
				t.Cleanup(func() { l.Close() })
			}
			return err
		},
	}
	for name, mk := range makers {
		p := filepath.Join(dir, name)
		if err := mk(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ModeFromPOSIX(fi.Sys().(*syscall.Stat_t).Mode)
		if !ok || got != fi.Mode() {
			t.Errorf("%s: ModeFromPOSIX %v %v, os.Lstat %v", name, got, ok, fi.Mode())
		}
	}
}
