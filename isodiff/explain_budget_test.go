package isodiff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// One time budget bounds the explain stage and the diffoscope hand-off:
// with a stand-in diffoscope taking 2 s a pair and a 3 s budget, the stage
// ends near 3 s, not 2 s times the pairs, and says which pairs were left;
// FAT images are not handed over (diffoscope would boot a VM for them).
func TestExplainBudget(t *testing.T) {
	slow := filepath.Join(t.TempDir(), "diffoscope")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 2\necho stand-in report\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	testimg.Need(t, "xorriso", "mkfs.vfat", "mcopy")
	dir := t.TempDir()
	var isos [2]string
	for i := range isos {
		src := filepath.Join(dir, string(rune('a'+i)))
		rnd := rand.New(rand.NewPCG(uint64(i), 7))
		files := map[string]string{}
		for k := range 6 {
			b := make([]byte, 4096)
			for j := range b {
				b[j] = byte(rnd.Uint32())
			}
			files[fmt.Sprintf("blob%d.bin", k)] = string(b)
		}
		testimg.WriteFiles(t, src, files)
		fat := filepath.Join(src, "efi.img")
		if err := os.WriteFile(fat, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		testimg.Run(t, src, "mkfs.vfat", "-i", "12345678", fat)
		testimg.Run(t, src, "mcopy", "-i", fat, filepath.Join(src, "blob0.bin"), "::/blob.bin")
		isos[i] = testimg.MakeISO(t, src, filepath.Join(dir, string(rune('a'+i))+".iso"), "-R", "-V", "BUDGET")
	}
	start := time.Now()
	rep, err := Compare(context.Background(), isos[0], isos[1],
		Options{DiffoscopeCommand: slow, ExplainBudget: 3 * time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stage(report.StageExplain)
	if d := time.Duration(st.Elapsed); d > 5*time.Second {
		t.Errorf("explain stage took %v with a 3s budget", d)
	}
	notes := strings.Join(st.Notes, "\n")
	for _, want := range []string{"the explain budget (3s) ran out", "skipped 1 filesystem image(s) the built-in reader explains", "/efi.img"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if len(st.Problems) > 0 {
		t.Errorf("the budget running out is not a problem of the images: %v", st.Problems)
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", rep.ExitCode())
	}
	t.Logf("whole run %v; notes:\n%s", time.Since(start), notes)
}
