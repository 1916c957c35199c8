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
	if want := "one\ntwo\nthree\nfour\n"; log.String() != want {
		t.Errorf("log got %q, want %q", log.String(), want)
	}
	tail, errTail := s.Tail()
	if got := strings.Join(tail, "|"); got != "three|four" || errTail != nil {
		t.Errorf("tail %q, %q", got, errTail)
	}
}

// TestLineSinkStreams checks that a partial line on one stream is not
// joined with the other's, and that standard error's last lines are kept
// when standard output pushed them out of the tail.
func TestLineSinkStreams(t *testing.T) {
	var term, log bytes.Buffer
	s := newLineSink(&term, &log, "", 2)
	s.Write([]byte("progress "))
	s.Stderr().Write([]byte("error: bad\n"))
	s.Write([]byte("50%\nmore\nlast\n"))
	s.Close()
	if want := "error: bad\nprogress 50%\nmore\nlast\n"; log.String() != want {
		t.Errorf("log got %q, want %q", log.String(), want)
	}
	tail, errTail := s.Tail()
	if strings.Join(tail, "|") != "more|last" || strings.Join(errTail, "|") != "error: bad" {
		t.Errorf("tail %q, error tail %q", tail, errTail)
	}
}
