package explain

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
)

// zip reads zip and jar files through their central directory, from a
// spooled copy.

var zipKind = &archiveKind{
	format: fmtZip,
	open: func(ex *explainer, n *node) (memberIter, error) {
		s, err := ex.spool(n)
		if err != nil {
			return nil, err
		}
		zr, err := zip.NewReader(s, s.size)
		if err != nil {
			return nil, err
		}
		return &zipIter{ex: ex, zr: zr}, nil
	},
	variant: func(ms []*member) string {
		for _, m := range ms {
			if m.name == "META-INF/MANIFEST.MF" {
				return "jar"
			}
		}
		return fmtZip
	},
	hint: func(variant, what string) string {
		jar := variant == "jar"
		switch what {
		case "times":
			if jar {
				return hintJarTimes
			}
			return hintZipTimes
		case "users":
			return "" // zip has no owners in its common fields
		}
		if jar {
			return hintJarOrder
		}
		return hintZipOrder
	},
}

type zipIter struct {
	ex   *explainer
	zr   *zip.Reader
	i    int
	open io.ReadCloser
}

func (z *zipIter) Close() error {
	if z.open != nil {
		z.open.Close()
		z.open = nil
	}
	return nil
}

func (z *zipIter) Next() (*member, io.Reader, error) {
	z.Close()
	if z.i >= len(z.zr.File) {
		return nil, nil, io.EOF
	}
	f := z.zr.File[z.i]
	z.i++
	m := &member{name: f.Name, size: int64(f.UncompressedSize64)}
	m.add("mtime", fmtTime(f.Modified))
	m.add("method", zipMethod(f.Method))
	m.add("mode", fmt.Sprintf("%04o", f.Mode().Perm()))
	m.add("flags", fmt.Sprintf("%#x", f.Flags))
	m.add("creator", fmt.Sprintf("%d.%d", f.CreatorVersion>>8, f.CreatorVersion&0xff))
	m.add("version needed", fmt.Sprint(f.ReaderVersion))
	if f.Comment != "" {
		m.add("comment", f.Comment)
	}
	for _, e := range zipExtras(f.Extra) {
		m.add(e.name, e.value)
	}
	if f.Mode().IsDir() {
		return m, nil, nil
	}
	rc, err := f.Open()
	if err != nil {
		m.add("content", "unreadable: "+err.Error())
		return m, nil, nil
	}
	z.open = rc
	return m, &capReader{r: rc, max: z.ex.o.MaxStreamBytes, what: "zip member " + f.Name}, nil
}

func zipMethod(m uint16) string {
	switch m {
	case zip.Store:
		return "stored"
	case zip.Deflate:
		return "deflated"
	}
	return fmt.Sprint(m)
}

// zipExtras decodes the extra fields that hold times and owners; others
// are shown as hex by id.
func zipExtras(b []byte) []mfield {
	var out []mfield
	for len(b) >= 4 {
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			out = append(out, mfield{"extra (truncated)", fmt.Sprintf("%x", b)})
			break
		}
		data := b[4 : 4+n]
		b = b[4+n:]
		switch id {
		case 0x5455: // extended timestamp
			if len(data) < 1 {
				continue
			}
			flags, rest := data[0], data[1:]
			for i, name := range []string{"mtime (extended)", "atime", "ctime"} {
				if flags&(1<<i) != 0 && len(rest) >= 4 {
					out = append(out, mfield{name, fmtUnix(int64(int32(binary.LittleEndian.Uint32(rest))))})
					rest = rest[4:]
				}
			}
		case 0x7875: // Unix uid/gid
			if len(data) >= 3 {
				usz := int(data[1])
				if 2+usz < len(data) {
					out = append(out, mfield{"uid", fmt.Sprint(leUint(data[2 : 2+usz]))})
					gsz := int(data[2+usz])
					if 3+usz+gsz <= len(data) {
						out = append(out, mfield{"gid", fmt.Sprint(leUint(data[3+usz : 3+usz+gsz]))})
					}
				}
			}
		case 0x0001: // zip64 sizes: follow from the content
		case 0xcafe: // jar marker
			out = append(out, mfield{"jar marker", "yes"})
		default:
			out = append(out, mfield{fmt.Sprintf("extra %#04x", id), fmt.Sprintf("%x", data)})
		}
	}
	return out
}

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
