package explain

import (
	"archive/tar"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

var tarKind = &archiveKind{
	format: fmtTar,
	open: func(ex *explainer, n *node) (memberIter, error) {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, err
		}
		return &tarIter{rc: rc, tr: tar.NewReader(rc)}, nil
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
	rc io.ReadCloser
	tr *tar.Reader
}

func (t *tarIter) Close() error { return t.rc.Close() }

func (t *tarIter) Next() (*member, io.Reader, error) {
	h, err := t.tr.Next()
	if err != nil {
		return nil, nil, err
	}
	m := &member{name: h.Name, size: h.Size}
	m.add("type", tarType(h.Typeflag))
	m.add("mode", fmt.Sprintf("%04o", h.Mode&0o7777))
	m.add("uid", fmt.Sprint(h.Uid))
	m.add("gid", fmt.Sprint(h.Gid))
	m.add("uname", h.Uname)
	m.add("gname", h.Gname)
	m.add("mtime", fmtTime(h.ModTime))
	if !h.AccessTime.IsZero() {
		m.add("atime", fmtTime(h.AccessTime))
	}
	if !h.ChangeTime.IsZero() {
		m.add("ctime", fmtTime(h.ChangeTime))
	}
	if h.Linkname != "" {
		m.add("linkname", h.Linkname)
	}
	if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
		m.add("device", fmt.Sprintf("%d,%d", h.Devmajor, h.Devminor))
	}
	m.add("format", h.Format.String())
	var keys []string
	for k := range h.PAXRecords {
		switch k {
		case "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime":
			continue // already fields
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.add("pax "+k, h.PAXRecords[k])
	}
	var body io.Reader
	if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA || h.Typeflag == tar.TypeGNUSparse {
		body = t.tr
	}
	return m, body, nil
}

func tarType(f byte) string {
	switch f {
	case tar.TypeReg, tar.TypeRegA:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar:
		return "char"
	case tar.TypeBlock:
		return "block"
	case tar.TypeFifo:
		return "fifo"
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
