package pkgdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Sentinel causes carried by *ParseError.
var (
	ErrMalformed = errors.New("malformed")
	ErrTooLong   = errors.New("line too long")
	ErrLimit     = errors.New("limit reached")
)

// ParseError reports a problem in one file of the database: the file (as
// a path of the fs.FS), the 1-based line and the byte offset of that line's
// start, and the cause (ErrMalformed, ErrTooLong, ErrLimit, a
// *budget.ExceededError, the context's error or a read error).
type ParseError struct {
	File string
	Line int64
	Off  int64
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("pkgdb: %s line %d (offset %d): %v", e.File, e.Line, e.Off, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// readBuf is the read buffer of a lineReader, and so the longest line that
// is returned whole; longer lines are consumed without being held.
const readBuf = 64 << 10

// prefixLen is how much of an over-long line is kept, for its field name.
const prefixLen = 256

// lineReader streams the lines of one file, counting lines and offsets and
// checking the context every few lines and at every buffer of a long line.
type lineReader struct {
	br   *bufio.Reader
	ctx  context.Context
	file string
	line int64 // of the line last returned
	off  int64 // offset of the line last returned
	next int64 // offset of the next line
	n    int
}

// lines returns a lineReader over r, one file of the database. Its read
// buffer is the DB's, reused from file to file (a database is read one
// file at a time): thousands of small files would otherwise each allocate
// one.
func (d *DB) lines(r io.Reader, file string) *lineReader {
	if d.br == nil {
		d.br = bufio.NewReaderSize(r, readBuf)
	} else {
		d.br.Reset(r)
	}
	return &lineReader{br: d.br, ctx: d.ctx, file: file}
}

// errAt returns a *ParseError at the line last returned.
func (l *lineReader) errAt(err error) error {
	return &ParseError{File: l.file, Line: l.line, Off: l.off, Err: err}
}

func (l *lineReader) errf(base error, format string, args ...any) error {
	return l.errAt(fmt.Errorf("%w: "+format, append([]any{base}, args...)...))
}

// read returns the next line without its "\n". A line longer than the
// read buffer is consumed in pieces: read returns long = true and the
// line's first prefixLen bytes (a copy). At the end it returns io.EOF. The
// returned slice is valid until the next call.
func (l *lineReader) read() (line []byte, long bool, err error) {
	l.n++
	if l.n%1024 == 0 {
		if err := l.ctx.Err(); err != nil {
			return nil, false, l.errAt(err)
		}
	}
	l.line++
	l.off = l.next
	b, err := l.br.ReadSlice('\n')
	l.next += int64(len(b))
	if err == nil || (err == io.EOF && len(b) > 0) {
		return bytes.TrimSuffix(b, []byte{'\n'}), false, nil
	}
	if err == io.EOF {
		l.line--
		return nil, false, io.EOF
	}
	if err != bufio.ErrBufferFull {
		return nil, false, l.errAt(err)
	}
	prefix := bytes.Clone(b[:prefixLen])
	for err == bufio.ErrBufferFull {
		if cerr := l.ctx.Err(); cerr != nil {
			return nil, false, l.errAt(cerr)
		}
		b, err = l.br.ReadSlice('\n')
		l.next += int64(len(b))
	}
	if err != nil && err != io.EOF {
		return nil, false, l.errAt(err)
	}
	return prefix, true, nil
}
