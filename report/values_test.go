package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/field"
)

func TestShortChange(t *testing.T) {
	for _, tc := range []struct {
		c    field.Change
		want string
	}{
		{field.Change{Name: "mode", A: "-rwsr-xr-x", B: "-rwxr-xr-x"}, "mode 4755 -> 0755 (-rwsr-xr-x -> -rwxr-xr-x)"},
		{field.Change{Name: "mode", A: "drwxrwxrwt", B: "drwxr-xr-x"}, "mode 1777 -> 0755 (drwxrwxrwt -> drwxr-xr-x)"},
		{field.Change{Name: "mode", A: "-rw-r-Sr--", B: "-rw-r--r--"}, "mode 2644 -> 0644 (-rw-r-Sr-- -> -rw-r--r--)"},
		{field.Change{Name: "mtime", A: "2024-03-01 12:00:00 UTC", B: "2024-03-02 08:00:00 UTC"}, "mtime 2024-03-01 12:00:00 -> 2024-03-02 08:00:00"},
		{field.Change{Name: "volume_creation_date", A: "2024-03-01T12:00:00.00+00:00", B: "2024-03-01T13:00:00.00+00:00"},
			"volume_creation_date 2024-03-01 12:00:00 -> 13:00:00"},
		// GUIDs that differ in one digit stay told apart.
		{field.Change{Name: "disk_guid", A: "34323032-3330-4130-B130-303230303030", B: "34323032-3330-4130-B130-303330303030"},
			"disk_guid ...B130-303230303030 -> ...B130-303330303030"},
		{field.Change{Name: "volume_id", A: "DEBIAN 12", B: "DEBIAN_12"}, `volume_id "DEBIAN 12" -> DEBIAN_12`},
		{field.Change{Name: "xattr user.x", A: "1", OnlyA: true}, "xattr user.x 1 -> (absent)"},
		{field.Change{Name: "size", A: "40672", B: "19176"}, "size 40672 -> 19176"},
		// Image-derived text stays on one line.
		{field.Change{Name: "link_target", A: "a\nb", B: "c"}, `link_target "a\nb" -> c`},
	} {
		if got := shortChange(tc.c); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.c, got, tc.want)
		}
	}
}

// Rendering never rewrites the report (helper-found: damageLine inlined
// the damage's CutOff list in place).
func TestRenderingLeavesReportAlone(t *testing.T) {
	cut := []string{"a\nb", "c"}
	r := &Report{A: Image{Path: "a"}, B: Image{Path: "b"}, Damage: []Damage{{Image: "B", Path: "b", Kind: DamageTruncated, Message: "m", CutOff: cut}}}
	var b strings.Builder
	if err := WriteSummary(&b, r); err != nil {
		t.Fatal(err)
	}
	if cut[0] != "a\nb" {
		t.Errorf("the report's CutOff was rewritten: %q", cut)
	}
}

// The summary's short answer stays near 40 lines however large the
// divergence, and says what it folded; checklist.md lists everything.
func TestShortAnswerCapped(t *testing.T) {
	st := &Stage{Name: StageContent, Status: StatusDiffers}
	for i := range 100 {
		st.Findings = append(st.Findings, Finding{Scope: ContainerScope("squashfs", "/live/filesystem.squashfs"), Path: fmt.Sprintf("/usr/lib/f%03d", i),
			Kind: KindChanged, Type: "-", Fields: []field.Change{{Name: "mode", A: "-rw-r--r--", B: "-rwxr-xr-x"}}})
	}
	r := &Report{A: Image{Path: "a"}, B: Image{Path: "b"}, Stages: []*Stage{st}}
	var sum, check strings.Builder
	WriteSummary(&sum, r)
	_, ans, _ := strings.Cut(sum.String(), "100 diverging location(s):\n")
	lines := strings.Split(strings.TrimRight(ans, "\n"), "\n")
	if len(lines) > shortAnswerMax || !strings.Contains(lines[len(lines)-1], "/live/filesystem.squashfs: 65 more diverging location(s), listed in checklist.md and report.json") {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	WriteChecklist(&check, r)
	if !strings.Contains(check.String(), "/usr/lib/f099") {
		t.Error("checklist.md does not list every location")
	}
}
