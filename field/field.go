// Package field compares typed headers generically. Every decoded header in
// isodiff (an ISO volume descriptor, a squashfs superblock, an MBR, a GPT
// header, an El Torito entry) can list itself as ordered name/value pairs;
// Diff then reports which named fields differ, so the differ never needs to
// know each header's layout and the report can print "volume_creation_date:
// A -> B" for any of them.
package field

import "strconv"

// Field is one named, rendered value of a decoded header.
type Field struct {
	Name  string
	Value string
}

// Change is one field whose value differs between two headers. A field
// present on one side only has Present set for that side.
type Change struct {
	Name  string `json:"name"`
	A     string `json:"a"`
	B     string `json:"b"`
	OnlyA bool   `json:"only_a,omitempty"`
	OnlyB bool   `json:"only_b,omitempty"`
}

// Diff returns the fields whose values differ, in the order of a, followed by
// fields only b has. Field names are expected to be unique within a list.
func Diff(a, b []Field) []Change {
	bIndex := make(map[string]int, len(b))
	for i, f := range b {
		bIndex[f.Name] = i
	}
	seen := make(map[string]bool, len(a))
	var out []Change
	for _, fa := range a {
		seen[fa.Name] = true
		i, ok := bIndex[fa.Name]
		if !ok {
			out = append(out, Change{Name: fa.Name, A: fa.Value, OnlyA: true})
			continue
		}
		if fb := b[i]; fb.Value != fa.Value {
			out = append(out, Change{Name: fa.Name, A: fa.Value, B: fb.Value})
		}
	}
	for _, fb := range b {
		if !seen[fb.Name] {
			out = append(out, Change{Name: fb.Name, B: fb.Value, OnlyB: true})
		}
	}
	return out
}

// String renders a change as "name: A -> B".
func (c Change) String() string {
	switch {
	case c.OnlyA:
		return c.Name + ": " + quote(c.A) + " -> (absent)"
	case c.OnlyB:
		return c.Name + ": (absent) -> " + quote(c.B)
	}
	return c.Name + ": " + quote(c.A) + " -> " + quote(c.B)
}

// quote leaves plain values bare and quotes values with spaces or
// unprintable bytes, so that trailing blanks in padded ISO strings show.
func quote(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || r > '~' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// Split separates the changes whose names satisfy layout (fields that only
// record where things were placed, and so follow from other differences)
// from the rest.
func Split(changes []Change, layout func(name string) bool) (own, placed []Change) {
	for _, c := range changes {
		if layout(c.Name) {
			placed = append(placed, c)
		} else {
			own = append(own, c)
		}
	}
	return own, placed
}
