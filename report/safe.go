package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The text renderings print names and messages that come from the images:
// file names, symlink targets, archive member names, diffoscope's output.
// A crafted image can put anything there, and isodiff's summary goes to CI
// logs and terminals. So every text rendering goes through safeWriter,
// which shows, escaped as \xNN or \uNNNN, what a terminal or a CI runner
// would act on instead of showing: control characters other than newline
// and tab (ESC starts terminal sequences), C1 controls, Unicode bidi and
// line separator controls, and bytes that are not UTF-8; and it defuses
// the command prefixes of CI runners ("::" at the start of a line for
// GitHub and Gitea Actions, "##[" there and "##vso[" anywhere in a line for
// Azure Pipelines) by escaping their first character. Names that hold a
// newline are printed on one line (oneLine) where they head a line, so no
// name can start a line of its own. WriteJSON needs none of this: JSON
// escapes control characters in strings.

// WriteSizes writes sizes.txt: one "size path" line per image.
func WriteSizes(w io.Writer, r *Report) error { return safely(w, r, writeSizes) }

// WriteSHA256 writes sha256.txt in sha256sum's format.
func WriteSHA256(w io.Writer, r *Report) error { return safely(w, r, writeSHA256) }

// WriteHeaderCmp writes iso-header-cmp.txt: every header field that
// differs, the system area's differing ranges, the partition tables and El
// Torito.
func WriteHeaderCmp(w io.Writer, r *Report) error { return safely(w, r, writeHeaderCmp) }

// WriteTOCDiff writes toc-diff.txt: the unified diff of the two ISO listings.
func WriteTOCDiff(w io.Writer, r *Report) error { return safely(w, r, writeTOCDiff) }

// WriteSquashfsSHA256 writes squashfs-sha256.txt: each embedded squashfs
// image's hash on each side, in sha256sum's format.
func WriteSquashfsSHA256(w io.Writer, r *Report) error { return safely(w, r, writeSquashfsSHA256) }

// WriteSqfsLsDiff writes sqfs-ls-diff.txt: for each embedded squashfs, the
// unified diff of the two sorted inner listings.
func WriteSqfsLsDiff(w io.Writer, r *Report) error { return safely(w, r, writeSqfsLsDiff) }

// WriteSqfsDiff writes sqfs-diff.txt: the content findings, with each
// file's explanation, then any texts the content stage produced, then the
// explain stage's (diffoscope's reports on the files it was run on).
func WriteSqfsDiff(w io.Writer, r *Report) error { return safely(w, r, writeSqfsDiff) }

// WriteChecklist writes checklist.md: each stage's outcome, then the
// findings grouped by scope.
func WriteChecklist(w io.Writer, r *Report) error { return safely(w, r, writeChecklist) }

// WriteSummary writes the human summary: the inputs, each stage's outcome,
// and the short answer — every diverging path and what differs in it.
func WriteSummary(w io.Writer, r *Report) error { return safely(w, r, writeSummary) }

// safely runs a text rendering through a safeWriter.
func safely(w io.Writer, r *Report, write func(io.Writer, *Report) error) error {
	sw := &safeWriter{w: w}
	err := write(sw, r)
	if ferr := sw.flush(); err == nil {
		err = ferr
	}
	return err
}

// safeWriter escapes text line by line (see above). It holds at most one
// incomplete line.
type safeWriter struct {
	w    io.Writer
	line []byte
	out  []byte
	err  error
}

func (s *safeWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.err == nil {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line = append(s.line, p...)
			break
		}
		s.line = append(s.line, p[:i+1]...)
		p = p[i+1:]
		s.emit()
	}
	if s.err != nil {
		return 0, s.err
	}
	return n, nil
}

func (s *safeWriter) flush() error {
	if len(s.line) > 0 && s.err == nil {
		s.emit()
	}
	return s.err
}

// emit writes the held line, escaped.
func (s *safeWriter) emit() {
	s.out = appendSafeLine(s.out[:0], s.line)
	s.line = s.line[:0]
	_, s.err = s.w.Write(s.out)
}

// appendSafeLine appends line (which may end in a newline) to dst with
// what must not reach a terminal or a CI log raw escaped.
func appendSafeLine(dst, line []byte) []byte {
	start := len(line) - len(bytes.TrimLeft(line, " \t"))
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRune(line[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			dst = fmt.Appendf(dst, `\x%02x`, line[i])
		case r == '\n' || r == '\t':
			dst = append(dst, byte(r))
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			dst = fmt.Appendf(dst, `\x%02x`, r)
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x2028 && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			dst = fmt.Appendf(dst, `\u%04x`, r)
		case i == start && (bytes.HasPrefix(line[i:], []byte("::")) || bytes.HasPrefix(line[i:], []byte("##["))),
			bytes.HasPrefix(line[i:], []byte("##vso[")):
			dst = fmt.Appendf(dst, `\x%02x`, r)
		default:
			dst = append(dst, line[i:i+size]...)
		}
		i += size
	}
	return dst
}

// oneLine renders a name from an image that heads a line: its newlines and
// carriage returns escaped, so that it cannot start a line of its own.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
