package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// TestHostileNames: names and texts from a crafted image cannot reach a
// terminal or a CI log raw: no control character, no bidi control, no
// line starting with a CI runner's command prefix, and a name with a
// newline stays on its line.
func TestHostileNames(t *testing.T) {
	evil := "evil\n::error title=pwned::x\x1b[2J\u202e\xff"
	r := &Report{
		A: Image{Path: "a.iso"}, B: Image{Path: "b.iso"},
		Containers: []Container{{Path: "/live/" + evil, A: &ContainerAt{}, B: &ContainerAt{}}},
		Stages: []*Stage{
			{Name: StageTOC, Status: StatusFailed,
				Problems: []Problem{{File: "b.iso", Stage: StageTOC, Offset: 1, Message: "bad name " + evil}},
				Notes:    []string{"note " + evil},
				Texts:    []Text{{Name: "toc-diff", Body: "-x /" + evil + "\n ::add-mask::secret\n##[group]x\n+ y ##vso[task.setvariable variable=X]1\n"}},
				Findings: []Finding{{Scope: "iso", Path: "/" + evil, Kind: KindAdded, Type: "-"}}},
			{Name: StageSquashfs, Status: StatusDiffers,
				Findings: []Finding{{Scope: "squashfs:/live/" + evil, Path: "/" + evil, Kind: KindChanged, Type: "-"}},
				Texts:    []Text{{Name: "sqfs-ls-diff", Scope: "squashfs:/live/" + evil, Body: evil}}},
			{Name: StageContent, Status: StatusDiffers,
				Findings: []Finding{{Scope: "iso", Path: "/" + evil, Kind: KindContent, Content: &ContentDiff{},
					Explanation: "text: " + evil, Hint: evil}}},
		},
	}
	for name, w := range map[string]func(io.Writer, *Report) error{
		"summary": WriteSummary, "sizes": WriteSizes, "sha256": WriteSHA256, "header": WriteHeaderCmp,
		"toc": WriteTOCDiff, "sqfs-sha256": WriteSquashfsSHA256, "sqfs-ls": WriteSqfsLsDiff,
		"sqfs-diff": WriteSqfsDiff, "checklist": WriteChecklist,
	} {
		var b bytes.Buffer
		if err := w(&b, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		for _, bad := range []string{"\x1b", "\r", "\u202e", "\xff", "##vso["} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: output holds %q:\n%s", name, bad, out)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if l := strings.TrimLeft(line, " \t"); strings.HasPrefix(l, "::") || strings.HasPrefix(l, "##[") {
				t.Errorf("%s: line starts with a CI command prefix: %q", name, line)
			}
		}
		if name == "summary" && !strings.Contains(out, `  /evil\n::error title=pwned::x\x1b[2J\u202e\xff: only in B`) {
			t.Errorf("summary does not show the name escaped on one line:\n%s", out)
		}
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") || strings.Contains(b.String(), "\n::") {
		t.Errorf("JSON holds raw control characters")
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Stages[0].Findings[0].Path != "/"+strings.ToValidUTF8(evil, "\ufffd") {
		t.Errorf("JSON does not keep the name: %v %q", err, back.Stages[0].Findings[0].Path)
	}
}

// TestSafeWriterPlain: ordinary text, split anywhere, passes unchanged.
func TestSafeWriterPlain(t *testing.T) {
	text := "stages:\n  sizes  differs\t1\n/usr/share/doc/ü.txt: content\n: not a command\nlast line without newline"
	var b bytes.Buffer
	sw := &safeWriter{w: &b}
	for i := 0; i < len(text); i += 7 {
		sw.Write([]byte(text[i:min(i+7, len(text))]))
	}
	if err := sw.flush(); err != nil || b.String() != text {
		t.Errorf("got %q, %v", b.String(), err)
	}
}
