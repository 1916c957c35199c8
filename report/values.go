package report

import (
	"fmt"
	"strings"

	"github.com/isodiff/isodiff/field"
)

// shortChange renders a field change for the short answer: its name and
// both values, shortened so that the line stays readable — modes in octal
// and in ls form, times as dates, long ids and hashes cut around where
// they differ (two GUIDs that differ in one digit must not look equal).
func shortChange(c field.Change) string {
	a, b := c.A, c.B
	switch {
	case c.OnlyA:
		return inline(c.Name) + " " + shortValue(a, 32) + " -> (absent)"
	case c.OnlyB:
		return inline(c.Name) + " (absent) -> " + shortValue(b, 32)
	}
	name := inline(c.Name)
	if oa, ok := octalMode(a); ok {
		if ob, ok := octalMode(b); ok {
			return name + " " + oa + " -> " + ob + " (" + inline(a) + " -> " + inline(b) + ")"
		}
	}
	if da, ok := shortTime(a); ok {
		if db, ok := shortTime(b); ok {
			// The same day is said once.
			if day, _, _ := strings.Cut(da, " "); strings.HasPrefix(db, day+" ") {
				db = strings.TrimPrefix(db, day+" ")
			}
			return name + " " + da + " -> " + db
		}
	}
	const max = 24
	if len(a) > max || len(b) > max {
		a, b = aroundDifference(a, b, max)
		return name + " " + a + " -> " + b
	}
	return name + " " + quoteValue(a) + " -> " + quoteValue(b)
}

// shortValue quotes v, cut to n bytes.
func shortValue(v string, n int) string {
	if len(v) <= n {
		return quoteValue(v)
	}
	return quoteValue(v[:n]) + "..."
}

// octalMode reads an ls-style mode ("-rwsr-xr-x") as octal ("4755").
func octalMode(s string) (string, bool) {
	if len(s) != 10 || !strings.ContainsRune("-dlcbps", rune(s[0])) {
		return "", false
	}
	var m uint32
	for i, c := range s[1:] {
		bit := uint32(1) << (8 - i)
		switch {
		case c == '-':
		case c == rune("rwxrwxrwx"[i]):
			m |= bit
		case (i == 2 || i == 5) && (c == 's' || c == 'S'):
			m |= map[int]uint32{2: 0o4000, 5: 0o2000}[i]
			if c == 's' {
				m |= bit
			}
		case i == 8 && (c == 't' || c == 'T'):
			m |= 0o1000
			if c == 't' {
				m |= bit
			}
		default:
			return "", false
		}
	}
	return fmt.Sprintf("%04o", m), true
}

// shortTime shows an RFC 3339-like time ("2024-03-01T12:00:00.00+00:00",
// "2024-03-01 12:00:00 UTC") as "2024-03-01 12:00:00".
func shortTime(s string) (string, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return "", false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s[:10] + " " + s[11:19], true
}

// aroundDifference cuts two long values to about n bytes each, keeping
// where they first differ: "...B130-3032..." and "...B130-3033...".
func aroundDifference(a, b string, n int) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	start := max(0, i-n/3)
	cut := func(v string) string {
		if start >= len(v) {
			start = max(0, len(v)-n)
		}
		end := min(len(v), start+n)
		out := v[start:end]
		if start > 0 {
			out = "..." + out
		}
		if end < len(v) {
			out += "..."
		}
		return inline(out)
	}
	return cut(a), cut(b)
}
