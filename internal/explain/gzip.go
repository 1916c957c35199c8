package explain

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// gzipHeader is a gzip member header (RFC 1952).
type gzipHeader struct {
	flags   byte
	mtime   uint32
	xfl     byte
	os      byte
	extra   []byte
	name    string
	comment string
	size    int64 // bytes the header takes
}

const gzipMaxField = 64 << 10 // longest name, comment or extra read

var errGzipHeader = errors.New("bad gzip header")

// readGzipHeader parses the header at the start of r.
func readGzipHeader(r io.Reader) (*gzipHeader, error) {
	br := bufio.NewReader(r)
	var fixed [10]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return nil, err
	}
	if fixed[0] != 0x1f || fixed[1] != 0x8b || fixed[2] != 8 {
		return nil, errGzipHeader
	}
	h := &gzipHeader{flags: fixed[3], mtime: binary.LittleEndian.Uint32(fixed[4:]), xfl: fixed[8], os: fixed[9], size: 10}
	if h.flags&0xe0 != 0 {
		return nil, fmt.Errorf("%w: reserved flags %#x", errGzipHeader, h.flags)
	}
	if h.flags&4 != 0 { // FEXTRA
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, err
		}
		n := int(binary.LittleEndian.Uint16(l[:]))
		h.extra = make([]byte, n)
		if _, err := io.ReadFull(br, h.extra); err != nil {
			return nil, err
		}
		h.size += 2 + int64(n)
	}
	cstring := func() (string, error) {
		var b []byte
		for {
			c, err := br.ReadByte()
			if err != nil {
				return "", err
			}
			h.size++
			if c == 0 {
				return string(b), nil
			}
			if len(b) >= gzipMaxField {
				return "", fmt.Errorf("%w: field longer than %d bytes", errGzipHeader, gzipMaxField)
			}
			b = append(b, c)
		}
	}
	var err error
	if h.flags&8 != 0 { // FNAME
		if h.name, err = cstring(); err != nil {
			return nil, err
		}
	}
	if h.flags&16 != 0 { // FCOMMENT
		if h.comment, err = cstring(); err != nil {
			return nil, err
		}
	}
	if h.flags&2 != 0 { // FHCRC
		h.size += 2
	}
	return h, nil
}

var gzipOS = map[byte]string{0: "FAT", 3: "Unix", 7: "Macintosh", 10: "TOPS-20", 11: "NTFS", 255: "unknown"}

func gzipOSName(b byte) string {
	if s, ok := gzipOS[b]; ok {
		return fmt.Sprintf("%d (%s)", b, s)
	}
	return fmt.Sprint(b)
}

func gzipTime(t uint32) string {
	if t == 0 {
		return "0 (none)"
	}
	return time.Unix(int64(t), 0).UTC().Format(time.RFC3339)
}

// gzip explains two gzip files: header fields, then the payload.
func (ex *explainer) gzip(a, b *node, ha, hb []byte, depth int) Result {
	var hdr [2]*gzipHeader
	for i, n := range []*node{a, b} {
		rc, err := ex.openNode(n)
		if err != nil {
			return failed(fmtGzip, err)
		}
		hdr[i], err = readGzipHeader(rc)
		rc.Close()
		if err != nil {
			return ex.fallback(fmtGzip, a, b, err)
		}
	}
	ga, gb := hdr[0], hdr[1]
	r := Result{Format: fmtGzip}
	var fields []string
	var d strings.Builder
	change := func(name, va, vb string) {
		fields = append(fields, name)
		fmt.Fprintf(&d, "header %s: %s -> %s\n", name, va, vb)
	}
	if ga.mtime != gb.mtime {
		change("mtime", gzipTime(ga.mtime), gzipTime(gb.mtime))
		r.hint(hintGzipTimestamp)
	}
	if ga.name != gb.name {
		change("name", fmt.Sprintf("%q", bounded(ga.name)), fmt.Sprintf("%q", bounded(gb.name)))
		if isBuildPath(ga.name) || isBuildPath(gb.name) {
			r.hint(hintBuildPath)
		} else if ga.mtime == gb.mtime {
			r.hint(hintGzipName)
		}
	}
	if ga.comment != gb.comment {
		change("comment", fmt.Sprintf("%q", bounded(ga.comment)), fmt.Sprintf("%q", bounded(gb.comment)))
		r.hint(classify(ga.comment, gb.comment, hintTextTimestamp)...)
	}
	if string(ga.extra) != string(gb.extra) {
		change("extra", boundedBytes(ga.extra, hex.EncodeToString), boundedBytes(gb.extra, hex.EncodeToString))
	}
	if ga.os != gb.os {
		change("os", gzipOSName(ga.os), gzipOSName(gb.os))
		r.hint(hintGzipOS)
	}
	if ga.xfl != gb.xfl {
		change("xfl", fmt.Sprint(ga.xfl), fmt.Sprint(gb.xfl))
		r.hint(hintCompression)
	}
	if ga.flags&2 != gb.flags&2 {
		change("fhcrc", fmt.Sprint(ga.flags&2 != 0), fmt.Sprint(gb.flags&2 != 0))
	}
	pa, pb := ex.decompressed(fmtGzip, a), ex.decompressed(fmtGzip, b)
	same, _, err := ex.sameStreams(pa, pb)
	if err != nil {
		if isLimit(err) {
			r.Summary = "gzip: payload not compared: " + err.Error()
			r.Details = d.String()
			return r
		}
		return ex.fallback(fmtGzip, a, b, err)
	}
	header := ""
	if len(fields) > 0 {
		header = "header " + strings.Join(fields, ", ") + " differ"
		if len(fields) == 1 {
			header = "header " + fields[0] + " differs"
		}
	}
	if same {
		r.Complete = true
		if header == "" {
			header = "header identical"
		}
		r.Summary = "gzip: " + header + ", payload identical"
		if deflateSame, err := ex.sameAfter(a, b, ga.size, gb.size); err == nil && !deflateSame {
			r.Summary += ", compressed differently"
			d.WriteString("the deflate streams differ (compression level or implementation)\n")
			r.hint(hintCompression)
		}
		r.Details = d.String()
		return r
	}
	c := ex.explain(pa, pb, depth+1)
	c.Name = "payload (gunzipped)"
	r.Summary = "gzip payload: " + c.Summary
	if header != "" {
		r.Summary += "; " + header
	}
	r.Details = d.String()
	r.Complete = c.Complete
	r.Children = []Result{c}
	return r
}

// sameAfter compares two nodes' bytes after skipping offA and offB bytes.
func (ex *explainer) sameAfter(a, b *node, offA, offB int64) (bool, error) {
	ra, err := ex.openNode(a)
	if err != nil {
		return false, err
	}
	defer ra.Close()
	rb, err := ex.openNode(b)
	if err != nil {
		return false, err
	}
	defer rb.Close()
	if _, err := io.CopyN(io.Discard, ra, offA); err != nil {
		return false, err
	}
	if _, err := io.CopyN(io.Discard, rb, offB); err != nil {
		return false, err
	}
	same, _, err := ex.sameReaders(ra, rb)
	return same, err
}
