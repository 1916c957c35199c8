package explain

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/isodiff/isodiff/budget"
	"io"
	"strconv"
	"strings"
)

// ar reads Unix ar archives (static libraries, .deb packages), with GNU
// ("//" table, "/N" references) and BSD ("#1/N") long names.

var arKind = &archiveKind{
	format: fmtAr,
	open: func(ex *explainer, n *node) (memberIter, error) {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(rc)
		var magic [8]byte
		if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != "!<arch>\n" {
			rc.Close()
			return nil, fmt.Errorf("not an ar archive")
		}
		return &arIter{ex: ex, rc: rc, br: br, off: 8, max: ex.o.MaxStreamBytes, hold: ex.newHold()}, nil
	},
	variant: func(ms []*member) string {
		if len(ms) > 0 && ms[0].name == "debian-binary" {
			return "deb"
		}
		for _, m := range ms {
			if strings.HasSuffix(m.name, ".o") {
				return "ar (static library)"
			}
		}
		return fmtAr
	},
	hint: func(variant, what string) string {
		static := variant == "ar (static library)"
		switch what {
		case "times":
			if static {
				return hintStaticTimes
			}
			return hintArTimes
		case "users":
			return hintArUsers
		}
		if static {
			return hintStaticOrder
		}
		return hintArOrder
	},
}

type arIter struct {
	ex    *explainer
	hold  budget.Hold // the long-name table
	rc    io.ReadCloser
	br    *bufio.Reader
	off   int64
	skip  int64
	max   int64
	names []byte // the GNU long-name table
}

func (a *arIter) Close() error {
	a.hold.Release()
	return a.rc.Close()
}

// arMaxName is the longest name read from the GNU long-name table.
const arMaxName = 4096

func (a *arIter) discard(n int64) error {
	k, err := skipBuffered(a.br, n)
	a.off += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (a *arIter) Next() (*member, io.Reader, error) {
	for {
		if a.skip > 0 {
			if err := a.discard(a.skip); err != nil {
				return nil, nil, err
			}
			a.skip = 0
		}
		if a.off%2 == 1 {
			// Members are 2-aligned; a final pad byte may be missing.
			if _, err := a.br.Peek(1); err == io.EOF {
				return nil, nil, io.EOF
			}
			if err := a.discard(1); err != nil {
				return nil, nil, err
			}
		}
		if err := a.ex.stop(); err != nil {
			return nil, nil, err
		}
		hdrOff := a.off
		var h [60]byte
		k, err := io.ReadFull(a.br, h[:])
		a.off += int64(k)
		if err == io.EOF {
			return nil, nil, io.EOF
		}
		if err != nil {
			return nil, nil, err
		}
		if h[58] != '`' || h[59] != '\n' {
			return nil, nil, fmt.Errorf("offset %d: bad ar member header", a.off-60)
		}
		field := func(lo, hi int) string { return strings.TrimRight(string(h[lo:hi]), " ") }
		size, err := strconv.ParseInt(field(48, 58), 10, 64)
		if err != nil || size < 0 || size > a.max {
			return nil, nil, fmt.Errorf("offset %d: bad ar member size %q", a.off-60, field(48, 58))
		}
		name := field(0, 16)
		a.skip = size
		switch {
		case name == "//": // GNU long-name table
			if size > 1<<24 {
				return nil, nil, fmt.Errorf("offset %d: long-name table of %d bytes", a.off-60, size)
			}
			a.hold.Release()
			a.names = nil
			if err := a.ex.grow(&a.hold, size, "ar long-name table", hdrOff); err != nil {
				return nil, nil, err
			}
			a.names = make([]byte, size)
			if _, err := io.ReadFull(a.br, a.names); err != nil {
				return nil, nil, err
			}
			a.off += size
			a.skip = 0
			continue
		case strings.HasPrefix(name, "#1/"): // BSD: the name precedes the data
			n, err := strconv.Atoi(name[3:])
			if err != nil || n < 0 || int64(n) > size || n > 4096 {
				return nil, nil, fmt.Errorf("offset %d: bad BSD name length %q", a.off-60, name)
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(a.br, b); err != nil {
				return nil, nil, err
			}
			a.off += int64(n)
			size -= int64(n)
			a.skip = size
			name = bounded(strings.TrimRight(string(b), "\x00"))
		case name == "/" || name == "/SYM64/":
			name = "(symbol table)"
		case len(name) > 1 && name[0] == '/' && name[1] >= '0' && name[1] <= '9':
			i, err := strconv.Atoi(name[1:])
			if err != nil || i < 0 || i >= len(a.names) {
				return nil, nil, fmt.Errorf("offset %d: bad long-name reference %q", a.off-60, name)
			}
			rest := a.names[i:min(i+arMaxName, len(a.names))]
			if end := bytes.Index(rest, []byte("/\n")); end >= 0 {
				rest = rest[:end]
			}
			name = boundedText(rest)
		default:
			name = strings.TrimSuffix(name, "/")
		}
		m := &member{name: name, size: size, off: hdrOff}
		m.add("mtime", arTime(field(16, 28)))
		m.add("uid", field(28, 34))
		m.add("gid", field(34, 40))
		m.add("mode", field(40, 48))
		return m, &arBody{a: a, n: size}, nil
	}
}

func arTime(s string) string {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return fmtUnix(v)
	}
	return s
}

type arBody struct {
	a *arIter
	n int64
}

func (b *arBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.a.br.Read(p)
	b.n -= int64(k)
	b.a.off += int64(k)
	b.a.skip -= int64(k)
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}
