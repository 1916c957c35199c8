package treediff

import (
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// TestFilter: a file read through a filter on one side and as recorded on
// the other, with equal decoded size, differs in the filter field only; the
// listing names the filter; equal filters are no change.
func TestFilter(t *testing.T) {
	mt := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	a := &tree.Node{Path: "/f", Mode: 0o644, Nlink: 1, Size: 300000, ModTime: mt, Filter: "zisofs:pz:32k"}
	b := *a
	b.Filter = ""
	ch := CompareNodes(a, &b, Options{})
	if len(ch) != 1 || ch[0].Name != "filter" || ch[0].A != "zisofs:pz:32k" || ch[0].B != "none" {
		t.Fatalf("changes %+v, want only filter zisofs:pz:32k -> none", ch)
	}
	la, lb := ListingLine(a, Options{}), ListingLine(&b, Options{})
	if !strings.HasSuffix(la, " /f [zisofs:pz:32k]") || strings.Contains(lb, "[") {
		t.Errorf("listing lines %q and %q", la, lb)
	}
	if sameListing(a, &b, Options{}) {
		t.Error("sameListing ignores the filter")
	}
	c := *a
	if ch := CompareNodes(a, &c, Options{}); len(ch) != 0 || !sameListing(a, &c, Options{}) {
		t.Errorf("equal filters: %+v", ch)
	}
	var l Lister
	l.Scope = report.ISOTree
	l.Visit(a, &b)
	if len(l.Findings) != 1 || len(l.Findings[0].Fields) != 1 || l.Findings[0].Fields[0].Name != "filter" {
		t.Errorf("lister findings %+v", l.Findings)
	}
	if d := l.Diff.String(); !strings.Contains(d, "-"+la) || !strings.Contains(d, "+"+lb) {
		t.Errorf("listing diff %q", d)
	}
}
