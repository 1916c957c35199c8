package explain

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/isodiff/isodiff/budget"
	"io"
	"sort"
	"strings"
)

const (
	elfMaxNote        = 1 << 20  // largest note section parsed
	elfMaxNotes       = 16       // note sections read for the build id
	elfMaxStrSection  = 64 << 20 // largest section whose strings are compared
	elfMaxStrings     = 200000   // distinct strings kept per side and section
	elfMaxStringBytes = 8 << 20  // and their bytes
	elfMinString      = 6        // shortest printable run counted as a string
	elfMaxStringLen   = 512      // longer runs are cut
	elfMaxRanges      = 1 << 16  // differing ranges classified by region
	elfMaxHexSections = 4        // differing data sections shown in hex
	elfMaxLines       = 64       // per-section detail lines
	elfMaxListed      = 64       // sections named per list
	elfMaxStrScan     = 64 << 20 // bytes scanned for strings per side, all sections together
	elfMaxOnlyStrings = 1024     // strings only on one side kept, all sections together
	elfMaxStrSections = 16       // differing sections scanned for strings
)

// elfSection is a section as compared: by name, with its header fields.
type elfSection struct {
	key   string
	s     *elf.Section
	index int
}

func elfSections(f *elf.File) ([]elfSection, map[string]*elfSection) {
	var out []elfSection
	seen := map[string]int{}
	for i, s := range f.Sections {
		if i == 0 && s.Type == elf.SHT_NULL {
			continue
		}
		seen[s.Name]++
		key := bounded(s.Name)
		if key == "" {
			key = fmt.Sprintf("[%d]", i)
		}
		if k := seen[s.Name]; k > 1 {
			key = fmt.Sprintf("%s#%d", key, k)
		}
		out = append(out, elfSection{key: key, s: s, index: i})
	}
	by := map[string]*elfSection{}
	for i := range out {
		by[out[i].key] = &out[i]
	}
	return out, by
}

// fileRange is where a section's bytes lie in the file (none for NOBITS).
func fileRange(s *elf.Section) (int64, int64, bool) {
	if s.Type == elf.SHT_NOBITS || s.Size == 0 {
		return 0, 0, false
	}
	return int64(s.Offset), int64(s.Offset + s.FileSize), true
}

// elfNotes parses the notes of a note section: name and type -> desc.
type elfNote struct {
	name string
	typ  uint32
	desc []byte
}

func parseNotes(data []byte, bo binary.ByteOrder) []elfNote {
	var out []elfNote
	for len(data) >= 12 {
		namesz, descsz, typ := bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:])
		data = data[12:]
		nameEnd := align4(uint64(namesz))
		if nameEnd > uint64(len(data)) {
			break
		}
		name := strings.TrimRight(string(data[:namesz]), "\x00")
		data = data[nameEnd:]
		descEnd := align4(uint64(descsz))
		if uint64(descsz) > uint64(len(data)) {
			break
		}
		out = append(out, elfNote{name, typ, data[:descsz]})
		if descEnd > uint64(len(data)) {
			break
		}
		data = data[descEnd:]
	}
	return out
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// buildID returns the GNU build id of f, hex, and the key of its section.
//
// At most elfMaxNotes note sections are read: a crafted file can point
// any number of headers at one note.
func buildID(f *elf.File, secs []elfSection) (string, string) {
	notes := 0
	for _, s := range secs {
		if s.s.Type != elf.SHT_NOTE || s.s.Size > elfMaxNote {
			continue
		}
		if notes++; notes > elfMaxNotes {
			break
		}
		data, err := s.s.Data()
		if err != nil {
			continue
		}
		for _, n := range parseNotes(data, f.ByteOrder) {
			if n.name == "GNU" && n.typ == 3 { // NT_GNU_BUILD_ID
				return hex.EncodeToString(n.desc), s.key
			}
		}
	}
	return "", ""
}

// debuglink returns the .gnu_debuglink file name and CRC.
func debuglink(f *elf.File) (string, uint32, bool) {
	s := f.Section(".gnu_debuglink")
	if s == nil || s.Size > 4096 {
		return "", 0, false
	}
	data, err := s.Data()
	if err != nil {
		return "", 0, false
	}
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return "", 0, false
	}
	off := align4(uint64(i + 1))
	if off+4 > uint64(len(data)) {
		return string(data[:i]), 0, true
	}
	return string(data[:i]), f.ByteOrder.Uint32(data[off:]), true
}

// elf explains two ELF files: header, sections, build ids, debug links,
// and the strings that differ in differing data sections.
func (ex *explainer) elf(a, b *node, depth int) Result {
	sa, sb, err := ex.spoolPair(a, b)
	if err == nil {
		// Charge what debug/elf will hold before it reads anything.
		hold := ex.newHold()
		defer hold.Release()
		for i, s := range []*spoolFile{sa, sb} {
			n, err := ex.elfMemory(s)
			if err == nil {
				err = ex.grow(&hold, n, "ELF headers of "+"ab"[i:i+1], 0)
			}
			if err != nil {
				return ex.fallback(fmtELF, a, b, err)
			}
		}
		return ex.elfFiles(a, b, sa, sb)
	}
	if isLimit(err) {
		r := ex.hexdiff(a, b)
		r.Format = fmtELF
		r.Summary = "ELF (too large to parse: " + err.Error() + "); " + r.Summary
		return r
	}
	return ex.fallback(fmtELF, a, b, err)
}

func (ex *explainer) elfFiles(a, b *node, sa, sb *spoolFile) Result {
	fa, err := elf.NewFile(sa)
	if err != nil {
		return ex.fallback(fmtELF, a, b, err)
	}
	fb, err := elf.NewFile(sb)
	if err != nil {
		return ex.fallback(fmtELF, a, b, err)
	}
	r := Result{Format: fmtELF}
	var d strings.Builder

	// The ELF header.
	hdr := func(f *elf.File) []mfield {
		return []mfield{{"class", f.Class.String()}, {"data", f.Data.String()}, {"osabi", f.OSABI.String()},
			{"type", f.Type.String()}, {"machine", f.Machine.String()}, {"entry", fmt.Sprintf("%#x", f.Entry)},
			{"program headers", fmt.Sprint(len(f.Progs))}, {"sections", fmt.Sprint(len(f.Sections))}}
	}
	ha, hb := hdr(fa), hdr(fb)
	var headerDiffs []string
	for i := range ha {
		if ha[i].value != hb[i].value {
			headerDiffs = append(headerDiffs, ha[i].name)
			fmt.Fprintf(&d, "ELF header %s: %s -> %s\n", ha[i].name, ha[i].value, hb[i].value)
		}
	}

	// Sections by name.
	secA, byA := elfSections(fa)
	secB, byB := elfSections(fb)
	var only, resized, moved, differing []string
	type pair struct{ a, b *elfSection }
	var contentPairs []pair
	// Sections are compared once per pair of file ranges: a crafted file
	// can point any number of headers at one range.
	type ranges struct{ offA, sizeA, offB, sizeB uint64 }
	compared := map[ranges]bool{}
	lines := 0
	line := func(format string, args ...any) {
		if lines++; lines <= elfMaxLines {
			fmt.Fprintf(&d, format, args...)
		}
	}
	for i := range secA {
		if err := ex.stop(); err != nil {
			line("sections not compared: %v\n", err)
			break
		}
		s := &secA[i]
		t := byB[s.key]
		if t == nil {
			only = append(only, "-"+s.key)
			continue
		}
		if s.s.Type != t.s.Type || s.s.Flags != t.s.Flags {
			line("section %s: type/flags %s %s -> %s %s\n", s.key, s.s.Type, s.s.Flags, t.s.Type, t.s.Flags)
		}
		if s.s.Size != t.s.Size {
			resized = append(resized, fmt.Sprintf("%s %d -> %d", s.key, s.s.Size, t.s.Size))
		} else if s.s.Addr != t.s.Addr || s.s.Offset != t.s.Offset {
			moved = append(moved, s.key)
		}
		_, _, okA := fileRange(s.s)
		_, _, okB := fileRange(t.s)
		if okA && okB {
			rg := ranges{s.s.Offset, s.s.FileSize, t.s.Offset, t.s.FileSize}
			same, done := compared[rg]
			if !done {
				// Sections at one offset outside every span are equal unread.
				same = s.s.FileSize == t.s.FileSize && ex.provenEqual(a, b, int64(s.s.Offset), int64(t.s.Offset), int64(s.s.FileSize))
				if !same {
					var err error
					same, _, err = ex.sameReaders(io.NewSectionReader(sa, int64(s.s.Offset), int64(s.s.FileSize)),
						io.NewSectionReader(sb, int64(t.s.Offset), int64(t.s.FileSize)))
					if err != nil {
						line("section %s: %v\n", s.key, err)
					}
				}
				compared[rg] = same
			}
			if !same {
				differing = append(differing, s.key)
				contentPairs = append(contentPairs, pair{s, t})
			}
		}
	}
	for i := range secB {
		if byA[secB[i].key] == nil {
			only = append(only, "+"+secB[i].key)
		}
	}
	if lines > elfMaxLines {
		fmt.Fprintf(&d, "... and %d more section line(s)\n", lines-elfMaxLines)
	}
	if len(only) > 0 {
		fmt.Fprintf(&d, "sections only in a (-) or b (+): %s\n", strings.Join(capList(only, elfMaxListed), " "))
	}
	if len(resized) > 0 {
		fmt.Fprintf(&d, "sections resized: %s\n", strings.Join(capList(resized, elfMaxListed), ", "))
	}
	if len(moved) > 0 {
		fmt.Fprintf(&d, "sections moved (follows from the resizing): %s\n", strings.Join(capList(moved, elfMaxListed), " "))
	}
	if len(differing) > 0 {
		fmt.Fprintf(&d, "sections whose bytes differ: %s\n", strings.Join(capList(differing, elfMaxListed), " "))
	}

	// Build ids and debug links.
	idA, idKeyA := buildID(fa, secA)
	idB, _ := buildID(fb, secB)
	if idA != idB {
		fmt.Fprintf(&d, "build id: %s -> %s\n", orNone(idA), orNone(idB))
	}
	nameA, crcA, okA := debuglink(fa)
	nameB, crcB, okB := debuglink(fb)
	if okA != okB || nameA != nameB || crcA != crcB {
		fmt.Fprintf(&d, ".gnu_debuglink: %q crc %08x -> %q crc %08x\n", nameA, crcA, nameB, crcB)
	}

	// Where the differing bytes are, for files of one size.
	var outside int
	regionsClassified, inIDOnly := false, false
	if sa.size == sb.size {
		ranges, count, err := ex.elfRanges(a, b, sa, sb)
		if err == nil && count <= len(ranges) {
			regionsClassified = true
			layout := layoutOf(fa, sa)
			// The ranges a build-id-only difference may touch.
			var idSpans elfLayout
			for _, key := range []string{idKeyA, ".gnu_debuglink"} {
				if s := byA[key]; s != nil {
					if lo, hi, ok := fileRange(s.s); ok {
						idSpans = append(idSpans, [2]int64{lo, hi})
					}
				}
			}
			idSpans = idSpans.merged()
			inIDOnly = count > 0
			for _, rg := range ranges {
				if !layout.covers(rg) {
					outside++
				}
				if !idSpans.covers(rg) {
					inIDOnly = false
				}
			}
			if outside > 0 {
				fmt.Fprintf(&d, "%s outside every section and header (padding or unlisted data)\n", plural(outside, "differing range"))
			}
		}
	}

	// Strings that differ in differing data sections: each pair of ranges
	// scanned once, within elfMaxStrScan bytes per side in all, the
	// strings charged while held.
	var strA, strB []string
	var hexChildren []Result
	scanned := map[ranges]bool{}
	scanLeft := int64(elfMaxStrScan)
	strHold := ex.newHold()
	defer strHold.Release()
	strLines := 0
	for _, p := range contentPairs {
		if p.a.key == idKeyA || p.a.key == ".gnu_debuglink" {
			continue
		}
		if ex.stop() != nil {
			break
		}
		isCode := p.a.s.Flags&elf.SHF_EXECINSTR != 0
		rg := ranges{p.a.s.Offset, p.a.s.FileSize, p.b.s.Offset, p.b.s.FileSize}
		size := int64(max(p.a.s.FileSize, p.b.s.FileSize))
		if !isCode && !scanned[rg] && size <= scanLeft && len(scanned) < elfMaxStrSections && len(strA)+len(strB) < elfMaxOnlyStrings {
			scanned[rg] = true
			scanLeft -= size
			oa, ob, err := ex.stringsDiff(io.NewSectionReader(sa, int64(p.a.s.Offset), int64(p.a.s.FileSize)),
				io.NewSectionReader(sb, int64(p.b.s.Offset), int64(p.b.s.FileSize)), int64(p.a.s.Offset))
			if err != nil {
				break
			}
			oa = oa[:min(len(oa), elfMaxOnlyStrings-len(strA))]
			ob = ob[:min(len(ob), elfMaxOnlyStrings-len(strB))]
			var n int64
			for _, x := range append(oa[:len(oa):len(oa)], ob...) {
				n += int64(len(x)) + 16
			}
			if ex.grow(&strHold, n, "ELF strings that differ", int64(p.a.s.Offset)) != nil {
				break
			}
			if len(oa)+len(ob) > 0 {
				if strLines++; strLines <= elfMaxListed {
					fmt.Fprintf(&d, "strings in %s only in a: %s\n", p.a.key, quoteList(oa, 8))
					fmt.Fprintf(&d, "strings in %s only in b: %s\n", p.a.key, quoteList(ob, 8))
				}
			}
			strA = append(strA, oa...)
			strB = append(strB, ob...)
		}
		if !isCode && len(hexChildren) < elfMaxHexSections {
			c := ex.hexdiff(sectionNode(p.a.key, sa, int64(p.a.s.Offset), int64(p.a.s.FileSize)),
				sectionNode(p.b.key, sb, int64(p.b.s.Offset), int64(p.b.s.FileSize)))
			c.Name = "section " + p.a.key
			hexChildren = append(hexChildren, c)
		}
	}
	paths := pathLike(append(append([]string{}, strA...), strB...))
	if len(paths) > 0 {
		fmt.Fprintf(&d, "embedded paths that differ: %s\n", quoteList(paths, 10))
	}
	r.hint(pathHints(strA, strB)...)
	for _, s := range append(append([]string{}, strA...), strB...) {
		if reDate.MatchString(s) {
			r.hint(hintBinaryTimestamp)
			break
		}
	}

	// The summary.
	var nonID []string
	for _, k := range differing {
		if k != idKeyA && k != ".gnu_debuglink" {
			nonID = append(nonID, k)
		}
	}
	idOnly := idA != idB && regionsClassified && inIDOnly
	switch {
	case idOnly:
		r.Summary = "ELF: only the build id differs"
		if crcA != crcB {
			r.Summary += " (and the .gnu_debuglink CRC of the separate debug file)"
		}
		d.WriteString("the build id hashes content no longer in this file (often debug info holding the build path, stripped since): the cause is upstream of it\n")
		r.hint(hintBuildIDOnly)
		r.Complete = true
	case len(differing) == 0 && len(only) == 0 && len(resized) == 0 && len(headerDiffs) == 0:
		r.Summary = "ELF: every section and header field is identical; bytes differ outside sections"
		c := ex.hexdiff(a, b)
		c.Name = "file bytes"
		r.Children = append(r.Children, c)
	default:
		var parts []string
		if len(headerDiffs) > 0 {
			parts = append(parts, "header "+strings.Join(headerDiffs, ", "))
		}
		if len(nonID) > 0 {
			parts = append(parts, "sections "+strings.Join(capList(nonID, 6), " "))
		}
		if len(only) > 0 {
			parts = append(parts, fmt.Sprintf("%d section(s) added or removed", len(only)))
		}
		if idA != idB {
			parts = append(parts, "build id")
		}
		r.Summary = "ELF differs: " + strings.Join(parts, "; ")
		if len(paths) > 0 {
			r.Summary += "; embedded paths differ"
		}
		r.Children = append(r.Children, hexChildren...)
	}
	if crcA != crcB && idA == idB {
		r.hint(hintDebuglinkCRC)
	}
	r.Details = d.String()
	return r
}

// elfRanges finds the differing byte ranges of two spooled files of one
// size, up to elfMaxRanges, and how many there are in all.
func (ex *explainer) elfRanges(a, b *node, sa, sb *spoolFile) ([]byteRange, int, error) {
	hold := ex.newHold()
	defer hold.Release()
	if err := ex.grow(&hold, 2*64<<10+elfMaxRanges*16, "differing ranges of an ELF file", -1); err != nil {
		return nil, 0, err
	}
	if ex.spanned(a, b) {
		s, err := ex.scanSpans(sa, sb, sa.size, elfMaxRanges)
		return s.ranges, s.count, err
	}
	s, err := scanRanges(bufio.NewReaderSize(io.NewSectionReader(sa, 0, sa.size), 1<<16),
		bufio.NewReaderSize(io.NewSectionReader(sb, 0, sb.size), 1<<16), elfMaxRanges)
	return s.ranges, s.count, err
}

// elfLayout is the file ranges of an ELF file's structure: its header,
// program and section header tables, and each section's bytes.
type elfLayout [][2]int64

func layoutOf(f *elf.File, s *spoolFile) elfLayout {
	var raw [64]byte
	n, _ := s.ReadAt(raw[:], 0)
	bo := f.ByteOrder
	var out elfLayout
	if f.Class == elf.ELFCLASS64 && n >= 64 {
		phoff, shoff := int64(bo.Uint64(raw[0x20:])), int64(bo.Uint64(raw[0x28:]))
		eh := int64(bo.Uint16(raw[0x34:]))
		phe, phn := int64(bo.Uint16(raw[0x36:])), int64(bo.Uint16(raw[0x38:]))
		she, shn := int64(bo.Uint16(raw[0x3a:])), int64(bo.Uint16(raw[0x3c:]))
		out = append(out, [2]int64{0, eh}, [2]int64{phoff, phoff + phe*phn}, [2]int64{shoff, shoff + she*shn})
	} else if f.Class == elf.ELFCLASS32 && n >= 52 {
		phoff, shoff := int64(bo.Uint32(raw[0x1c:])), int64(bo.Uint32(raw[0x20:]))
		eh := int64(bo.Uint16(raw[0x28:]))
		phe, phn := int64(bo.Uint16(raw[0x2a:])), int64(bo.Uint16(raw[0x2c:]))
		she, shn := int64(bo.Uint16(raw[0x2e:])), int64(bo.Uint16(raw[0x30:]))
		out = append(out, [2]int64{0, eh}, [2]int64{phoff, phoff + phe*phn}, [2]int64{shoff, shoff + she*shn})
	}
	for _, sec := range f.Sections {
		if lo, hi, ok := fileRange(sec); ok {
			out = append(out, [2]int64{lo, hi})
		}
	}
	return out.merged()
}

// merged returns the layout's ranges sorted and merged into disjoint
// ones, so that covers is a binary search.
func (l elfLayout) merged() elfLayout {
	sorted := append(elfLayout(nil), l...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
	var out elfLayout
	for _, s := range sorted {
		if s[1] <= s[0] {
			continue
		}
		if n := len(out); n > 0 && s[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], s[1])
			continue
		}
		out = append(out, s)
	}
	return out
}

// covers reports whether a range lies within the ranges of a merged
// layout.
func (l elfLayout) covers(rg byteRange) bool {
	i := sort.Search(len(l), func(i int) bool { return l[i][1] > rg.start })
	return i < len(l) && l[i][0] <= rg.start && l[i][1] >= rg.end
}

// stringsDiff returns the printable strings found in only one of two
// byte streams, each side's list sorted and bounded. The sets are charged
// to the budget while they are held (for the structure at offset off).
func (ex *explainer) stringsDiff(ra, rb io.Reader, off int64) ([]string, []string, error) {
	hold := ex.newHold()
	defer hold.Release()
	sa, err := ex.stringSet(ra, &hold, off)
	if err != nil {
		return nil, nil, err
	}
	sb, err := ex.stringSet(rb, &hold, off)
	if err != nil {
		return nil, nil, err
	}
	var oa, ob []string
	for s := range sa {
		if !sb[s] {
			oa = append(oa, s)
		}
	}
	for s := range sb {
		if !sa[s] {
			ob = append(ob, s)
		}
	}
	sort.Strings(oa)
	sort.Strings(ob)
	return oa, ob, nil
}

// stringSetOverhead is what a string costs in a set besides its bytes.
const stringSetOverhead = 64

// stringSet collects the printable runs of r, each charged to hold. It
// ends early (with the set so far) when reading fails or a charge is
// refused; the refusal is returned.
func (ex *explainer) stringSet(r io.Reader, hold *budget.Hold, off int64) (map[string]bool, error) {
	set := map[string]bool{}
	br := bufio.NewReaderSize(r, 1<<16)
	var cur []byte
	kept := 0
	var refused error
	flush := func() {
		if refused == nil && len(cur) >= elfMinString && len(set) < elfMaxStrings && kept < elfMaxStringBytes && !set[string(cur)] {
			if refused = ex.grow(hold, int64(len(cur)+stringSetOverhead), "strings of a differing section", off); refused == nil {
				set[string(cur)] = true
				kept += len(cur)
			}
		}
		cur = cur[:0]
	}
	for {
		c, err := br.ReadByte()
		if err != nil || refused != nil {
			flush()
			return set, refused
		}
		if c >= 0x20 && c < 0x7f || c == '\t' {
			if len(cur) < elfMaxStringLen {
				cur = append(cur, c)
			}
			continue
		}
		flush()
	}
}

// pathLike returns the strings that look like file paths.
func pathLike(ss []string) []string {
	var out []string
	for _, s := range ss {
		if strings.Contains(s, "/") && !strings.ContainsAny(s, " \t") || isBuildPath(s) {
			out = append(out, s)
		}
	}
	return dedupe(out)
}

func quoteList(ss []string, max int) string {
	if len(ss) == 0 {
		return "(none)"
	}
	var q []string
	for i, s := range ss {
		if i == max {
			q = append(q, fmt.Sprintf("... (%d more)", len(ss)-max))
			break
		}
		q = append(q, fmt.Sprintf("%q", s))
	}
	return strings.Join(q, ", ")
}

func capList(ss []string, max int) []string {
	if len(ss) <= max {
		return ss
	}
	return append(append([]string{}, ss[:max]...), fmt.Sprintf("(+%d)", len(ss)-max))
}
