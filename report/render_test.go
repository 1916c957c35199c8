package report

import (
	"bytes"
	"testing"
)

func TestShortAnswerFoldsAddedDirectories(t *testing.T) {
	r := &Report{Stages: []*Stage{{Name: StageSquashfs, Findings: []Finding{
		{Scope: "squashfs:/s", Path: "/etc/new", Kind: KindAdded, Type: "d"},
		{Scope: "squashfs:/s", Path: "/etc/new/a", Kind: KindAdded, Type: "-"},
		{Scope: "squashfs:/s", Path: "/etc/new/sub", Kind: KindAdded, Type: "d"},
		{Scope: "squashfs:/s", Path: "/etc/new/sub/b", Kind: KindAdded, Type: "-"},
		{Scope: "squashfs:/s", Path: "/etc/newer", Kind: KindAdded, Type: "-"},
		{Scope: "squashfs:/s", Path: "/etc/old", Kind: KindRemoved, Type: "-"},
	}}}}
	var b bytes.Buffer
	writeShortAnswer(&b, r, "")
	want := "/s > /etc/new: only in B, with 3 entries below\n/s > /etc/newer: only in B\n/s > /etc/old: only in A\n"
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
