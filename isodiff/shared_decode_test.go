package isodiff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// The two squashfs readers of a container pair share their decoded blocks:
// B stores A's files behind one more, incompressible, so A's blocks lie
// elsewhere in B with the same bytes; where both sides decode them (a file
// that grew is compared as two decoded streams), B copies A's decoding
// instead of decoding again (the -v log counts both).
func TestSquashfsPairSharesDecodes(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso")
	dir := t.TempDir()
	var isos [2]string
	for i, side := range []string{"a", "b"} {
		root := filepath.Join(dir, side)
		rng := rand.New(rand.NewPCG(7, 7))
		files := map[string]string{}
		for k := range 24 {
			b := make([]byte, 20000+k*3000)
			for j := range b {
				b[j] = "squashfs decode cache\n"[rng.IntN(22)]
			}
			files[fmt.Sprintf("usr/share/f%02d", k)] = string(b)
		}
		if side == "b" {
			// f05 grows: the two files are compared as decoded streams,
			// and their first blocks are stored alike.
			files["usr/share/f05"] += "one more line\n"
			noise := make([]byte, 64<<10) // whole blocks, stored uncompressed
			for j := range noise {
				noise[j] = byte(rng.Uint32())
			}
			files["usr/aaa"] = string(noise)
		}
		testimg.WriteFiles(t, root, files)
		iso := filepath.Join(dir, "iso-"+side)
		if err := os.MkdirAll(filepath.Join(iso, "live"), 0o755); err != nil {
			t.Fatal(err)
		}
		testimg.MakeSquashfs(t, root, filepath.Join(iso, "live", "filesystem.squashfs"), "-comp", "xz", "-b", "16384", "-all-root", "-all-time", "1700000000")
		isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "LIVE")
	}
	var mu sync.Mutex
	var log []string
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true, Logf: func(f string, a ...any) {
		mu.Lock()
		log = append(log, fmt.Sprintf(f, a...))
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode() != 1 {
		t.Fatalf("exit %d", rep.ExitCode())
	}
	stat := regexp.MustCompile(`filesystem\.squashfs: (\d+) block\(s\) decoded, (\d+) copied`)
	var decoded, copied int
	for _, l := range log {
		if m := stat.FindStringSubmatch(l); m != nil {
			decoded, _ = strconv.Atoi(m[1])
			copied, _ = strconv.Atoi(m[2])
		}
	}
	t.Logf("%d decoded, %d copied", decoded, copied)
	// f05 is 35,000 bytes: two 16 KiB blocks stored alike in both images.
	if decoded == 0 || copied < 2 {
		t.Fatalf("%d blocks decoded, %d copied: the two readers do not share their decoding", decoded, copied)
	}
}
