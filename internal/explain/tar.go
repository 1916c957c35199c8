package explain

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// tar reads ustar, GNU and PAX archives with its own streaming reader:
// archive/tar reads each PAX header and GNU long name (up to 1 MiB each)
// whole into memory, which a crafted archive repeats for every member.
// Here those records are parsed as they stream by, and a listing keeps of
// each value at most an excerpt, its length and digest (bounded), and at
// most tarMaxPAXKept records per member (the rest are summed into one
// digest field).

const tarMaxPAXKept = 64

var tarKind = &archiveKind{
	format: fmtTar,
	open: func(ex *explainer, n *node) (memberIter, error) {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, err
		}
		return &tarIter{ex: ex, rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}, nil
	},
	hint: func(_, what string) string {
		switch what {
		case "times":
			return hintTarTimes
		case "users":
			return hintTarUsers
		}
		return hintTarOrder
	},
}

type tarIter struct {
	ex   *explainer
	rc   io.ReadCloser
	br   *bufio.Reader
	off  int64 // offset in the archive
	skip int64 // data and padding of the previous member still to skip
}

func (t *tarIter) Close() error { return t.rc.Close() }

func (t *tarIter) discard(n int64) error {
	k, err := skipBuffered(t.br, n)
	t.off += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// tarPad is the padding after n bytes of member data.
func tarPad(n int64) int64 { return (512 - n%512) % 512 }

// paxRecord is one PAX record, its value bounded.
type paxRecord struct{ key, value string }

// tarExtended is what the extended headers before a member said.
type tarExtended struct {
	pax      []paxRecord // kept, in order
	more     int         // records past tarMaxPAXKept
	moreSum  hash.Hash   // and their digest
	longName *string
	longLink *string
}

func (e *tarExtended) add(r paxRecord) {
	if len(e.pax) < tarMaxPAXKept {
		e.pax = append(e.pax, r)
		return
	}
	if e.moreSum == nil {
		e.moreSum = sha256.New()
	}
	e.more++
	fmt.Fprintf(e.moreSum, "%d:%s%d:%s", len(r.key), r.key, len(r.value), r.value)
}

func (e *tarExtended) get(key string) (string, bool) {
	for i := len(e.pax) - 1; i >= 0; i-- {
		if e.pax[i].key == key {
			return e.pax[i].value, true
		}
	}
	return "", false
}

var errTarHeader = errors.New("bad tar header")

func (t *tarIter) Next() (*member, io.Reader, error) {
	if t.skip > 0 {
		if err := t.discard(t.skip); err != nil {
			return nil, nil, err
		}
		t.skip = 0
	}
	var ext tarExtended
	for {
		if err := t.ex.stop(); err != nil {
			return nil, nil, err
		}
		hdrOff := t.off
		var blk [512]byte
		k, err := io.ReadFull(t.br, blk[:])
		t.off += int64(k)
		if err == io.EOF {
			return nil, nil, io.EOF // no end-of-archive blocks: accepted, as tar does
		}
		if err != nil {
			return nil, nil, err
		}
		if blk == [512]byte{} {
			return nil, nil, io.EOF
		}
		if err := tarChecksum(&blk); err != nil {
			return nil, nil, fmt.Errorf("offset %d: %w", hdrOff, err)
		}
		size, err := tarNumber(blk[124:136])
		if err != nil || size < 0 {
			return nil, nil, fmt.Errorf("offset %d: %w: size %q", hdrOff, errTarHeader, blk[124:136])
		}
		typ := blk[156]
		switch typ {
		case 'x':
			if err := t.readPAX(size, hdrOff, &ext); err != nil {
				return nil, nil, err
			}
			continue
		case 'L', 'K':
			var v valueSink
			if err := t.copyData(&cstringSink{v: &v}, size); err != nil {
				return nil, nil, fmt.Errorf("offset %d: GNU long name: %w", hdrOff, err)
			}
			s := v.String()
			if typ == 'L' {
				ext.longName = &s
			} else {
				ext.longLink = &s
			}
			continue
		}
		m, err := t.member(&blk, typ, size, hdrOff, &ext)
		if err != nil {
			return nil, nil, err
		}
		if typ == 'g' {
			// A global PAX header: listed as a member of its own, as
			// archive/tar does, its records as fields.
			var g tarExtended
			if err := t.readPAX(size, hdrOff, &g); err != nil {
				return nil, nil, err
			}
			addPAXFields(m, &g, false)
			return m, nil, nil
		}
		switch typ {
		case '1', '2', '3', '4', '5', '6':
			size = 0 // header-only types: a size field is ignored, as tar does
			m.size = 0
		}
		if typ == 'S' {
			if err := t.skipSparseExtensions(&blk, m); err != nil {
				return nil, nil, fmt.Errorf("offset %d: GNU sparse map: %w", hdrOff, err)
			}
		}
		t.skip = size + tarPad(size)
		if typ == '0' || typ == 0 || typ == '7' || typ == 'S' {
			return m, &tarBody{t: t, n: size}, nil
		}
		return m, nil, nil
	}
}

// member builds the member of a header and the extended headers before it.
// Its texts are bounded already: header fields are short, and extended
// header values were kept as bounded does.
func (t *tarIter) member(blk *[512]byte, typ byte, size, off int64, ext *tarExtended) (*member, error) {
	str := func(lo, hi int) string {
		b := blk[lo:hi]
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	num := func(name string, lo, hi int) (int64, error) {
		v, err := tarNumber(blk[lo:hi])
		if err != nil {
			return 0, fmt.Errorf("offset %d: %w: %s %q", off, errTarHeader, name, blk[lo:hi])
		}
		return v, nil
	}
	magic := string(blk[257:265])
	format := "V7"
	switch {
	case magic == "ustar  \x00":
		format = "GNU"
	case magic[:6] == "ustar\x00":
		format = "USTAR"
	}
	name := str(0, 100)
	if format == "USTAR" {
		if p := str(345, 500); p != "" {
			name = p + "/" + name
		}
	}
	link := str(157, 257)
	if ext.longName != nil {
		name = *ext.longName
	}
	if ext.longLink != nil {
		link = *ext.longLink
	}
	mode, err := num("mode", 100, 108)
	if err != nil {
		return nil, err
	}
	uid, err := num("uid", 108, 116)
	if err != nil {
		return nil, err
	}
	gid, err := num("gid", 116, 124)
	if err != nil {
		return nil, err
	}
	mtime, err := num("mtime", 136, 148)
	if err != nil {
		return nil, err
	}
	uname, gname := str(265, 297), str(297, 329)
	suid, sgid := fmt.Sprint(uid), fmt.Sprint(gid)
	smtime := fmtTime(time.Unix(mtime, 0))
	var satime, sctime string
	if format == "GNU" {
		if v, err := tarNumber(blk[345:357]); err == nil && v != 0 {
			satime = fmtTime(time.Unix(v, 0))
		}
		if v, err := tarNumber(blk[357:369]); err == nil && v != 0 {
			sctime = fmtTime(time.Unix(v, 0))
		}
	}
	if len(ext.pax) > 0 || ext.more > 0 {
		format = "PAX"
	}
	for _, r := range ext.pax {
		switch r.key {
		case "path":
			name = r.value
		case "linkpath":
			link = r.value
		case "uname":
			uname = r.value
		case "gname":
			gname = r.value
		case "uid":
			suid = r.value
		case "gid":
			sgid = r.value
		case "mtime":
			smtime = paxTime(r.value)
		case "atime":
			satime = paxTime(r.value)
		case "ctime":
			sctime = paxTime(r.value)
		case "size":
			v, err := strconv.ParseInt(r.value, 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("offset %d: bad PAX size %q", off, excerpt(r.value, 40))
			}
			size = v
		}
	}
	m := &member{name: name, size: size, off: off}
	m.add("type", tarType(typ))
	m.add("mode", fmt.Sprintf("%04o", mode&0o7777))
	m.add("uid", suid)
	m.add("gid", sgid)
	m.add("uname", uname)
	m.add("gname", gname)
	m.add("mtime", smtime)
	if satime != "" {
		m.add("atime", satime)
	}
	if sctime != "" {
		m.add("ctime", sctime)
	}
	if link != "" {
		m.add("linkname", link)
	}
	if typ == '3' || typ == '4' {
		maj, _ := tarNumber(blk[329:337])
		min, _ := tarNumber(blk[337:345])
		m.add("device", fmt.Sprintf("%d,%d", maj, min))
	}
	m.add("format", format)
	addPAXFields(m, ext, true)
	return m, nil
}

// addPAXFields adds the PAX records not already fields, sorted by key.
func addPAXFields(m *member, ext *tarExtended, skipKnown bool) {
	recs := append([]paxRecord(nil), ext.pax...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].key < recs[j].key })
	for i, r := range recs {
		if skipKnown {
			switch r.key {
			case "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime":
				continue // already fields
			}
		}
		if i+1 < len(recs) && recs[i+1].key == r.key {
			continue // a later record of one key wins
		}
		m.add("pax "+r.key, r.value)
	}
	if ext.more > 0 {
		m.add("pax records past the first "+strconv.Itoa(tarMaxPAXKept), fmt.Sprintf("%d, sha256 %s", ext.more, hex.EncodeToString(ext.moreSum.Sum(nil)[:8])))
	}
}

// copyData streams size bytes of member data and its padding into w.
func (t *tarIter) copyData(w io.Writer, size int64) error {
	k, err := io.Copy(w, &tarBody{t: t, n: size})
	if err != nil {
		return err
	}
	if k < size {
		return io.ErrUnexpectedEOF
	}
	return t.discard(tarPad(size))
}

// readPAX parses the PAX records of an extended header of size bytes as
// they stream by ("%d %s=%s\n", the length counting the whole record).
func (t *tarIter) readPAX(size, hdrOff int64, ext *tarExtended) error {
	body := bufio.NewReaderSize(&tarBody{t: t, n: size}, 4096)
	left := size
	for left > 0 {
		if err := t.ex.stop(); err != nil {
			return err
		}
		recOff := t.off - int64(body.Buffered())
		bad := func(why string) error {
			return fmt.Errorf("offset %d: bad PAX record at byte %d of the header at %d: %s", recOff, size-left, hdrOff, why)
		}
		// The length, in decimal, then a space.
		var length int64
		digits := 0
		for {
			c, err := body.ReadByte()
			if err != nil {
				return bad("cut short")
			}
			if c == ' ' && digits > 0 {
				break
			}
			if c < '0' || c > '9' || digits >= 18 {
				if c == 0 && digits == 0 {
					// NUL padding after the last record: ignored.
					_, err := io.Copy(io.Discard, body)
					if err != nil {
						return err
					}
					return t.discard(tarPad(size))
				}
				return bad("length not a number")
			}
			length = length*10 + int64(c-'0')
			digits++
		}
		rest := length - int64(digits) - 1
		if length > left || rest < 3 {
			return bad(fmt.Sprintf("length %d", length))
		}
		// The key, up to '='.
		var key valueSink
		for {
			c, err := body.ReadByte()
			if err != nil {
				return bad("cut short")
			}
			rest--
			if c == '=' {
				break
			}
			if rest <= 1 {
				return bad("no '='")
			}
			key.Write([]byte{c})
		}
		var value valueSink
		if _, err := io.CopyN(&value, body, rest-1); err != nil {
			return bad("cut short")
		}
		if c, err := body.ReadByte(); err != nil || c != '\n' {
			return bad("no newline at its end")
		}
		ext.add(paxRecord{key.String(), value.String()})
		left -= length
	}
	return t.discard(tarPad(size))
}

// skipSparseExtensions reads the extension blocks of an old GNU sparse
// header, adding the sparse map's digest and the real size as fields.
func (t *tarIter) skipSparseExtensions(blk *[512]byte, m *member) error {
	h := sha256.New()
	h.Write(blk[386:482])
	more := blk[482] != 0
	for more {
		if err := t.ex.stop(); err != nil {
			return err
		}
		var b [512]byte
		k, err := io.ReadFull(t.br, b[:])
		t.off += int64(k)
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		h.Write(b[:504])
		more = b[504] != 0
	}
	real, _ := tarNumber(blk[483:495])
	m.add("sparse map", hex.EncodeToString(h.Sum(nil)[:8]))
	m.add("real size", fmt.Sprint(real))
	return nil
}

// tarBody reads n bytes of member data, keeping the iterator's offset.
type tarBody struct {
	t *tarIter
	n int64
}

func (b *tarBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.t.br.Read(p)
	b.n -= int64(k)
	b.t.off += int64(k)
	b.t.skip -= int64(k)
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// tarChecksum checks a header block's checksum (unsigned or signed sum,
// the checksum field counted as spaces).
func tarChecksum(blk *[512]byte) error {
	want, err := tarNumber(blk[148:156])
	if err != nil {
		return fmt.Errorf("%w: checksum %q", errTarHeader, blk[148:156])
	}
	var u, s int64
	for i, c := range blk {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int64(c)
		s += int64(int8(c))
	}
	if want != u && want != s {
		return fmt.Errorf("%w: checksum %d, computed %d", errTarHeader, want, u)
	}
	return nil
}

// tarNumber parses a numeric header field: octal (space or NUL padded),
// or base-256 when its first byte has the high bit set.
func tarNumber(b []byte) (int64, error) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		if b[0] != 0x80 && b[0] != 0xff {
			return 0, errTarHeader
		}
		neg := b[0] == 0xff
		var v uint64
		for i, c := range b {
			if i == 0 {
				c &= 0x7f
				if neg {
					c |= 0x80
				}
			}
			if neg {
				c ^= 0xff
			}
			if v>>56 != 0 {
				return 0, errTarHeader
			}
			v = v<<8 | uint64(c)
		}
		if v>>63 != 0 {
			return 0, errTarHeader
		}
		if neg {
			return -int64(v) - 1, nil
		}
		return int64(v), nil
	}
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 8, 64)
	if err != nil {
		return 0, errTarHeader
	}
	return v, nil
}

// paxTime renders a PAX time ("seconds[.fraction]") as fmtTime does.
func paxTime(s string) string {
	sec, frac, _ := strings.Cut(s, ".")
	v, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || len(frac) > 9 && strings.Trim(frac[9:], "0123456789") != "" {
		return s
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return s
	}
	if strings.HasPrefix(sec, "-") && ns != 0 {
		v--
		ns = 1e9 - ns
	}
	return fmtTime(time.Unix(v, ns))
}

func tarType(f byte) string {
	switch f {
	case '0', 0, '7':
		return "file"
	case '5':
		return "dir"
	case '2':
		return "symlink"
	case '1':
		return "hardlink"
	case '3':
		return "char"
	case '4':
		return "block"
	case '6':
		return "fifo"
	case 'S':
		return "sparse file"
	case 'g':
		return "pax global header"
	}
	return strings.TrimSpace(fmt.Sprintf("type %q", f))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if t.Nanosecond() != 0 {
		return t.UTC().Format("2006-01-02T15:04:05.999999999Z")
	}
	return t.UTC().Format(time.RFC3339)
}
