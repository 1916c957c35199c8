package fakelive

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
)

var epoch = time.Unix(1700000000, 0).UTC()

// build stages a root filesystem, writes it as a squashfs, and writes an ISO
// carrying it at live/filesystem.squashfs; it returns the ISO's path.
func build(t *testing.T, dir, host string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	if err := Stage(root, []File{
		{Path: "etc/build-host", Data: []byte(host + "\n"), Mode: 0o644},
		{Path: "usr/bin/tool", Data: bytes.Repeat([]byte("x"), 200<<10), Mode: 0o755},
	}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := FixDirModes(root); err != nil {
		t.Fatal(err)
	}
	sq := filepath.Join(dir, "fs.squashfs")
	if err := WriteSquashfs(sq, root, epoch); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sq)
	if err != nil {
		t.Fatal(err)
	}
	isoDir := filepath.Join(dir, "iso")
	if err := Stage(isoDir, []File{{Path: "live/filesystem.squashfs", Data: data, Mode: 0o644}}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := FixDirModes(isoDir); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "live.iso")
	if err := WriteISO(iso, isoDir, "TEST_LIVE", epoch); err != nil {
		t.Fatal(err)
	}
	return iso
}

// TestDeterministicAndReadable writes the same image twice, more than a
// second apart so that clock and inode change times differ, and checks the
// bytes are equal; then checks xorriso and unsquashfs read what was written.
func TestDeterministicAndReadable(t *testing.T) {
	testimg.Need(t, "xorriso", "unsquashfs")
	tmp := t.TempDir()
	isoA := build(t, filepath.Join(tmp, "a"), "builder")
	time.Sleep(1100 * time.Millisecond)
	isoB := build(t, filepath.Join(tmp, "b"), "builder")
	a, _ := os.ReadFile(isoA)
	b, _ := os.ReadFile(isoB)
	if !bytes.Equal(a, b) {
		t.Fatalf("two writes of the same tree differ (%d and %d bytes)", len(a), len(b))
	}
	if len(a)%2048 != 0 {
		t.Errorf("ISO size %d is not a whole number of sectors", len(a))
	}

	ls := testimg.Run(t, tmp, "xorriso", "-indev", isoA, "-find", "/", "-exec", "lsdl")
	for _, want := range []string{
		"-rw-r--r--    1 0        0 ", // Rock Ridge modes and owners
		"'/live/filesystem.squashfs'",
		"Nov 14  2023", // the epoch, not today
	} {
		if !strings.Contains(ls, want) {
			t.Errorf("xorriso listing lacks %q:\n%s", want, ls)
		}
	}
	sq := filepath.Join(tmp, "extracted.squashfs")
	testimg.Run(t, tmp, "xorriso", "-osirrox", "on", "-indev", isoA, "-extract", "/live/filesystem.squashfs", sq)
	lln := testimg.Run(t, tmp, "unsquashfs", "-lln", sq)
	for _, want := range []string{
		"-rw-r--r-- 0/0                       8 2023-11-14 22:13 squashfs-root/etc/build-host",
		"-rwxr-xr-x 0/0                  204800 2023-11-14 22:13 squashfs-root/usr/bin/tool",
		"drwxr-xr-x 0/0",
	} {
		if !strings.Contains(lln, want) {
			t.Errorf("unsquashfs -lln lacks %q:\n%s", want, lln)
		}
	}
	if got := testimg.Run(t, tmp, "unsquashfs", "-cat", sq, "etc/build-host"); got != "builder\n" {
		t.Errorf("etc/build-host = %q", got)
	}
	if s := testimg.Run(t, tmp, "unsquashfs", "-s", sq); !strings.Contains(s, "Tue Nov 14 22:13:20 2023") {
		t.Errorf("squashfs mkfs time is not the epoch:\n%s", s)
	}
}
