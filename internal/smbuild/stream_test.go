package smbuild

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineSink(t *testing.T) {
	var term, log bytes.Buffer
	s := newLineSink(&term, &log, "[a] ", 2)
	for _, chunk := range []string{"one\ntw", "o\r\nthree", "\nfour"} {
		if _, err := s.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "[a] one\n[a] two\n[a] three\n[a] four\n"; term.String() != want {
		t.Errorf("terminal got %q, want %q", term.String(), want)
	}
	if want := "one\ntwo\r\nthree\nfour"; log.String() != want {
		t.Errorf("log got %q, want %q", log.String(), want)
	}
	if got := strings.Join(s.Tail(), "|"); got != "three|four" {
		t.Errorf("tail %q", got)
	}
}
