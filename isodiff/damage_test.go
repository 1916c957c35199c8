package isodiff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// damageCompare compares two in-memory images as CompareInputs does for
// files, and returns the report, its summary and its decoded report.json.
func damageCompare(t *testing.T, a, b []byte, nameA, nameB string) (*report.Report, string, map[string]any) {
	t.Helper()
	rep, err := CompareInputs(context.Background(),
		Input{Name: nameA, R: bytes.NewReader(a), Size: int64(len(a))},
		Input{Name: nameB, R: bytes.NewReader(b), Size: int64(len(b))},
		Options{NoDiffoscope: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var sum, js bytes.Buffer
	if err := report.WriteSummary(&sum, rep); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return rep, sum.String(), doc
}

// shortAnswer splits a summary after its stage list: the lines of the short
// answer (the damage, then the count of locations), and the locations.
func shortAnswer(t *testing.T, summary string) (head []string, locations []string) {
	t.Helper()
	_, rest, ok := strings.Cut(summary, "\nstages:\n")
	if !ok {
		t.Fatalf("no stage list in the summary:\n%s", summary)
	}
	lines := strings.Split(rest, "\n")
	k := 0
	for k < len(lines) && (strings.HasPrefix(lines[k], " ") || lines[k] == "") {
		k++ // the stages, their notes and problems, the blank line
	}
	inList := false
	for _, l := range lines[k:] {
		switch {
		case strings.HasSuffix(l, "diverging location(s):"):
			inList = true
			head = append(head, l)
		case inList && strings.HasPrefix(l, "  "):
			locations = append(locations, strings.TrimSpace(l))
		case !inList:
			head = append(head, l)
		default:
			inList = false
		}
	}
	return head, locations
}

// TestDamageTruncatedCopy compares the live ISO with copies of it cut at
// 200,000 bytes, in the middle and one block short of the end, both ways
// round: the short answer must begin by naming the truncated image, its
// byte counts and the structure that says how long it should be; no El
// Torito or GPT finding that follows from the cut may be among the
// locations, yet each must still be in the report, marked FromDamage; the
// exit code is 2 and report.json carries the damage.
func TestDamageTruncatedCopy(t *testing.T) {
	m := malformedBase(t)
	full := int64(len(m.b))
	efi := m.entries[testimg.HybridEFIImage].Extents[0].Offset
	for _, cut := range []int64{200000, full / 2, full - 2048} {
		for side := 0; side < 2; side++ {
			t.Run(fmt.Sprintf("cut at %d, side %d", cut, side), func(t *testing.T) {
				imgs := [2][]byte{m.b, m.b}
				names := [2]string{"intact.iso", "intact.iso"}
				imgs[side], names[side] = m.b[:cut], "cut.iso"
				rep, sum, doc := damageCompare(t, imgs[0], imgs[1], names[0], names[1])
				label := sideLabel(side)
				if code := rep.ExitCode(); code != 2 {
					t.Errorf("exit %d, want 2", code)
				}
				if len(rep.Damage) != 1 {
					t.Fatalf("damage %+v, want one item", rep.Damage)
				}
				d := rep.Damage[0]
				if d.Image != label || d.Path != "cut.iso" || d.Kind != report.DamageTruncated || d.Size != cut || d.Claimed != full ||
					d.Offset != 16*2048+80 || !strings.Contains(d.Structure, "primary volume descriptor") {
					t.Errorf("damage %+v", d)
				}
				if !strings.Contains(d.Comparison, "truncated copy") {
					t.Errorf("comparison %q: the cut copy's bytes are the intact image's first bytes", d.Comparison)
				}
				if !strings.Contains(strings.Join(d.CutOff, "|"), "backup GPT header") {
					t.Errorf("cut off: %q lacks the backup GPT header", d.CutOff)
				}

				head, locs := shortAnswer(t, sum)
				if len(head) == 0 {
					t.Fatalf("no short answer:\n%s", sum)
				}
				first := head[0]
				for _, want := range []string{"image " + label + " (cut.iso) is damaged", "truncated at " + thousands(cut) + " of " + thousands(full) + " bytes",
					"volume space size in the primary volume descriptor at offset 32848"} {
					if !strings.Contains(first, want) {
						t.Errorf("first line of the short answer %q lacks %q\n%s", first, want, sum)
					}
				}
				for _, l := range locs {
					if ll := strings.ToLower(l); strings.Contains(ll, "el torito") || strings.Contains(ll, "gpt") || strings.Contains(ll, "mbr") {
						t.Errorf("location follows from the truncation: %s\n%s", l, sum)
					}
				}

				// The findings that follow from the cut are kept, marked.
				marked := map[string]bool{}
				for _, f := range rep.Findings() {
					if f.FromDamage {
						if f.Derived || !strings.Contains(f.Explanation.Text(), "follows from the damage") {
							t.Errorf("finding %s from the damage: derived %v, explanation %q", f.Path, f.Derived, f.Explanation.Text())
						}
						marked[f.Path] = true
					}
				}
				if !marked["gpt backup header"] {
					t.Errorf("the missing backup GPT header is not marked as following from the damage: %v", marked)
				}
				if cut <= efi+1474560 && !marked["el torito entry 2 (UEFI) boot image"] {
					t.Errorf("the cut UEFI boot image is not marked as following from the damage: %v", marked)
				}
				if st := rep.Stage(report.StageHeader); st.Status == report.StatusFailed {
					t.Errorf("header stage failed on what the truncation explains: %v", st.Problems)
				}

				dj, _ := doc["damage"].([]any)
				if len(dj) != 1 {
					t.Fatalf("report.json damage: %v", doc["damage"])
				}
				item, _ := dj[0].(map[string]any)
				if item["image"] != label || item["size"] != float64(cut) || item["claimed"] != float64(full) || item["kind"] != "truncated" {
					t.Errorf("report.json damage item %v", item)
				}
			})
		}
	}
}

// TestDamageNotClaimed: an intact pair that differs, a copy padded with
// zeros (longer than its volume, as isohybrid images often are) and an
// identical pair are not damaged, whichever way round.
func TestDamageNotClaimed(t *testing.T) {
	m := malformedBase(t)
	changed := m.clone()
	copy(changed[16*2048+40:], "CHANGED") // the volume id
	padded := append(m.clone(), make([]byte, 1<<20)...)
	for _, c := range []struct {
		name string
		a, b []byte
		exit int
	}{
		{"changed volume id", m.b, changed, 1},
		{"changed volume id, other way", changed, m.b, 1},
		{"padded copy", m.b, padded, 1},
		{"padded copy, other way", padded, m.b, 1},
		{"identical", m.b, m.clone(), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, sum, doc := damageCompare(t, c.a, c.b, "a.iso", "b.iso")
			if len(rep.Damage) != 0 || doc["damage"] != nil {
				t.Errorf("damage %+v", rep.Damage)
			}
			if code := rep.ExitCode(); code != c.exit {
				t.Errorf("exit %d, want %d\n%s", code, c.exit, sum)
			}
			if strings.Contains(sum, "damaged") {
				t.Errorf("summary calls an image damaged:\n%s", sum)
			}
			for _, f := range rep.Findings() {
				if f.FromDamage {
					t.Errorf("finding %s marked as following from damage", f.Path)
				}
			}
		})
	}
}

// TestDamageStructureField: a volume space size of 2^32-1 blocks in an
// image as long as the intact one is a damaged field, not a truncation:
// exit 2, named as such, nothing marked as following from a cut.
func TestDamageStructureField(t *testing.T) {
	m := malformedBase(t)
	b := m.clone()
	both32(b, 16*2048+80, 1<<32-1)
	rep, sum, _ := damageCompare(t, m.b, b, "a.iso", "b.iso")
	if code := rep.ExitCode(); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].Kind != report.DamageStructure || rep.Damage[0].Image != "B" || rep.Damage[0].Offset != 16*2048+80 {
		t.Fatalf("damage %+v", rep.Damage)
	}
	head, _ := shortAnswer(t, sum)
	if len(head) == 0 || !strings.Contains(head[0], "image B (b.iso) is damaged") || strings.Contains(head[0], "truncated at") {
		t.Errorf("short answer:\n%s", sum)
	}
	for _, f := range rep.Findings() {
		if f.FromDamage {
			t.Errorf("finding %s marked as following from a truncation", f.Path)
		}
	}
}

// TestDamageTruncatedAndChanged: a copy both changed (its volume id) and
// cut in the middle. The damage comes first and says the copy is not only
// truncated; the change, in bytes both images hold, is still a location.
func TestDamageTruncatedAndChanged(t *testing.T) {
	m := malformedBase(t)
	cut := int64(len(m.b)) / 2
	b := m.clone()[:cut]
	copy(b[16*2048+40:], "CHANGED")
	rep, sum, _ := damageCompare(t, m.b, b, "a.iso", "b.iso")
	if code := rep.ExitCode(); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].Image != "B" || !strings.Contains(rep.Damage[0].Comparison, "not only truncated") {
		t.Fatalf("damage %+v", rep.Damage)
	}
	head, locs := shortAnswer(t, sum)
	if len(head) == 0 || !strings.HasPrefix(head[0], "image B (b.iso) is damaged: truncated at "+thousands(cut)) {
		t.Errorf("short answer does not start with the damage:\n%s", sum)
	}
	found := false
	for _, l := range locs {
		if strings.HasPrefix(l, "[primary volume descriptor]: volume_id") {
			found = true
		}
		if ll := strings.ToLower(l); strings.Contains(ll, "el torito") || strings.Contains(ll, "gpt") {
			t.Errorf("location follows from the truncation: %s", l)
		}
	}
	if !found {
		t.Errorf("the changed volume id is not a location:\n%s", sum)
	}
}
