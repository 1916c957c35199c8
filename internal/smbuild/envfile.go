package smbuild

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Entry is one assignment read from a KEY=VALUE file.
type Entry struct {
	Key   string
	Value string
	File  string // as shown in messages, e.g. "config/build.conf"
	Line  int    // 1-based
}

// Where is "file:line".
func (e Entry) Where() string { return fmt.Sprintf("%s:%d", e.File, e.Line) }

// LineError is a problem with one line of a file.
type LineError struct {
	File string
	Line int // 0 when the problem is with the file as a whole
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseEnvFile parses the KEY=VALUE format that smbuild reads (config/*.conf,
// config/snapshot-pin.env, config/source-date-epoch.env) and writes
// (BUILD_INFO). The format is a strict subset of POSIX shell assignments, so
// every file it accepts means the same thing when sourced by sh:
//
//   - The file is UTF-8 text without NUL bytes; lines end with LF (a CR
//     before the LF is an error, so are other control characters except tab
//     in blanks and comments).
//   - A line that is empty, holds only blanks (spaces, tabs), or whose first
//     non-blank character is # is ignored.
//   - Any other line is NAME=VALUE starting in the first column: NAME matches
//     [A-Za-z_][A-Za-z0-9_]*, no blanks around =, no "export".
//   - VALUE is empty, or one of:
//     unquoted: one or more of A-Z a-z 0-9 and _ @ % + = : , . / -
//     single-quoted: '...' holding anything but ' and control characters,
//     taken literally;
//     double-quoted: "..." holding anything but " \ $ ` and control
//     characters, taken literally.
//   - After VALUE, only blanks may follow, optionally then a comment that
//     starts with #.
//   - A NAME may appear once per file.
//
// name is the file's name as shown in messages. All problems are returned,
// each a *LineError, joined.
func ParseEnvFile(name string, data []byte) ([]Entry, error) {
	var errs multiError
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &LineError{File: name, Msg: "contains a NUL byte; not a text file"}
	}
	if !utf8.Valid(data) {
		return nil, &LineError{File: name, Msg: "is not valid UTF-8"}
	}
	seen := map[string]int{}
	var entries []Entry
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		n := i + 1
		e, ok, msg := parseLine(line)
		if msg != "" {
			errs = append(errs, &LineError{File: name, Line: n, Msg: msg})
			continue
		}
		if !ok {
			continue
		}
		if first, dup := seen[e.Key]; dup {
			errs = append(errs, &LineError{File: name, Line: n, Msg: fmt.Sprintf("%s is set again (first set on line %d)", e.Key, first)})
			continue
		}
		seen[e.Key] = n
		e.File, e.Line = name, n
		entries = append(entries, e)
	}
	return entries, errs.err()
}

// parseLine returns the entry on the line, ok=false for a blank or comment
// line, or a message describing what is wrong.
func parseLine(line string) (e Entry, ok bool, msg string) {
	if strings.HasSuffix(line, "\r") {
		return e, false, "line ends with CR (CRLF line endings); use LF only"
	}
	for _, r := range line {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return e, false, fmt.Sprintf("control character %U", r)
		}
	}
	trimmed := strings.TrimLeft(line, " \t")
	if trimmed == "" || trimmed[0] == '#' {
		return e, false, ""
	}
	if trimmed != line {
		return e, false, "assignment does not start in the first column"
	}
	eq := strings.IndexByte(line, '=')
	if eq < 0 {
		return e, false, fmt.Sprintf("expected NAME=VALUE, got %q", shorten(line))
	}
	key := line[:eq]
	if strings.HasPrefix(key, "export ") {
		return e, false, "\"export\" is not supported; write NAME=VALUE"
	}
	if !validName(key) {
		return e, false, fmt.Sprintf("bad name %q: names match [A-Za-z_][A-Za-z0-9_]* and have no blanks around =", key)
	}
	rest := line[eq+1:]
	var value string
	switch {
	case rest == "" || rest[0] == ' ' || rest[0] == '\t':
		value = ""
	case rest[0] == '\'':
		end := strings.IndexByte(rest[1:], '\'')
		if end < 0 {
			return e, false, fmt.Sprintf("%s: single quote is not closed", key)
		}
		value, rest = rest[1:1+end], rest[2+end:]
		if strings.ContainsRune(value, '\t') {
			return e, false, fmt.Sprintf("%s: tab inside quotes; not allowed", key)
		}
	case rest[0] == '"':
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return e, false, fmt.Sprintf("%s: double quote is not closed", key)
		}
		value, rest = rest[1:1+end], rest[2+end:]
		if i := strings.IndexAny(value, "\\$`\t"); i >= 0 {
			return e, false, fmt.Sprintf("%s: %q inside double quotes would be interpreted by a shell; use single quotes", key, value[i])
		}
	default:
		i := 0
		for i < len(rest) && unquotedOK(rest[i]) {
			i++
		}
		value, rest = rest[:i], rest[i:]
		if i == 0 || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return e, false, fmt.Sprintf("%s: unexpected %q in value; quote values that hold characters other than A-Z a-z 0-9 _ @ %% + = : , . / -", key, firstRune(rest))
		}
	}
	after := strings.TrimLeft(rest, " \t")
	if after != "" && (after[0] != '#' || after == rest) {
		return e, false, fmt.Sprintf("%s: unexpected text %q after the value; quote values with blanks", key, shorten(after))
	}
	return Entry{Key: key, Value: value}, true, ""
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func unquotedOK(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_@%+=:,./-", c) >= 0
}

func firstRune(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return string(r)
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// quoteValue renders v for a KEY=VALUE file so that ParseEnvFile reads it
// back unchanged; it reports false when v cannot be written (a single quote
// together with one of " \ $ `, or a control character).
func quoteValue(v string) (string, bool) {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	plain := v != ""
	for i := 0; i < len(v); i++ {
		if !unquotedOK(v[i]) {
			plain = false
			break
		}
	}
	switch {
	case plain || v == "":
		return v, true
	case !strings.Contains(v, "'"):
		return "'" + v + "'", true
	case !strings.ContainsAny(v, "\"\\$`"):
		return "\"" + v + "\"", true
	}
	return "", false
}

type multiError []error

func (m multiError) err() error {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (m multiError) Error() string {
	s := make([]string, len(m))
	for i, e := range m {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (m multiError) Unwrap() []error { return m }
