package smbuild

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// SyncWriter serialises writes to w, so that lines of concurrent builds do
// not interleave within a line.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSyncWriter wraps w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// maxLine is where a line without a newline is cut for the terminal.
const maxLine = 64 << 10

// lineSink receives a container's output: it copies it unchanged to log,
// writes it line by line to term with a prefix, and keeps the last lines.
type lineSink struct {
	mu     sync.Mutex
	term   io.Writer
	log    io.Writer
	prefix string
	buf    []byte
	tail   []string
	keep   int
	logErr error
}

func newLineSink(term, log io.Writer, prefix string, keep int) *lineSink {
	return &lineSink{term: term, log: log, prefix: prefix, keep: keep}
}

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.log.Write(p); err != nil && s.logErr == nil {
		s.logErr = err
	}
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			if len(s.buf) >= maxLine {
				s.line(s.buf)
				s.buf = s.buf[:0]
			}
			break
		}
		s.line(s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	return len(p), nil
}

func (s *lineSink) line(b []byte) {
	l := strings.TrimRight(string(b), "\r")
	_, _ = io.WriteString(s.term, s.prefix+l+"\n")
	if s.keep > 0 {
		if len(s.tail) == s.keep {
			copy(s.tail, s.tail[1:])
			s.tail = s.tail[:s.keep-1]
		}
		s.tail = append(s.tail, l)
	}
}

// Close writes out a last line that has no newline.
func (s *lineSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.line(s.buf)
		s.buf = nil
	}
	return s.logErr
}

// Tail returns the last lines seen.
func (s *lineSink) Tail() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tail...)
}
