package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/isodiff/isodiff/field"
)

// The text renderings print names and messages that come from the images:
// file names, symlink targets, xattr names and values, archive member
// names, problem messages, diffoscope's output. A crafted image can put
// anything there, and isodiff's summary and report files go to CI logs,
// terminals and Markdown viewers. Every text rendering therefore goes
// through one choke point, safeWriter (WriteSummary, every *.txt file,
// checklist.md), and every image-derived value placed inside a line goes
// through inline, which keeps it on that line and bounded. report.json goes
// through jsonSafe, which does the same with JSON's own \u escapes, so it
// still decodes to exactly the Report.
//
// What the CI runners act on, from their sources:
//
//   - GitHub Actions (actions/runner, src/Runner.Common/ActionCommand.cs):
//     TryParseV2 does message.TrimStart() (.NET char.IsWhiteSpace: every
//     Unicode White_Space character, NBSP and U+3000 included) and then
//     StartsWith("::"); TryParse finds "##[" with IndexOf anywhere in the
//     line. Both are culture-sensitive .NET string operations, which under
//     ICU skip zero-weight ("ignorable") characters such as U+200B or
//     U+00AD. Lines are split by StreamReader.ReadLine (src/Runner.Sdk/
//     ProcessInvoker.cs): on \n, \r and \r\n. Gitea/Forgejo act_runner
//     parse the same "::" commands.
//   - Azure Pipelines (microsoft/azure-pipelines-agent, src/Microsoft.
//     VisualStudio.Services.Agent/Command.cs): TryParse finds "##vso[" with
//     IndexOf anywhere in the line; the agent's log formatting commands are
//     "##[section]", "##[group]" and the like. TeamCity's service messages
//     are "##teamcity[".
//   - GitLab (gitlab-org/gitlab, lib/gitlab/regex.rb build_trace_section_regex
//     as used by Gitlab::Ci::Ansi2json): "section_start:TS:NAME" or
//     "section_end:TS:NAME", optional "[options]", then "\r\e[0K", anywhere
//     in the log.
//
// So, line by line (appendSafeLine):
//
//   - bytes that are not UTF-8 are shown as \xNN;
//   - C0 and C1 controls other than newline and tab (ESC starts terminal
//     sequences, \r \v \f and U+0085 break lines for some viewers) are
//     shown as \xNN; every other character that is not graphic (format
//     characters: bidi controls, zero-width characters, soft hyphen; the
//     line and paragraph separators U+2028 and U+2029; private use;
//     unassigned) and the default-ignorable ones that are (variation
//     selectors, Hangul fillers, U+034F) are shown as \uNNNN or \UNNNNNNNN.
//     Nothing invisible or ignorable reaches a runner's parser, and nothing
//     but \n ends a line;
//   - after the line's leading white space (any Unicode White_Space, kept
//     as it is, and combining marks), "::" has its first colon shown as
//     \x3a;
//   - "##" followed by ASCII letters (none included) and "[", anywhere, has
//     its first '#' shown as \x23: "##[", "##vso[", "##teamcity[";
//   - "section_start:" and "section_end:", anywhere, have their 's' shown as
//     \x73 (the \r and ESC the marker needs are escaped anyway);
//   - a line longer than maxLineBytes is cut there and ends with its length
//     and a digest (so no file grows with one value: see excerpt).
//
// Names that hold a line break are kept on their line by inline/OneLine
// (\n shown as \n, \r as \r), so that no name can start a line of its own.

const (
	// maxLineBytes bounds every line of a text rendering: a longer one is
	// cut, with its length and digest.
	maxLineBytes = 64 << 10
	// maxInlineBytes bounds one value printed inside a line (a name, a
	// field's value, a problem message, a note): a longer one is excerpted.
	maxInlineBytes = 4096
	// maxFieldValueBytes bounds one side of a field change (A or B).
	maxFieldValueBytes = 1024
	// excerptBytes is how much of a value an excerpt shows.
	excerptBytes = 256
)

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

// SafeText returns s as the text renderings print it: each line escaped
// and defused as described above. For callers that print image-derived
// text outside a report rendering (a log line).
func SafeText(s string) string {
	var b strings.Builder
	sw := &safeWriter{w: &b}
	io.WriteString(sw, s)
	sw.flush()
	return b.String()
}

// safely runs a text rendering through a safeWriter.
func safely(w io.Writer, r *Report, write func(io.Writer, *Report) error) error {
	sw := &safeWriter{w: w}
	err := write(sw, r.resolved())
	if ferr := sw.flush(); err == nil {
		err = ferr
	}
	return err
}

// safeWriter escapes text line by line (see above). It holds at most
// maxLineBytes of one line; the rest of a longer line is only hashed.
type safeWriter struct {
	w    io.Writer
	line []byte
	out  []byte
	err  error
	// A line over maxLineBytes: its length so far and its hash.
	long    int
	longSum hash.Hash
}

func (s *safeWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.err == nil {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		s.hold(chunk)
		if i < 0 {
			break
		}
		p = p[i+1:]
		s.emit(true)
	}
	if s.err != nil {
		return 0, s.err
	}
	return n, nil
}

// hold adds part of the current line (no newline in it).
func (s *safeWriter) hold(p []byte) {
	if s.longSum == nil && len(s.line)+len(p) <= maxLineBytes {
		s.line = append(s.line, p...)
		return
	}
	if s.longSum == nil {
		s.longSum = sha256.New()
		s.longSum.Write(s.line)
		s.long = len(s.line)
		if room := maxLineBytes - len(s.line); room > 0 {
			s.line = append(s.line, p[:room]...)
		}
	}
	s.longSum.Write(p)
	s.long += len(p)
}

func (s *safeWriter) flush() error {
	if (len(s.line) > 0 || s.longSum != nil) && s.err == nil {
		s.emit(false)
	}
	return s.err
}

// emit writes the held line, escaped, and a newline if it had one.
func (s *safeWriter) emit(newline bool) {
	line := s.line
	if s.longSum != nil {
		line = line[:runeStart(line, maxLineBytes-excerptBytes)]
	}
	s.out = appendSafeLine(s.out[:0], line)
	if s.longSum != nil {
		s.out = fmt.Appendf(s.out, "... [line cut: %d bytes, sha256 %s]", s.long, hex.EncodeToString(s.longSum.Sum(nil))[:16])
		s.longSum, s.long = nil, 0
	}
	if newline {
		s.out = append(s.out, '\n')
	}
	s.line = s.line[:0]
	_, s.err = s.w.Write(s.out)
}

// runeStart returns the largest n <= max (and <= len(b)) at which b can be
// cut without splitting a UTF-8 sequence.
func runeStart(b []byte, max int) int {
	if max >= len(b) {
		return len(b)
	}
	n := max
	for n > 0 && n > max-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// appendSafeLine appends line (without its newline) to dst with what must
// not reach a terminal, a CI runner or a log viewer raw escaped (see above).
func appendSafeLine(dst, line []byte) []byte {
	leading := true // only white space (or marks) so far
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && size <= 1 {
			dst = fmt.Appendf(dst, `\x%02x`, line[i])
			leading = false
			i++
			continue
		}
		if esc := escapeRune(r); esc != "" {
			dst = append(dst, esc...)
			leading = false
			i += size
			continue
		}
		rest := line[i:]
		switch {
		case leading && (unicode.IsSpace(r) || unicode.In(r, unicode.Mn, unicode.Me)):
			dst = append(dst, rest[:size]...)
			i += size
			continue
		case leading && bytes.HasPrefix(rest, []byte("::")),
			r == '#' && isRunnerBracket(rest),
			r == 's' && (bytes.HasPrefix(rest, []byte("section_start:")) || bytes.HasPrefix(rest, []byte("section_end:"))):
			dst = fmt.Appendf(dst, `\x%02x`, r)
		default:
			dst = append(dst, rest[:size]...)
		}
		leading = false
		i += size
	}
	return dst
}

// isRunnerBracket reports whether b starts with "##", ASCII letters (or
// none) and "[": a runner command prefix ("##[", "##vso[", "##teamcity[").
func isRunnerBracket(b []byte) bool {
	if len(b) < 3 || b[0] != '#' || b[1] != '#' {
		return false
	}
	for _, c := range b[2:] {
		switch {
		case c == '[':
			return true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return false
}

// escapeRune returns how the text renderings show r, or "" when r is shown
// as it is. Newline and tab are shown as they are.
func escapeRune(r rune) string {
	switch {
	case r == '\n' || r == '\t':
		return ""
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return fmt.Sprintf(`\x%02x`, r)
	case r < 0x7f:
		return ""
	case !unicode.IsGraphic(r) || unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point):
		if r > 0xffff {
			return fmt.Sprintf(`\U%08x`, r)
		}
		return fmt.Sprintf(`\u%04x`, r)
	}
	return ""
}

// OneLine renders a name from an image so that it stays on its line: its
// line breaks escaped (\n and \r as such, the other line breakers a log
// viewer may split on as the text renderings show them: \x0b, \x0c, \x85,
// \u2028, \u2029). The renderings escape the rest; OneLine is exported so
// that code building a Text body line by line can keep a name on its line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\v\f\u0085\u2028\u2029") {
		return s
	}
	return lineBreaks.Replace(s)
}

var lineBreaks = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\v", `\x0b`, "\f", `\x0c`,
	"\u0085", `\x85`, "\u2028", `\u2028`, "\u2029", `\u2029`)

// oneLine is OneLine (the name the renderers use).
func oneLine(s string) string { return OneLine(s) }

// inline renders an image-derived value inside a line: on one line and
// excerpted past maxInlineBytes.
func inline(s string) string { return oneLine(excerpt(s, maxInlineBytes)) }

// excerpt returns s when it has at most max bytes, else its first
// excerptBytes (whole characters) followed by its length and the first 16
// hex digits of its SHA-256, so two long values can still be told apart.
func excerpt(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head, mark := excerptParts(s, max)
	return head + mark
}

// excerptParts splits the excerpt of a value longer than max into the head
// it shows and the mark that follows it.
func excerptParts(s string, max int) (head, mark string) {
	if len(s) <= max {
		return s, ""
	}
	sum := sha256.Sum256([]byte(s))
	head = s[:runeStart([]byte(s[:min(len(s), excerptBytes+utf8.UTFMax)]), excerptBytes)]
	return head, fmt.Sprintf("... [%d bytes, sha256 %s]", len(s), hex.EncodeToString(sum[:8]))
}

// jsonSafe writes encoded JSON to w with, inside its strings, what the text
// renderings escape written as JSON \u escapes instead: the runner command
// prefixes ("##" + letters + "[" and GitLab's section markers) and every
// character escapeRune escapes that encoding/json leaves raw (C1 controls,
// format characters, ...). The JSON still decodes to the same values. Its
// structure is ASCII and its keys hold neither '#' nor "section_", and no
// JSON escape holds '#', 's' or a non-ASCII byte, so every match is inside
// a string and outside an escape.
func jsonSafe(w io.Writer, js []byte) error {
	last := 0
	flush := func(upto int, repl []byte) error {
		if _, err := w.Write(js[last:upto]); err != nil {
			return err
		}
		_, err := w.Write(repl)
		return err
	}
	for i := 0; i < len(js); {
		c := js[i]
		var repl []byte
		size := 1
		switch {
		case c == '#' && isRunnerBracket(js[i:]):
			repl = []byte(`\u0023`)
		case c == 's' && (bytes.HasPrefix(js[i:], []byte("section_start:")) || bytes.HasPrefix(js[i:], []byte("section_end:"))):
			repl = []byte(`\u0073`)
		case c >= utf8.RuneSelf:
			var r rune
			r, size = utf8.DecodeRune(js[i:])
			if r != utf8.RuneError && escapeRune(r) != "" {
				for _, u := range utf16.Encode([]rune{r}) {
					repl = fmt.Appendf(repl, `\u%04x`, u)
				}
			}
		}
		if repl != nil {
			if err := flush(i, repl); err != nil {
				return err
			}
			last = i + size
		}
		i += size
	}
	_, err := w.Write(js[last:])
	return err
}

// inlineAll applies inline to each of ss, in place, and returns it.
// inlineAll returns the strings inlined, in a new slice (the report's own
// slices are never rewritten by rendering).
func inlineAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = inline(s)
	}
	return out
}

// changeString renders a field change on one line, as field.Change.String
// does ("name: A -> B"), with a side longer than maxFieldValueBytes
// excerpted.
func changeString(c field.Change) string {
	if len(c.A) <= maxFieldValueBytes && len(c.B) <= maxFieldValueBytes {
		return inline(c.String())
	}
	side := func(v string, absent bool) string {
		if absent {
			return "(absent)"
		}
		if len(v) <= maxFieldValueBytes {
			return quoteValue(v)
		}
		head, mark := excerptParts(v, maxFieldValueBytes)
		return strconv.Quote(head) + mark
	}
	return inline(c.Name) + ": " + side(c.A, c.OnlyB) + " -> " + side(c.B, c.OnlyA)
}

// quoteValue quotes a field value as field.Change.String does: bare when
// plain, Go-quoted when it has blanks, quotes or bytes outside ASCII.
func quoteValue(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || r > '~' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// Markdown (checklist.md). Image-derived names go into code spans, where
// CommonMark and GitHub's extensions interpret nothing (no emphasis, link,
// autolink, HTML, entity or backslash escape); other image-derived text is
// escaped with backslashes (mdText). Both are built from values already on
// one line (inline): a code span or a paragraph cannot be continued on the
// next line. Lines are kept under mdLineBudget raw bytes, far below
// maxLineBytes, so safeWriter never cuts a line inside a code span (an
// unclosed one would leave its content to be read as Markdown).

// mdLineBudget bounds the image-derived text of one checklist.md line.
const mdLineBudget = 16 << 10

// codeSpan renders s (on one line, excerpted when long) as a CommonMark
// code span: delimited by a backtick run one longer than the longest run in
// s, padded with one space on each side when s begins or ends with a
// backtick (or with a space at both ends: CommonMark strips one space from
// each end of such content).
func codeSpan(s string) string {
	s = inline(s)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	pad := ""
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// mdText escapes s for running Markdown text in a list item, a heading or
// a table cell (never at the start of a block: the renderer always puts its
// own text first), with backslashes (any ASCII punctuation may be escaped
// in CommonMark):
//
//   - \ ` * _ [ ] < & | ~ $ #: escapes, code spans, emphasis, links and
//     images, raw HTML and autolinks in <>, entities, GFM table cells and
//     strikethrough, GitHub math, headings and issue references;
//   - '@' is written as a code span of its own: GFM's e-mail autolinks
//     (and mailto:/xmpp: ones) are found in the text after backslash
//     escapes are undone (cmark-gfm links "u\@e.example"), GitHub
//     mentions too; a code span is a node of its own, outside that text;
//   - ':' before "//" and '.' after "www": GFM extended URL and www
//     autolinks, which need those characters literally in the source.
//
// Line breaks are escaped first (OneLine), so s cannot end its block.
func mdText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '@':
			b.WriteString("`@`")
			continue
		case strings.IndexByte("\\`*_[]<&|~$#", c) >= 0,
			c == ':' && strings.HasPrefix(s[i+1:], "//"),
			c == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www"):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// joinCapped joins parts with sep until about budget bytes, then says how
// many parts it left out.
func joinCapped(parts []string, sep string, budget int) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && b.Len()+len(sep)+len(p) > budget {
			fmt.Fprintf(&b, "%s... (%d more)", sep, len(parts)-i)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}
