package explain

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/isodiff/isodiff/internal/treediff"
)

// readCapped reads at most max bytes of n and says whether there was more.
func (ex *explainer) readCapped(n *node, max int) ([]byte, bool, error) {
	rc, err := ex.openNode(n)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	buf, err := io.ReadAll(io.LimitReader(rc, int64(max)+1))
	if err != nil {
		return buf, false, err
	}
	if len(buf) > max {
		return buf[:max], true, nil
	}
	return buf, false, nil
}

// textLineCost is what a line of a text diff costs besides its bytes: its
// string, its id, its share of the intern map and of the search vectors.
const textLineCost = 16 + 8 + 64 + 16

// textMaxClassified bounds the changed line pairs looked at for hints.
const textMaxClassified = 256

// splitLines splits text into lines without their newlines; a last line
// without a newline is kept.
func splitLines(b []byte) []string {
	s := string(b)
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\\ (no newline at end)"
	}
	return lines
}

// text explains two text files with a unified diff, and hints from each
// changed line paired with its replacement.
func (ex *explainer) text(a, b *node) Result {
	max := ex.o.MaxTextBytes
	ta, moreA, erra := ex.readCapped(a, max)
	tb, moreB, errb := ex.readCapped(b, max)
	if erra != nil || errb != nil {
		return failed(fmtText, erra, errb)
	}
	cut := moreA || moreB
	if cut {
		// Diff whole lines only.
		if i := strings.LastIndexByte(string(ta), '\n'); moreA && i >= 0 {
			ta = ta[:i+1]
		}
		if i := strings.LastIndexByte(string(tb), '\n'); moreB && i >= 0 {
			tb = tb[:i+1]
		}
	}
	// Charge the buffers, the lines (a string each, an id, an entry in the
	// intern map) and the search's two vectors before making them.
	hold := ex.newHold()
	defer hold.Release()
	lines := int64(bytes.Count(ta, []byte{'\n'}) + bytes.Count(tb, []byte{'\n'}) + 2)
	if err := ex.grow(&hold, 2*int64(len(ta)+len(tb))+lines*textLineCost+4*int64(ex.o.MaxDetailBytes), "text diff of "+excerpt(a.name, 64), 0); err != nil {
		return failed(fmtText, err)
	}
	la, lb := splitLines(ta), splitLines(tb)
	ids := map[string]int{}
	intern := func(lines []string) []int {
		out := make([]int, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = len(ids)
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	edits, costly := myers(intern(la), intern(lb), 0, func() bool { return ex.stop() != nil })
	u := &treediff.Unified{NameA: sideName("a", a.name), NameB: sideName("b", b.name), MaxBytes: ex.o.MaxDetailBytes}
	var hints []string
	var firstLine int
	var firstHints []string
	added, removed := 0, 0
	classified := 0
	ia, ib := 0, 0
edits:
	for k := 0; k < len(edits); k++ {
		e := edits[k]
		switch e.kind {
		case editEqual:
			for j := 0; j < e.n; j++ {
				u.Equal(la[ia])
				ia++
				ib++
			}
		case editDelete, editInsert:
			// A run of deletions and insertions: pair them up for hints.
			var dels, ins []string
			for ; k < len(edits) && edits[k].kind != editEqual; k++ {
				if edits[k].kind == editDelete {
					dels = append(dels, la[ia:ia+edits[k].n]...)
					ia += edits[k].n
				} else {
					ins = append(ins, lb[ib:ib+edits[k].n]...)
					ib += edits[k].n
				}
			}
			k--
			if firstLine == 0 {
				firstLine = ia - len(dels) + 1
			}
			// A run longer than the details can show is fed only until
			// the diff is cut there: the rest would be dropped anyway, and
			// treediff.Unified holds a run whole until it ends.
			fed := 0
			for _, l := range dels {
				if fed > ex.o.MaxDetailBytes {
					break
				}
				u.Delete(l)
				fed += len(l) + 2
			}
			for _, l := range ins {
				if fed > ex.o.MaxDetailBytes {
					break
				}
				u.Insert(l)
				fed += len(l) + 2
			}
			if ex.stop() != nil {
				break edits
			}
			removed += len(dels)
			added += len(ins)
			for j := 0; j < len(dels) && j < len(ins) && classified < textMaxClassified; j++ {
				classified++
				h := classify(dels[j], ins[j], hintTextTimestamp)
				if len(hints) == 0 && firstHints == nil {
					firstHints = h
				}
				hints = append(hints, h...)
			}
		}
	}
	r := Result{Format: fmtText}
	if added+removed == 0 {
		if cut {
			r = ex.hexdiff(a, b)
			r.Details = fmt.Sprintf("the first %d bytes of text are identical; compared as bytes\n", max) + r.Details
			return r
		}
		r.Summary = "identical text"
		r.Complete = true
		return r
	}
	diff := u.String()
	switch {
	case added == removed && added == 1:
		r.Summary = fmt.Sprintf("text: line %d differs", firstLine)
	case added == removed:
		r.Summary = fmt.Sprintf("text: %d lines differ, first at line %d", added, firstLine)
	default:
		r.Summary = fmt.Sprintf("text: %d line(s) removed, %d added, first at line %d", removed, added, firstLine)
	}
	var d strings.Builder
	if cut {
		fmt.Fprintf(&d, "only the first %d bytes of each side were diffed\n", max)
	}
	if costly {
		d.WriteString("the diff search hit its work limit: some changed regions are shown replaced wholesale\n")
	}
	d.WriteString(diff)
	r.Details = d.String()
	r.hint(dedupe(hints)...)
	r.Complete = !cut && !strings.Contains(diff, "... diff truncated")
	return r
}

// sideName prefixes a file name with its side, as diff -u labels do.
func sideName(side, name string) string {
	if strings.HasPrefix(name, "/") {
		return side + name
	}
	return side + "/" + name
}
