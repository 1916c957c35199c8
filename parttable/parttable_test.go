package parttable

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/testimg"
)

// systemArea holds "xorriso -report_system_area plain" as key -> lines of
// fields (keys trimmed, e.g. "MBR partition", "GPT type GUID").
func systemArea(t *testing.T, img string) map[string][][]string {
	t.Helper()
	out := testimg.Run(t, filepath.Dir(img), "xorriso", "-indev", img, "-report_system_area", "plain")
	m := map[string][][]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		m[k] = append(m[k], strings.Fields(v))
	}
	return m
}

// byIndex returns, for a per-partition key, index -> remaining fields.
func byIndex(m map[string][][]string, key string) map[int][]string {
	r := map[int][]string{}
	for _, f := range m[key] {
		n, err := strconv.Atoi(f[0])
		if err == nil {
			r[n] = f[1:]
		}
	}
	return r
}

func hybridImage(t *testing.T) string {
	t.Helper()
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"live/filesystem.squashfs": strings.Repeat("x", 100000)})
	return testimg.MakeHybridISO(t, filepath.Join(dir, "src"), filepath.Join(dir, "h.iso"), "-V", "PT_TEST")
}

func TestHybridMBRAndGPTMatchXorriso(t *testing.T) {
	img := hybridImage(t)
	rep := systemArea(t, img)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	sector0 := make([]byte, 512)
	f.ReadAt(sector0, 0)

	m, err := ParseMBR(sector0)
	if err != nil {
		t.Fatal(err)
	}
	mbrParts := byIndex(rep, "MBR partition")
	if len(mbrParts) == 0 {
		t.Fatalf("xorriso reports no MBR partition: %v", rep)
	}
	for _, p := range m.Partitions {
		want, ok := mbrParts[p.Index]
		if !ok {
			if !p.Empty() {
				t.Errorf("partition %d: %+v, xorriso lists none", p.Index, p)
			}
			continue
		}
		got := []string{fmt.Sprintf("0x%02x", p.Status), fmt.Sprintf("0x%02x", p.Type),
			strconv.Itoa(int(p.FirstLBA)), strconv.Itoa(int(p.Sectors))}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("MBR partition %d: %v, xorriso %v", p.Index, got, want)
		}
	}
	if p := m.Partitions[1]; p.Type != 0xEF || MBRTypeName(p.Type) != "EFI (FAT-12/16/32)" {
		t.Errorf("second partition %+v", p)
	}

	g, err := ReadGPT(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if g == nil {
		t.Fatal("no GPT")
	}
	h := g.Primary
	if !h.HeaderCRCOK || !h.EntriesCRCOK || g.SectorSize != 512 || h.CurrentLBA != 1 || RevisionString(h.Revision) != "1.0" {
		t.Errorf("primary header %+v", h)
	}
	if got := hex.EncodeToString(h.DiskGUID[:]); got != rep["GPT disk GUID"][0][0] {
		t.Errorf("disk GUID %s, xorriso %s", got, rep["GPT disk GUID"][0][0])
	}
	arr := rep["GPT entry array"][0]
	if fmt.Sprint(h.EntriesLBA) != arr[0] || fmt.Sprint(h.NumEntries) != arr[1] {
		t.Errorf("entry array %d %d, xorriso %v", h.EntriesLBA, h.NumEntries, arr)
	}
	rng := rep["GPT lba range"][0]
	if fmt.Sprint(h.FirstUsableLBA) != rng[0] || fmt.Sprint(h.LastUsableLBA) != rng[1] || fmt.Sprint(h.BackupLBA) != rng[2] {
		t.Errorf("lba range %d %d %d, xorriso %v", h.FirstUsableLBA, h.LastUsableLBA, h.BackupLBA, rng)
	}
	// xorriso puts the backup header in the image's last 512-byte sector.
	if g.Backup == nil || g.Backup.CurrentLBA != uint64(st.Size()/512-1) || g.Backup.BackupLBA != 1 ||
		!g.Backup.HeaderCRCOK || !g.Backup.EntriesCRCOK || g.Backup.DiskGUID != h.DiskGUID {
		t.Errorf("backup header %+v", g.Backup)
	}
	names, local := byIndex(rep, "GPT partition name"), byIndex(rep, "GPT partname local")
	uniq, types := byIndex(rep, "GPT partition GUID"), byIndex(rep, "GPT type GUID")
	flags, extent := byIndex(rep, "GPT partition flags"), byIndex(rep, "GPT start and size")
	if len(g.Partitions) != len(types) || len(types) == 0 {
		t.Fatalf("%d partitions, xorriso %d", len(g.Partitions), len(types))
	}
	for _, p := range g.Partitions {
		i := p.Index
		u16 := utf16.Encode([]rune(p.Name))
		nameHex := ""
		for _, c := range u16 {
			nameHex += fmt.Sprintf("%02x%02x", byte(c), byte(c>>8))
		}
		got := []string{nameHex, p.Name, hex.EncodeToString(p.UniqueGUID[:]), hex.EncodeToString(p.TypeGUID[:]),
			fmt.Sprintf("0x%016x", p.Attributes), fmt.Sprintf("%d %d", p.FirstLBA, p.LastLBA-p.FirstLBA+1)}
		want := []string{names[i][0], strings.Join(local[i], " "), uniq[i][0], types[i][0], flags[i][0], strings.Join(extent[i], " ")}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("GPT partition %d:\n got %v\nwant %v", i, got, want)
		}
		// -isohybrid-gpt-basdat: the EFI image is typed "basic data".
		if GPTTypeName(p.TypeGUID) != "Microsoft basic data" {
			t.Errorf("partition %d type %s (%s)", i, p.TypeGUID, GPTTypeName(p.TypeGUID))
		}
	}
	checkFieldNames(t, m.Fields(), g.Fields(), m.Partitions[0].Fields(), g.Partitions[0].Fields())
}

// TestMBRMatchesSfdisk checks the disk signature and partitions against
// "sfdisk -d", an independent reader.
func TestMBRMatchesSfdisk(t *testing.T) {
	testimg.Need(t, "sfdisk")
	img := hybridImage(t)
	out := testimg.Run(t, filepath.Dir(img), "sfdisk", "-d", img)
	b := make([]byte, 512)
	f, _ := os.Open(img)
	defer f.Close()
	f.ReadAt(b, 0)
	m, err := ParseMBR(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("label-id: 0x%08x", m.DiskSignature); !strings.Contains(out, want) {
		t.Errorf("sfdisk -d lacks %q:\n%s", want, out)
	}
	for _, p := range m.Partitions {
		if p.Empty() {
			continue
		}
		want := fmt.Sprintf("%s%d : start=%12d, size=%12d, type=%x", img, p.Index, p.FirstLBA, p.Sectors, p.Type)
		if p.Status == 0x80 {
			want += ", bootable"
		}
		if !strings.Contains(out, want+"\n") {
			t.Errorf("sfdisk -d lacks %q:\n%s", want, out)
		}
	}
}

func checkFieldNames(t *testing.T, lists ...any) {
	t.Helper()
	for _, l := range lists {
		seen := map[string]bool{}
		for _, f := range l.([]field.Field) {
			if seen[f.Name] || f.Name == "" {
				t.Errorf("duplicate or empty field name %q", f.Name)
			}
			seen[f.Name] = true
		}
	}
}
