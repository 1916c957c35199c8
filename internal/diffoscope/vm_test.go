package diffoscope

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// diffoscope compares filesystem images through libguestfs, which boots a
// qemu appliance (it sat idle for the whole 10-minute timeout on a machine
// without KVM). Off by default: the guestfs module fails to import in the
// run, so diffoscope's fsimage comparator declines the file.
func TestVMComparatorsOff(t *testing.T) {
	testimg.Need(t, "python3")
	// A stand-in for an installed python3-guestfs.
	site := t.TempDir()
	if err := os.MkdirAll(filepath.Join(site, "guestfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "guestfs", "__init__.py"), []byte("GuestFS = object\n"), 0o644)
	t.Setenv("PYTHONPATH", site)
	probe := script(t, `exec python3 -c '
try:
    import guestfs
    print("guestfs importable")
except ImportError as e:
    print("guestfs refused:", e)
'`)
	a, b := twoFiles(t, "a", "b")
	for _, allow := range []bool{false, true} {
		out, err := Run(context.Background(), a, b, Limits{Command: probe, AllowVM: allow})
		if err != nil {
			t.Fatalf("AllowVM %v: %v", allow, err)
		}
		want := map[bool]string{false: "guestfs refused: isodiff keeps libguestfs off", true: "guestfs importable"}[allow]
		if !strings.Contains(out, want) {
			t.Errorf("AllowVM %v: %q, want %q", allow, out, want)
		}
	}
}

// With the comparator off, the real diffoscope still compares two FAT
// images (as binary data) and ends.
func TestRealDiffoscopeOnFATWithoutVM(t *testing.T) {
	testimg.Need(t, "diffoscope", "mkfs.vfat")
	dir := t.TempDir()
	var imgs [2]string
	for i, serial := range []string{"12345678", "9abcdef0"} {
		imgs[i] = filepath.Join(dir, string(rune('a'+i))+".img")
		if err := os.WriteFile(imgs[i], make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		testimg.Run(t, dir, "mkfs.vfat", "-i", serial, imgs[i])
	}
	out, err := Run(context.Background(), imgs[0], imgs[1], Limits{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "a.img") {
		t.Errorf("no report:\n%s", out)
	}
}
