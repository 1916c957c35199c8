package isodiff

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
)

// systemAreaSize is the ISO 9660 system area: the 16 sectors before the
// volume descriptors, where isohybrid images keep their MBR and GPT.
const systemAreaSize = 16 * iso9660.SectorSize

// runHeader compares what sits outside the file tree: the system area and
// its partition tables, the volume descriptors, and El Torito.
func runHeader(ctx context.Context, s *session, st *report.Stage) {
	s.compareSystemArea(st)
	s.comparePartitionTables(st)
	ims, ok := s.images(st)
	if !ok {
		return
	}
	s.compareDescriptors(st, ims[0], ims[1])
	s.compareElTorito(ctx, st, ims[0], ims[1])
}

func headerFinding(path string, ch []field.Change) report.Finding {
	return report.Finding{Scope: report.ISOHeader, Path: path, Kind: report.KindHeader, Fields: ch}
}

func (s *session) addFieldDiff(st *report.Stage, path string, a, b []field.Field) {
	s.addFieldDiffDamage(st, path, a, b, false)
}

// addFieldDiffDamage is addFieldDiff for a structure that, when fromDamage
// is set, lies past the end of a truncated image: its differences follow
// from the damage (FromDamage, with the damage as their explanation), not
// from the build, and none of them is marked derived.
func (s *session) addFieldDiffDamage(st *report.Stage, path string, a, b []field.Field, fromDamage bool) {
	own, placed := field.Split(field.Diff(a, b), headerLayout)
	if fromDamage {
		own, placed = append(own, placed...), nil
	}
	if len(own) > 0 {
		f := headerFinding(path, own)
		if fromDamage {
			f.FromDamage, f.Explanation = true, &report.Explanation{Summary: s.damageNote()}
		}
		st.Findings = append(st.Findings, f)
	}
	if len(placed) > 0 {
		f := headerFinding(path+" layout", placed)
		f.Derived = true
		st.Findings = append(st.Findings, f)
	}
}

// descriptorsEnd returns the end of the last volume descriptor of either
// image for which keep is true (0 when none).
func descriptorsEnd(ims [2]*iso9660.Image, keep func(d iso9660.DescriptorInfo) bool) int64 {
	end := int64(0)
	for _, im := range ims {
		for _, d := range im.Descriptors {
			if keep(d) {
				end = max(end, d.Offset+iso9660.SectorSize)
			}
		}
	}
	return end
}

// compareDescriptors compares the volume recognition sequence and each
// volume descriptor field by field.
func (s *session) compareDescriptors(st *report.Stage, a, b *iso9660.Image) {
	seq := func(im *iso9660.Image) []field.Field {
		var fs []field.Field
		for i, d := range im.Descriptors {
			fs = append(fs, d.Fields(fmt.Sprintf("descriptor_%d_", i))...)
		}
		fs = append(fs, field.Field{Name: "namespace", Value: im.Namespace})
		return fs
	}
	// A descriptor one image has past the end of the other, truncated,
	// image is missing there because of the damage.
	ims := [2]*iso9660.Image{a, b}
	all := func(iso9660.DescriptorInfo) bool { return true }
	s.addFieldDiffDamage(st, "volume descriptor set", seq(a), seq(b), s.pastEnd(0, descriptorsEnd(ims, all)))
	if a.Primary != nil && b.Primary != nil {
		s.addFieldDiff(st, "primary volume descriptor", a.Primary.Fields(), b.Primary.Fields())
	}
	var ja, jb []field.Field
	var jEnd int64
	if a.Joliet != nil {
		ja, jEnd = a.Joliet.Fields(), a.Joliet.Offset+iso9660.SectorSize
	}
	if b.Joliet != nil {
		jb, jEnd = b.Joliet.Fields(), max(jEnd, b.Joliet.Offset+iso9660.SectorSize)
	}
	s.addFieldDiffDamage(st, "joliet volume descriptor", ja, jb, s.pastEnd(0, jEnd))
	var ba, bb []field.Field
	var bEnd int64
	if a.Boot != nil {
		ba, bEnd = a.Boot.Fields(), a.Boot.Offset+iso9660.SectorSize
	}
	if b.Boot != nil {
		bb, bEnd = b.Boot.Fields(), max(bEnd, b.Boot.Offset+iso9660.SectorSize)
	}
	s.addFieldDiffDamage(st, "boot record", ba, bb, s.pastEnd(0, bEnd))
}

// readSystemArea returns side i's system area (shorter if the image is,
// empty for an empty image).
func (s *session) readSystemArea(i int) ([]byte, error) {
	n := min(s.in[i].Size, systemAreaSize)
	buf := make([]byte, n)
	if k, err := s.in[i].R.ReadAt(buf, 0); k < len(buf) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %d bytes at offset 0: %w", n, err)
	}
	return buf, nil
}

// systemAreaRegion names the structure a system-area offset belongs to in
// an isohybrid image.
func systemAreaRegion(off int) string {
	switch {
	case off < 440:
		return "MBR boot code"
	case off < 444:
		return "MBR disk signature"
	case off < 446:
		return "MBR reserved"
	case off < 510:
		return fmt.Sprintf("MBR partition entry %d", (off-446)/16+1)
	case off < 512:
		return "MBR boot signature"
	case off < 1024:
		return "GPT header (512-byte sectors)"
	case off < 512*34:
		return "GPT partition entries (512-byte sectors)"
	}
	return "system area"
}

// decodedSystemArea returns how many leading bytes of both system areas the
// partition table comparison decodes: the MBR sector when both carry the
// boot signature, and the GPT header and entries (at 512-byte sectors) when
// both carry a GPT there.
func decodedSystemArea(a, b []byte) int {
	mbr := func(x []byte) bool { return len(x) >= 512 && x[510] == 0x55 && x[511] == 0xAA }
	gpt := func(x []byte) bool { return len(x) >= 520 && string(x[512:520]) == "EFI PART" }
	switch {
	case gpt(a) && gpt(b) && mbr(a) && mbr(b):
		return 34 * 512
	case mbr(a) && mbr(b):
		return 512
	}
	return 0
}

// compareSystemArea lists the byte ranges of the 32 KiB system area that
// differ, with a hex window of each side and the structure it lies in.
func (s *session) compareSystemArea(st *report.Stage) {
	var areas [2][]byte
	for i := range areas {
		b, err := s.readSystemArea(i)
		if err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, report.Scope{}, fmt.Errorf("system area: %w", err)))
			return
		}
		areas[i] = b
	}
	ranges := bytecmp.Ranges(areas[0], areas[1], 16, 64)
	if len(ranges) == 0 {
		return
	}
	var body strings.Builder
	fmt.Fprintf(&body, "system area (first %d bytes): %d differing range(s)\n", systemAreaSize, len(ranges))
	cd := &report.ContentDiff{SizeA: int64(len(areas[0])), SizeB: int64(len(areas[1])), FirstDiff: int64(ranges[0][0])}
	for _, r := range ranges {
		cd.Ranges = append(cd.Ranges, report.Range{Start: int64(r[0]), End: int64(r[1])})
		fmt.Fprintf(&body, "  bytes %d-%d (%d bytes) in %s\n", r[0], r[1]-1, r[1]-r[0], systemAreaRegion(r[0]))
		for i, label := range []string{"A", "B"} {
			end := min(r[1], r[0]+32, len(areas[i]))
			if r[0] < end {
				fmt.Fprintf(&body, "    %s: % x\n", label, areas[i][r[0]:end])
			}
		}
	}
	st.Texts = append(st.Texts, report.Text{Name: "system-area", Body: body.String()})
	// Ranges inside a decoded MBR or GPT are reported field by field by the
	// partition table comparison; the raw ranges then follow from those.
	// Ranges that all lie past the end of a truncated image follow from
	// the damage.
	decoded := decodedSystemArea(areas[0], areas[1])
	derived, damaged := true, true
	for _, r := range ranges {
		if r[1] > decoded {
			derived = false
		}
		if !s.pastEnd(0, int64(r[0])+1) {
			damaged = false
		}
	}
	f := report.Finding{Scope: report.ISOHeader, Path: "system area", Kind: report.KindHeader, Content: cd, Derived: derived && !damaged}
	if damaged {
		f.FromDamage, f.Explanation = true, &report.Explanation{Summary: s.damageNote()}
	}
	st.Findings = append(st.Findings, f)
}
