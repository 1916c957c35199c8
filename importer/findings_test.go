package importer

import (
	"fmt"
	"strings"

	"github.com/isodiff/isodiff/report"
)

// This file holds all the code that depends on the shape of isodiff's
// report types (report.Finding, report.Scope, report.Location), so that a
// change there is adapted here alone.

// containerFindings returns the findings inside the root filesystem image
// of the given format ("squashfs") at container in the ISO, split into
// those the short answer shows and those it leaves out (derived from
// others, ignored by a rule, following from damage).
func containerFindings(rep *report.Report, format, container string) (shown, other []report.Finding) {
	scope := report.ContainerScope(format, container)
	for _, f := range rep.Findings() {
		if f.Scope != scope {
			continue
		}
		if f.Derived || f.Ignored != "" || f.FromDamage {
			other = append(other, f)
		} else {
			shown = append(shown, f)
		}
	}
	return shown, other
}

// isoFindings returns the findings about the ISO's own tree.
func isoFindings(rep *report.Report) []report.Finding {
	var out []report.Finding
	for _, f := range rep.Findings() {
		if f.Scope.Kind == report.ScopeISO {
			out = append(out, f)
		}
	}
	return out
}

// containerLocations returns the short answer's lines inside the image at
// container, by path.
func containerLocations(rep *report.Report, format, container string) map[string]report.Location {
	scope := report.ContainerScope(format, container)
	out := map[string]report.Location{}
	for _, l := range rep.Locations() {
		if l.Scope == scope {
			out[l.Path] = l
		}
	}
	return out
}

// changedFields names the fields a finding says differ, with their values.
func changedFields(f report.Finding) map[string][2]string {
	out := map[string][2]string{}
	for _, c := range f.Fields {
		out[c.Name] = [2]string{c.A, c.B}
	}
	return out
}

// describe renders a finding on one line for test logs.
func describe(f report.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", f.Scope, f.Path, f.Kind)
	for _, c := range f.Fields {
		fmt.Fprintf(&b, " %s: %q -> %q", c.Name, c.A, c.B)
	}
	if f.Content != nil {
		fmt.Fprintf(&b, " content: %s", f.Content)
	}
	if f.Container {
		b.WriteString(" (container)")
	}
	if f.Derived {
		b.WriteString(" (derived)")
	}
	if f.Ignored != "" {
		b.WriteString(" (ignored: " + f.Ignored + ")")
	}
	return b.String()
}
