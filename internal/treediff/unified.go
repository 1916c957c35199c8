package treediff

import (
	"fmt"
	"strings"
)

// Unified builds a unified diff incrementally from an alignment that the
// caller already knows (the merge-walk): Equal for a line on both sides,
// Delete for a line only in A, Insert for a line only in B. It keeps only
// the current hunk and a few lines of context, and stops collecting past
// MaxBytes (saying so in the output), so its memory is bounded by the size
// of the differences, not of the listings.
type Unified struct {
	NameA, NameB string
	Context      int // lines of context around changes; 3 if zero
	MaxBytes     int // stop collecting after this many bytes; 16 MiB if zero

	out       strings.Builder
	na, nb    int        // lines consumed on each side
	ring      []lazyLine // equal lines before the next hunk
	hunk      []string
	inHunk    bool
	aStart    int
	bStart    int
	aLen      int
	bLen      int
	trailing  int      // equal lines at the end of the current hunk
	dels      []string // a run of changes, printed as deletions then
	ins       []string // insertions, as diff -u does
	truncated bool
	noted     bool
}

func (u *Unified) ctx() int {
	if u.Context <= 0 {
		return 3
	}
	return u.Context
}

// lazyLine is a context line, rendered only if a hunk shows it.
type lazyLine struct {
	s string
	f func() string
}

func (l lazyLine) get() string {
	if l.f != nil {
		return l.f()
	}
	return l.s
}

// Equal records a line present on both sides.
func (u *Unified) Equal(line string) { u.equal(lazyLine{s: line}) }

// EqualFunc records a line present on both sides that line renders, only
// when it is shown as context: most equal lines of two large listings are
// never shown, and rendering them is most of the cost of a listing diff.
func (u *Unified) EqualFunc(line func() string) { u.equal(lazyLine{f: line}) }

func (u *Unified) equal(l lazyLine) {
	u.na++
	u.nb++
	u.endRun()
	c := u.ctx()
	if !u.inHunk {
		u.ring = append(u.ring, l)
		if len(u.ring) > c {
			u.ring = u.ring[1:]
		}
		return
	}
	line := l.get()
	u.hunk = append(u.hunk, " "+line)
	u.aLen++
	u.bLen++
	u.trailing++
	if u.trailing == 2*c+1 {
		// The gap is too long to join the next change: end the hunk after
		// c lines of context and keep the last c for the next one.
		extra := c + 1
		tail := u.hunk[len(u.hunk)-extra:]
		u.ring = u.ring[:0]
		for _, l := range tail[1:] {
			u.ring = append(u.ring, lazyLine{s: l[1:]})
		}
		u.hunk = u.hunk[:len(u.hunk)-extra]
		u.aLen -= extra
		u.bLen -= extra
		u.flush()
	}
}

func (u *Unified) open() {
	if u.inHunk {
		return
	}
	u.inHunk = true
	k := len(u.ring)
	u.aStart = u.na - k + 1
	u.bStart = u.nb - k + 1
	u.aLen, u.bLen = k, k
	u.hunk = u.hunk[:0]
	for _, l := range u.ring {
		u.hunk = append(u.hunk, " "+l.get())
	}
	u.ring = u.ring[:0]
}

// Delete records a line only in A.
func (u *Unified) Delete(line string) {
	u.open()
	u.na++
	u.aLen++
	u.trailing = 0
	u.dels = append(u.dels, "-"+line)
}

// Insert records a line only in B.
func (u *Unified) Insert(line string) {
	u.open()
	u.nb++
	u.bLen++
	u.trailing = 0
	u.ins = append(u.ins, "+"+line)
}

// endRun moves a run of changes into the hunk, deletions first.
func (u *Unified) endRun() {
	if len(u.dels)+len(u.ins) == 0 {
		return
	}
	u.hunk = append(u.hunk, u.dels...)
	u.hunk = append(u.hunk, u.ins...)
	u.dels, u.ins = u.dels[:0], u.ins[:0]
	if u.hunkBytes() > u.maxBytes() {
		// Keep counting, stop holding lines: memory stays bounded.
		u.truncated = true
		u.hunk = u.hunk[:0]
	}
}

func (u *Unified) maxBytes() int {
	if u.MaxBytes <= 0 {
		return 16 << 20
	}
	return u.MaxBytes
}

func (u *Unified) hunkBytes() int {
	n := u.out.Len()
	for _, l := range u.hunk {
		n += len(l) + 1
	}
	return n
}

func (u *Unified) flush() {
	u.inHunk = false
	u.trailing = 0
	max := u.maxBytes()
	if u.truncated {
		if !u.noted {
			fmt.Fprintf(&u.out, "... diff truncated at %d bytes (the findings are complete)\n", max)
			u.noted = true
		}
		u.hunk = u.hunk[:0]
		return
	}
	if u.out.Len() == 0 {
		fmt.Fprintf(&u.out, "--- %s\n+++ %s\n", u.NameA, u.NameB)
	}
	as, bs := u.aStart, u.bStart
	if u.aLen == 0 {
		as--
	}
	if u.bLen == 0 {
		bs--
	}
	fmt.Fprintf(&u.out, "@@ -%d,%d +%d,%d @@\n", as, u.aLen, bs, u.bLen)
	for _, l := range u.hunk {
		if u.out.Len()+len(l) > max {
			fmt.Fprintf(&u.out, "... diff truncated at %d bytes (the findings are complete)\n", max)
			u.truncated, u.noted = true, true
			break
		}
		u.out.WriteString(l)
		u.out.WriteByte('\n')
	}
	u.hunk = u.hunk[:0]
}

// String ends the diff and returns it; empty when nothing differs.
func (u *Unified) String() string {
	u.endRun()
	if u.inHunk {
		c := u.ctx()
		if u.trailing > c {
			extra := u.trailing - c
			u.hunk = u.hunk[:len(u.hunk)-extra]
			u.aLen -= extra
			u.bLen -= extra
		}
		u.flush()
	}
	return u.out.String()
}
