package pkgdb

import (
	"bytes"
	"io"
	"strings"
)

// maxField is the longest value kept of a field the index uses (Package,
// Version, Architecture, Status, Source, one Conffiles line).
const maxField = 4096

// statusWords are dpkg's package states and whether the package's files
// are on disk in that state. not-installed packages are skipped; a
// config-files package keeps only its conffiles.
var statusWords = map[string]bool{
	"not-installed":    false,
	"config-files":     false,
	"half-installed":   true,
	"unpacked":         true,
	"half-configured":  true,
	"triggers-awaited": true,
	"triggers-pending": true,
	"installed":        true,
}

// conffile is one line of a Conffiles field.
type conffile struct {
	path string
	md5  string // "" when not a checksum ("newconffile")
}

// stanza is what the index keeps of one status paragraph.
type stanza struct {
	pkg       Package
	conffiles []conffile
	line      int64 // of the first field
	off       int64
	charged   int64 // budget held for conffiles
	seen      map[string]bool
}

// parseStatus streams the status file, calling add for each package that
// is not "not-installed". Only the fields the index needs are held; other
// fields, including over-long ones, are skipped as they stream by.
func (d *DB) parseStatus(r io.Reader, file string) error {
	l := d.lines(r, file)
	var st *stanza
	field := "" // the field continuation lines belong to
	end := func() error {
		if st == nil {
			return nil
		}
		s := st
		st, field = nil, ""
		return d.addStanza(l, s)
	}
	for {
		line, long, err := l.read()
		if err == io.EOF {
			return end()
		}
		if err != nil {
			return err
		}
		if !long && len(bytes.TrimSpace(line)) == 0 {
			if err := end(); err != nil {
				return err
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if st == nil || field == "" {
				return l.errf(ErrMalformed, "continuation line outside a field")
			}
			if field != "conffiles" {
				continue // Description and other multi-line fields
			}
			if long {
				return l.errf(ErrTooLong, "Conffiles line longer than %d bytes", readBuf)
			}
			if err := d.addConffile(l, st, line); err != nil {
				return err
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
			return l.errf(ErrMalformed, "not a field (%q)", clip(line))
		}
		if st == nil {
			st = &stanza{line: l.line, off: l.off, seen: make(map[string]bool)}
		}
		name := strings.ToLower(string(line[:colon]))
		if st.seen[name] && wanted(name) {
			return l.errf(ErrMalformed, "duplicate field %s", line[:colon])
		}
		if wanted(name) {
			st.seen[name] = true
		}
		field = name
		if !wanted(name) {
			continue
		}
		if long || len(line)-colon-1 > maxField {
			return l.errf(ErrTooLong, "field %s longer than %d bytes", line[:colon], maxField)
		}
		v := string(bytes.TrimSpace(line[colon+1:]))
		switch name {
		case "package":
			st.pkg.Name = v
		case "architecture":
			st.pkg.Arch = v
		case "version":
			st.pkg.Version = v
		case "status":
			st.pkg.Status = v
		case "source":
			st.pkg.Source, st.pkg.SourceVersion = v, ""
			if i := strings.IndexByte(v, '('); i >= 0 {
				st.pkg.Source = strings.TrimSpace(v[:i])
				st.pkg.SourceVersion = strings.TrimSpace(strings.TrimSuffix(v[i+1:], ")"))
			}
		case "conffiles":
			if v != "" {
				return l.errf(ErrMalformed, "Conffiles value on the field line")
			}
		}
	}
}

func wanted(name string) bool {
	switch name {
	case "package", "architecture", "version", "status", "source", "conffiles":
		return true
	}
	return false
}

// addConffile parses " /path md5 [obsolete] [remove-on-upgrade]".
func (d *DB) addConffile(l *lineReader, st *stanza, line []byte) error {
	// From the end: optional flags, the checksum, then the path (which may
	// hold spaces), as dpkg reads it.
	const space = " \t"
	rest := strings.Trim(string(line), space)
	last := func() string {
		i := strings.LastIndexAny(rest, space)
		if i < 0 {
			return ""
		}
		tok := rest[i+1:]
		rest = strings.TrimRight(rest[:i], space)
		return tok
	}
	sum := last()
	for sum == "obsolete" || sum == "remove-on-upgrade" {
		sum = last()
	}
	p := rest
	if sum == "" || !strings.HasPrefix(p, "/") {
		return l.errf(ErrMalformed, "Conffiles line %q", clip(line))
	}
	if !isMD5(sum) {
		sum = "" // "newconffile": not configured yet
	}
	if len(st.conffiles) >= maxConffiles {
		return l.errf(ErrLimit, "more than %d conffiles in one package", maxConffiles)
	}
	cost := int64(len(p)+len(sum)) + conffileCost
	if err := d.charge(cost, "dpkg status conffiles", l.off); err != nil {
		return l.errAt(err)
	}
	st.charged += cost
	st.conffiles = append(st.conffiles, conffile{path: p, md5: sum})
	return nil
}

// addStanza checks a finished paragraph and records its package.
func (d *DB) addStanza(l *lineReader, st *stanza) error {
	bad := func(format string, args ...any) error {
		return &ParseError{File: l.file, Line: st.line, Off: st.off, Err: errorf(ErrMalformed, format, args...)}
	}
	p := st.pkg
	if p.Name == "" {
		return bad("paragraph without a Package field")
	}
	w := strings.Fields(p.Status)
	if len(w) != 3 {
		return bad("package %s: Status %q is not three words", p.Name, p.Status)
	}
	onDisk, ok := statusWords[w[2]]
	if !ok {
		return bad("package %s: unknown status %q", p.Name, w[2])
	}
	p.Status = w[2]
	if p.Status == "not-installed" {
		d.release(st.charged)
		return nil
	}
	if p.Source == "" {
		p.Source = p.Name
	}
	if p.SourceVersion == "" {
		p.SourceVersion = p.Version
	}
	key := p.Name + ":" + p.Arch
	if _, dup := d.byKey[key]; dup {
		return bad("package %s:%s listed twice", p.Name, p.Arch)
	}
	if len(d.pkgs) >= d.opt.MaxPackages {
		return &ParseError{File: l.file, Line: st.line, Off: st.off, Err: errorf(ErrLimit, "more than %d packages", d.opt.MaxPackages)}
	}
	if err := d.charge(int64(len(p.Name)+len(p.Arch)+len(p.Version)+len(p.Source)+len(p.SourceVersion))+packageCost, "dpkg status packages", st.off); err != nil {
		return &ParseError{File: l.file, Line: st.line, Off: st.off, Err: err}
	}
	d.byKey[key] = int32(len(d.pkgs))
	d.pkgs = append(d.pkgs, p)
	d.pending = append(d.pending, pendingPkg{onDisk: onDisk, conffiles: st.conffiles})
	return nil
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func isMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
