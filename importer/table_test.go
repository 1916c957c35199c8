package importer

import (
	"fmt"
	"slices"
	"strings"
)

// tableRow is the wrong answers of one library on one image for one field
// and one kind, with a count and examples.
type tableRow struct {
	lib, image, field, kind string
	count, of               int
	examples                []string
}

// denominator counts the oracle's nodes a field applies to.
func denominator(field string, o map[string]*node) int {
	n := 0
	for _, x := range o {
		switch field {
		case "size", "content":
			if x.Type == "-" {
				n++
			}
		case "link target":
			if x.Type == "l" {
				n++
			}
		case "device numbers":
			if x.Type == "c" || x.Type == "b" {
				n++
			}
		case "mode":
			if strings.ContainsAny(x.Perm, "sStT") {
				n++
			}
		default:
			n++
		}
	}
	return n
}

// tabulate groups wrong answers into rows, in the order first seen.
func tabulate(ws []wrong, oracles map[string]map[string]*node) []*tableRow {
	var rows []*tableRow
	byKey := map[string]*tableRow{}
	for _, w := range ws {
		key := strings.Join([]string{w.lib, w.image, w.field, w.kind}, "\x00")
		r := byKey[key]
		if r == nil {
			r = &tableRow{lib: w.lib, image: w.image, field: w.field, kind: w.kind}
			if w.path != "" {
				r.of = denominator(w.field, oracles[w.image])
				if w.field == "mode" && w.kind != "setuid/setgid/sticky dropped" {
					r.of = denominator("", oracles[w.image])
				}
			}
			byKey[key] = r
			rows = append(rows, r)
		}
		r.count++
		if len(r.examples) < 2 {
			r.examples = append(r.examples, w.example())
		}
	}
	return rows
}

// markdown renders rows as the README's table.
func markdown(rows []*tableRow) string {
	var b strings.Builder
	b.WriteString("| library | image | field | wrong answers | example |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		count := "—"
		if r.of > 0 {
			count = fmt.Sprintf("%d of %d", r.count, r.of)
		}
		what := r.kind
		if r.field == "open" || r.field == "walk" || r.kind == r.field || r.of == 0 {
			what = ""
		}
		field := r.field
		if what != "" {
			field += ": " + what
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.lib, r.image, esc(field), count,
			esc(strings.Join(r.examples, "; ")))
	}
	return b.String()
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// sortRows orders rows by library, then image, keeping the order of fields.
func sortRows(rows []*tableRow, libOrder, imageOrder []string) {
	slices.SortStableFunc(rows, func(a, b *tableRow) int {
		if c := slices.Index(libOrder, a.lib) - slices.Index(libOrder, b.lib); c != 0 {
			return c
		}
		return slices.Index(imageOrder, a.image) - slices.Index(imageOrder, b.image)
	})
}
