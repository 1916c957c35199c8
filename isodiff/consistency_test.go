package isodiff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// Thousands of entries that differ only in their times (file times not
// clamped to SOURCE_DATE_EPOCH) read as one line with their count, the
// cause and where they are listed; other differences keep their lines.
func TestTimeNoiseFolded(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "root")
	files := map[string]string{"etc/hostname": "live\n"}
	for i := range 300 {
		files[fmt.Sprintf("usr/share/doc/p%03d/copyright", i)] = "text\n"
	}
	testimg.WriteFiles(t, src, files)
	var isos [2]string
	for i, when := range []string{"1700000000", "1700003600"} {
		if i == 1 {
			os.WriteFile(filepath.Join(src, "etc/hostname"), []byte("live2\n"), 0o644)
		}
		iso := filepath.Join(dir, when)
		os.MkdirAll(filepath.Join(iso, "live"), 0o755)
		testimg.MakeSquashfs(t, src, filepath.Join(iso, "live", "filesystem.squashfs"), "-mkfs-time", "0", "-all-time", when)
		isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "T", "--modification-date=2024010203040500")
	}
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	_, ans, _ := strings.Cut(sum.String(), "diverging location(s):\n")
	lines := strings.Split(strings.TrimRight(ans, "\n"), "\n")
	// 300 directories and 300 files, /usr, /usr/share, /usr/share/doc, /etc and /.
	want := "  /live/filesystem.squashfs > 605 entries: differ only in their modification time (e.g. /: mtime 2023-11-14 22:13:20 -> 23:13:20); listed in sqfs-ls-diff.txt [" + report.HintFileTimes + "]"
	inner := 0 // the squashfs's lines (the ISO's own entries carry xorriso's real times)
	for _, l := range lines {
		if strings.HasPrefix(l, "  /live/filesystem.squashfs >") {
			inner++
		}
	}
	if !slices.Contains(lines, want) || inner != 2 {
		t.Errorf("short answer (want the line %q):\n%s", want, ans)
	}
	if !strings.Contains(ans, "/live/filesystem.squashfs > /etc/hostname: size 5 -> 6, mtime") {
		t.Errorf("the file that also changed its size keeps its line:\n%s", ans)
	}
}

// One file in three places (the initrd: /live/initrd.img, a versioned copy
// beside it, and /boot inside the squashfs), differing the same way in each,
// is explained once and the others say so.
func TestSameContentsExplainedOnce(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs")
	dir := t.TempDir()
	var isos [2]string
	for i := range isos {
		initrd := strings.Repeat("initramfs member\n", 2000) + fmt.Sprintf("built 2024-03-01 1%d:00:00\n", 2+i)
		root := filepath.Join(dir, "root"+string(rune('a'+i)))
		testimg.WriteFiles(t, root, map[string]string{"boot/initrd.img-6.1.0-50-amd64": initrd, "etc/hostname": "live\n"})
		iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
		testimg.WriteFiles(t, iso, map[string]string{"live/initrd.img": initrd, "live/initrd.img-6.1.0-50-amd64": initrd})
		testimg.MakeSquashfs(t, root, filepath.Join(iso, "live", "filesystem.squashfs"), "-mkfs-time", "0", "-all-time", "0")
		isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "LIVE", "--modification-date=2024010203040500")
	}
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	var first string
	same := 0
	for _, f := range rep.Stage(report.StageContent).Findings {
		if !strings.Contains(f.Path, "initrd.img") || f.Container {
			continue
		}
		ex := rep.ExplanationOf(f)
		switch {
		case ex != nil && ex.SameAs != "" && strings.HasPrefix(ex.Text(), "same contents on each side as "):
			same++
		case first == "":
			first = f.Path
		default:
			t.Errorf("%s explained again: %q", f.Path, ex.Text())
		}
		if ex.Hint() != "timestamp_in_text" {
			t.Errorf("%s: hint %q", f.Path, ex.Hint())
		}
	}
	if first == "" || same != 2 {
		t.Errorf("explained %q first, %d said to be the same, want 2", first, same)
	}
	if notes := strings.Join(rep.Stage(report.StageExplain).Notes, "\n"); !strings.Contains(notes, "2 more with the same contents on each side as a file explained: explained once") {
		t.Errorf("explain notes:\n%s", notes)
	}
}

// A checksum list inside the image (live-build's /md5sum.txt) whose lines
// differ only for files that differ, with sums that match them, follows
// from those files: it is not a separate cause. A list that does not match
// its file is said to be stale.
func TestChecksumListFollowsFromFiles(t *testing.T) {
	testimg.Need(t, "xorriso", "md5sum")
	for _, stale := range []bool{false, true} {
		dir := t.TempDir()
		var isos [2]string
		for i := range isos {
			iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
			testimg.WriteFiles(t, iso, map[string]string{"live/vmlinuz": "kernel\n", "live/info": fmt.Sprintf("built on %d\n", i), "doc/README": "same\n"})
			sums := testimg.Run(t, iso, "sh", "-c", "find . -type f ! -name md5sum.txt | sort | xargs md5sum")
			if stale && i == 1 {
				sums = strings.Replace(sums, "./live/info", "./live/info-was", 1) + strings.Repeat("0", 32) + "  ./live/info\n"
			}
			os.WriteFile(filepath.Join(iso, "md5sum.txt"), []byte(sums), 0o644)
			isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "SUMS", "--modification-date=2024010203040500")
		}
		rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true, Ignore: []string{"timestamps"}})
		if err != nil {
			t.Fatal(err)
		}
		var list *report.Finding
		for i, f := range rep.Stage(report.StageContent).Findings {
			if f.Path == "/md5sum.txt" {
				list = &rep.Stage(report.StageContent).Findings[i]
			}
		}
		if list == nil {
			t.Fatal("md5sum.txt does not differ")
		}
		var sum bytes.Buffer
		report.WriteSummary(&sum, rep)
		ex := rep.ExplanationOf(*list)
		if !stale {
			if !ex.FollowsFromOthers || ex.Hint() != HintChecksumList || !strings.Contains(ex.Text(), "1 for files that differ here (/live/info): they follow from them; every listed sum matches its file") {
				t.Errorf("the list: follows %v, hint %q, %q", ex.FollowsFromOthers, ex.Hint(), ex.Text())
			}
			if strings.Contains(sum.String(), "  /md5sum.txt:") {
				t.Errorf("the list is in the short answer although it follows from /live/info:\n%s", sum.String())
			}
			continue
		}
		if ex.FollowsFromOthers || !strings.Contains(ex.Text(), "the list does not match the file: /live/info in image B") {
			t.Errorf("a stale list: follows %v, %q", ex.FollowsFromOthers, ex.Text())
		}
		if !strings.Contains(sum.String(), "  /md5sum.txt: ") || !strings.Contains(sum.String(), "content: checksum list: 2 entries differ") {
			t.Errorf("the stale list is not in the short answer:\n%s", sum.String())
		}
	}
}
