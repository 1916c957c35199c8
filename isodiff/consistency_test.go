package isodiff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// Issue 11's inconsistencies, on real images.
func TestReportConsistency(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs")
	t.Run("El Torito entries numbered as xorriso numbers them", func(t *testing.T) {
		out := testimg.Run(t, ".", "xorriso", "-indev", "../testdata/demo/a.iso", "-report_el_torito", "plain")
		m := regexp.MustCompile(`El Torito boot img :\s+(\d+)\s+UEFI`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("xorriso report:\n%s", out)
		}
		rep, err := Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso", Options{NoDiffoscope: true})
		if err != nil {
			t.Fatal(err)
		}
		var sum bytes.Buffer
		report.WriteSummary(&sum, rep)
		if !strings.Contains(sum.String(), "[el torito entry "+m[1]+" (UEFI)]: boot_image_sha256") {
			t.Errorf("xorriso numbers the UEFI image %s:\n%s", m[1], sum.String())
		}
		// Byte ranges: one notation (inclusive, with a length in bytes).
		dir := t.TempDir()
		report.WriteDir(dir, rep)
		hdr, _ := os.ReadFile(filepath.Join(dir, report.FileHeaderCmp))
		if !regexp.MustCompile(`bytes (\d+)-(\d+) \(\d+ bytes\)`).Match(hdr) || regexp.MustCompile(`bytes \d+-\d+ \(\d+\)`).Match(hdr) {
			t.Errorf("iso-header-cmp.txt byte ranges:\n%s", hdr)
		}
	})
	t.Run("squashfs-sha256.txt on an identical pair", func(t *testing.T) {
		rep, err := Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/a.iso", Options{})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		report.WriteSquashfsSHA256(&b, rep)
		if strings.Contains(b.String(), "no squashfs image found") || !strings.Contains(b.String(), "identical") {
			t.Errorf("squashfs-sha256.txt: %q", b.String())
		}
	})
	t.Run("superblock changes in the text files", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "root")
		testimg.WriteFiles(t, src, map[string]string{"etc/hostname": "live\n"})
		var isos [2]string
		for i, comp := range []string{"xz", "gzip"} {
			iso := filepath.Join(dir, comp)
			if err := os.MkdirAll(filepath.Join(iso, "live"), 0o755); err != nil {
				t.Fatal(err)
			}
			testimg.MakeSquashfs(t, src, filepath.Join(iso, "live", "filesystem.squashfs"), "-comp", comp, "-mkfs-time", "0", "-all-time", "0")
			isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "SB", "--modification-date=2024010203040500")
		}
		rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		report.WriteSquashfsSHA256(&b, rep)
		if !strings.Contains(b.String(), "# /live/filesystem.squashfs superblock: compression: xz -> gzip") {
			t.Errorf("squashfs-sha256.txt lacks the compressor change:\n%s", b.String())
		}
	})
}
