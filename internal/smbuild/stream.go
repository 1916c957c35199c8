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

// maxLine is where a line without a newline is cut.
const maxLine = 64 << 10

// lineSink receives a container's output through two streams, standard
// output and standard error: it writes each whole line to the log and, with
// a prefix, to the terminal, and keeps the last lines of both together and
// of standard error alone. The docker client delivers the two streams
// separately, so their relative order is not exact (a builder that wants it
// exact writes everything to one; BUILD_SHELL does that); keeping lines
// whole per stream, and standard error's last lines on their own, makes
// sure an error message is not cut apart or lost from the tail.
type lineSink struct {
	mu      sync.Mutex
	term    io.Writer
	log     io.Writer
	prefix  string
	keep    int
	tail    []string
	errTail []string
	logErr  error
	out     *stream
	err     *stream
}

type stream struct {
	s     *lineSink
	isErr bool
	buf   []byte
}

func newLineSink(term, log io.Writer, prefix string, keep int) *lineSink {
	s := &lineSink{term: term, log: log, prefix: prefix, keep: keep}
	s.out, s.err = &stream{s: s}, &stream{s: s, isErr: true}
	return s
}

// Write is standard output's Write.
func (s *lineSink) Write(p []byte) (int, error) { return s.out.Write(p) }

// Stderr is the writer for standard error.
func (s *lineSink) Stderr() io.Writer { return s.err }

func (w *stream) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLine {
				s.line(w.buf, w.isErr)
				w.buf = w.buf[:0]
			}
			break
		}
		s.line(w.buf[:i], w.isErr)
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (s *lineSink) line(b []byte, isErr bool) {
	l := strings.TrimRight(string(b), "\r")
	if _, err := io.WriteString(s.log, l+"\n"); err != nil && s.logErr == nil {
		s.logErr = err
	}
	_, _ = io.WriteString(s.term, s.prefix+l+"\n")
	s.tail = keepLast(s.tail, l, s.keep)
	if isErr {
		s.errTail = keepLast(s.errTail, l, s.keep)
	}
}

func keepLast(lines []string, l string, n int) []string {
	if n <= 0 {
		return lines
	}
	if len(lines) == n {
		copy(lines, lines[1:])
		lines = lines[:n-1]
	}
	return append(lines, l)
}

// Close writes out last lines that have no newline.
func (s *lineSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range []*stream{s.out, s.err} {
		if len(w.buf) > 0 {
			s.line(w.buf, w.isErr)
			w.buf = nil
		}
	}
	return s.logErr
}

// Tail returns the last lines seen on both streams and, when standard
// error's last lines are not all among them, those too.
func (s *lineSink) Tail() (tail, errTail []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tail = append([]string(nil), s.tail...)
	in := map[string]bool{}
	for _, l := range tail {
		in[l] = true
	}
	for _, l := range s.errTail {
		if !in[l] {
			errTail = append([]string(nil), s.errTail...)
			break
		}
	}
	return tail, errTail
}
