package explain

import (
	"archive/zip"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/isodiff/isodiff/budget"
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
		// archive/zip holds every central directory entry (names, extra
		// fields, comments) at once: charge it before it is read.
		hold := ex.newHold()
		cdOff, err := zipDirectoryOffset(s)
		if err != nil {
			return nil, err
		}
		cdSize := s.size - cdOff
		if err := ex.grow(&hold, cdSize+cdSize/46*zipEntryOverhead, "zip central directory", cdOff); err != nil {
			return nil, err
		}
		zr, err := zip.NewReader(s, s.size)
		if err != nil {
			hold.Release()
			return nil, err
		}
		return &zipIter{ex: ex, zr: zr, hold: hold}, nil
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

// zipEntryOverhead is what archive/zip allocates per central directory
// entry (of 46 bytes at least) besides its texts.
const zipEntryOverhead = 320

// zipDirectoryOffset finds where the central directory starts, from the
// end of central directory record (zip64 too), without holding it.
func zipDirectoryOffset(s *spoolFile) (int64, error) {
	tail := min(s.size, 22+65535)
	buf := make([]byte, tail)
	if _, err := s.ReadAt(buf, s.size-tail); err != nil && err != io.EOF {
		return 0, err
	}
	for i := len(buf) - 22; i >= 0; i-- {
		if string(buf[i:i+4]) != "PK\x05\x06" {
			continue
		}
		off := uint64(binary.LittleEndian.Uint32(buf[i+16:]))
		eocd := s.size - tail + int64(i)
		if off == 0xffffffff && eocd >= 20 {
			var loc [20]byte
			if _, err := s.ReadAt(loc[:], eocd-20); err == nil && string(loc[:4]) == "PK\x06\x07" {
				var end [56]byte
				at := int64(binary.LittleEndian.Uint64(loc[8:]))
				if at >= 0 && at < s.size {
					if _, err := s.ReadAt(end[:], at); err == nil && string(end[:4]) == "PK\x06\x06" {
						off = binary.LittleEndian.Uint64(end[48:])
					}
				}
			}
		}
		if off > uint64(eocd) {
			return 0, fmt.Errorf("zip: central directory offset %d past its end at %d", off, eocd)
		}
		return int64(off), nil
	}
	return 0, fmt.Errorf("zip: no end of central directory record")
}

type zipIter struct {
	ex   *explainer
	zr   *zip.Reader
	hold budget.Hold
	i    int
	open io.ReadCloser
}

func (z *zipIter) Close() error {
	z.closeMember()
	z.hold.Release()
	z.zr = nil
	return nil
}

func (z *zipIter) closeMember() {
	if z.open != nil {
		z.open.Close()
		z.open = nil
	}
}

func (z *zipIter) Next() (*member, io.Reader, error) {
	z.closeMember()
	if z.zr == nil || z.i >= len(z.zr.File) {
		return nil, nil, io.EOF
	}
	f := z.zr.File[z.i]
	z.i++
	if z.i%1024 == 0 {
		if err := z.ex.stop(); err != nil {
			return nil, nil, err
		}
	}
	m := &member{name: bounded(f.Name), size: int64(f.UncompressedSize64), off: -1}
	m.add("mtime", fmtTime(f.Modified))
	m.add("method", zipMethod(f.Method))
	m.add("mode", fmt.Sprintf("%04o", f.Mode().Perm()))
	m.add("flags", fmt.Sprintf("%#x", f.Flags))
	m.add("creator", fmt.Sprintf("%d.%d", f.CreatorVersion>>8, f.CreatorVersion&0xff))
	m.add("version needed", fmt.Sprint(f.ReaderVersion))
	if f.Comment != "" {
		m.add("comment", bounded(f.Comment))
	}
	for _, e := range zipExtras(f.Extra) {
		m.add(e.name, e.value)
	}
	if f.Mode().IsDir() {
		return m, nil, nil
	}
	if off, err := f.DataOffset(); err == nil {
		m.off = off
		// Entries pointing at one member's data are hashed once.
		m.dataKey = fmt.Sprintf("%d/%d/%d/%d/%08x", off, f.Method, f.CompressedSize64, f.UncompressedSize64, f.CRC32)
	}
	// The member is opened when first read: a listing does not read a
	// member whose data it hashed already.
	return m, z.ex.counted(&capReader{r: &zipBody{z: z, f: f}, max: z.ex.o.MaxStreamBytes, what: "zip member " + excerpt(f.Name, 64)}), nil
}

// zipBody opens a zip member on its first read.
type zipBody struct {
	z *zipIter
	f *zip.File
	r io.Reader
}

func (b *zipBody) Read(p []byte) (int, error) {
	if b.r == nil {
		rc, err := b.f.Open()
		if err != nil {
			return 0, err
		}
		b.z.open = rc
		b.r = rc
	}
	return b.r.Read(p)
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
// At most zipMaxExtras are kept; the rest are summed up in one field.
func zipExtras(b []byte) []mfield {
	var out []mfield
	for len(b) >= 4 {
		if len(out) >= zipMaxExtras {
			out = append(out, mfield{"extra fields past the first " + fmt.Sprint(zipMaxExtras), boundedBytes(b, hex.EncodeToString)})
			break
		}
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			out = append(out, mfield{"extra (truncated)", boundedBytes(b, hex.EncodeToString)})
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
			out = append(out, mfield{fmt.Sprintf("extra %#04x", id), boundedBytes(data, hex.EncodeToString)})
		}
	}
	return out
}

const zipMaxExtras = 32

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
