package explain

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// cpio reads newc ("070701"), crc ("070702") and portable odc ("070707")
// archives, and initramfs images made of several concatenated archives
// (segments): after each archive's TRAILER!!! and its zero padding comes
// either another archive or a compressed stream holding more (the Linux
// early-microcode layout: an uncompressed cpio, then a compressed one).

var cpioKind = &archiveKind{
	format: fmtCpio,
	open: func(ex *explainer, n *node) (memberIter, error) {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, err
		}
		it := &cpioIter{ex: ex, closers: []io.Closer{rc}, seg: 1, segName: "1"}
		it.br = bufio.NewReader(rc)
		return it, nil
	},
	hint: func(_, what string) string {
		switch what {
		case "times":
			return hintCpioTimes
		case "users":
			return hintCpioUsers
		}
		return hintCpioOrder
	},
}

const cpioMaxName = 4096

type cpioIter struct {
	ex      *explainer
	closers []io.Closer
	br      *bufio.Reader
	outer   []*bufio.Reader // the streams around a compressed segment
	off     int64           // offset in the current stream
	skip    int64           // bytes of the previous member still to skip
	seg     int
	segName string
	trailer bool // the current segment's archive has ended
}

func (c *cpioIter) Close() error {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i].Close()
	}
	return nil
}

func (c *cpioIter) discard(n int64) error {
	k, err := skipBuffered(c.br, n)
	c.off += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (c *cpioIter) readFull(b []byte) error {
	k, err := io.ReadFull(c.br, b)
	c.off += int64(k)
	if err == io.EOF && k == 0 {
		return io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// nextSegment moves past the zero padding after a trailer to the next
// archive, plain or compressed; io.EOF when the stream ends.
func (c *cpioIter) nextSegment() error {
	for {
		b, err := c.br.Peek(1)
		if err != nil && len(c.outer) > 0 {
			// The end of a compressed segment (or junk after it, which the
			// kernel ignores too): go on in the stream around it.
			c.br = c.outer[len(c.outer)-1]
			c.outer = c.outer[:len(c.outer)-1]
			continue
		}
		if err != nil {
			return err // io.EOF at the end
		}
		if b[0] != 0 {
			break
		}
		if _, err := c.br.ReadByte(); err != nil {
			return err
		}
		c.off++
	}
	h, _ := c.br.Peek(16)
	switch {
	case isCpio(h):
		c.seg++
		c.segName = strconv.Itoa(c.seg)
		// Realign: a new archive's padding counts from its own start.
		c.off = 0
	case compression(h) != "":
		format := compression(h)
		z, err := c.ex.newDecoder(format, c.br, true, fmt.Sprintf("%s segment %d", format, c.seg+1), c.off)
		if err != nil {
			return fmt.Errorf("segment %d (%s): %w", c.seg+1, format, err)
		}
		c.closers = append(c.closers, z)
		c.outer = append(c.outer, c.br)
		c.br = bufio.NewReader(c.ex.counted(&capReader{r: z, max: c.ex.o.MaxStreamBytes, what: "decompressed " + format + " segment"}))
		c.seg++
		c.segName = fmt.Sprintf("%d (%s)", c.seg, format)
		c.off = 0
	case len(c.outer) > 0:
		return io.EOF // junk after a compressed segment
	default:
		return fmt.Errorf("unrecognised data after segment %d at offset %d: % x", c.seg, c.off, h)
	}
	c.trailer = false
	return nil
}

func (c *cpioIter) Next() (*member, io.Reader, error) {
	if c.skip > 0 {
		if err := c.discard(c.skip); err != nil {
			return nil, nil, err
		}
		c.skip = 0
	}
	for {
		if c.trailer {
			if err := c.nextSegment(); err != nil {
				return nil, nil, err
			}
		}
		m, body, err := c.header()
		if err != nil {
			return nil, nil, err
		}
		if m == nil { // TRAILER!!!
			c.trailer = true
			continue
		}
		return m, body, nil
	}
}

func hexField(b []byte) (uint64, error) { return strconv.ParseUint(string(b), 16, 32) }
func octField(b []byte) (uint64, error) { return strconv.ParseUint(string(b), 8, 64) }

// header reads one member header and name; nil member for the trailer.
func (c *cpioIter) header() (*member, io.Reader, error) {
	hdrOff := c.off
	var magic [6]byte
	if err := c.readFull(magic[:]); err != nil {
		if err == io.EOF && c.seg > 0 {
			return nil, nil, io.ErrUnexpectedEOF // an archive without trailer
		}
		return nil, nil, err
	}
	var mode, uid, gid, nlink, mtime, size, nameSize, ino, devMaj, devMin, rdevMaj, rdevMin, check uint64
	newc := false
	switch string(magic[:]) {
	case "070701", "070702":
		newc = true
		var h [104]byte
		if err := c.readFull(h[:]); err != nil {
			return nil, nil, err
		}
		vals := make([]uint64, 13)
		for i := range vals {
			v, err := hexField(h[i*8 : i*8+8])
			if err != nil {
				return nil, nil, fmt.Errorf("segment %s offset %d: bad newc header field: %v", c.segName, c.off, err)
			}
			vals[i] = v
		}
		ino, mode, uid, gid, nlink, mtime, size = vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
		devMaj, devMin, rdevMaj, rdevMin, nameSize, check = vals[7], vals[8], vals[9], vals[10], vals[11], vals[12]
	case "070707":
		var h [70]byte
		if err := c.readFull(h[:]); err != nil {
			return nil, nil, err
		}
		widths := []int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11}
		vals := make([]uint64, len(widths))
		p := 0
		for i, w := range widths {
			v, err := octField(h[p : p+w])
			if err != nil {
				return nil, nil, fmt.Errorf("segment %s offset %d: bad odc header field: %v", c.segName, c.off, err)
			}
			vals[i] = v
			p += w
		}
		dev := vals[0]
		devMaj, devMin = dev>>8, dev&0xff
		ino, mode, uid, gid, nlink = vals[1], vals[2], vals[3], vals[4], vals[5]
		rdev := vals[6]
		rdevMaj, rdevMin = rdev>>8, rdev&0xff
		mtime, nameSize, size = vals[7], vals[8], vals[9]
	default:
		return nil, nil, fmt.Errorf("segment %s offset %d: not a cpio header: % x", c.segName, c.off-6, magic)
	}
	if nameSize == 0 || nameSize > cpioMaxName {
		return nil, nil, fmt.Errorf("segment %s offset %d: bad name size %d", c.segName, c.off, nameSize)
	}
	if size > uint64(c.ex.o.MaxStreamBytes) {
		return nil, nil, fmt.Errorf("segment %s offset %d: member size %d over the limit", c.segName, c.off, size)
	}
	name := make([]byte, nameSize)
	if err := c.readFull(name); err != nil {
		return nil, nil, err
	}
	if name[len(name)-1] == 0 {
		name = name[:len(name)-1]
	}
	if newc {
		if err := c.discard(pad4(c.off)); err != nil {
			return nil, nil, err
		}
	}
	dataPad := int64(0)
	if newc {
		dataPad = pad4(int64(size))
	}
	if string(name) == "TRAILER!!!" {
		if err := c.discard(int64(size) + dataPad); err != nil {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	m := &member{name: bounded(string(name)), size: int64(size), off: hdrOff}
	typ := mode & 0o170000
	m.fields = make([]mfield, 0, 10)
	m.add("type", cpioType(typ))
	m.add("mode", octal4(mode&0o7777))
	m.add("uid", strconv.FormatUint(uid, 10))
	m.add("gid", strconv.FormatUint(gid, 10))
	m.add("nlink", strconv.FormatUint(nlink, 10))
	m.add("mtime", fmtUnix(int64(mtime)))
	m.add("ino", strconv.FormatUint(ino, 10))
	m.add("dev", strconv.FormatUint(devMaj, 10)+","+strconv.FormatUint(devMin, 10))
	if typ == 0o020000 || typ == 0o060000 {
		m.add("rdev", strconv.FormatUint(rdevMaj, 10)+","+strconv.FormatUint(rdevMin, 10))
	}
	if string(magic[:]) == "070702" {
		m.add("check", fmt.Sprintf("%08x", check))
	}
	m.add("segment", c.segName)
	if typ == 0o120000 && size <= cpioMaxName {
		target := make([]byte, size)
		if err := c.readFull(target); err != nil {
			return nil, nil, err
		}
		m.add("linkname", bounded(string(target)))
		c.skip = dataPad
		return m, nil, nil
	}
	c.skip = int64(size) + dataPad
	if typ != 0o100000 {
		return m, nil, nil
	}
	body := &cpioBody{c: c, n: int64(size)}
	return m, body, nil
}

// cpioBody reads a member's data, keeping the iterator's offset right.
type cpioBody struct {
	c *cpioIter
	n int64
}

func (b *cpioBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.c.br.Read(p)
	b.n -= int64(k)
	b.c.off += int64(k)
	b.c.skip -= int64(k)
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// octal4 renders a mode as %04o does.
func octal4(v uint64) string {
	s := strconv.FormatUint(v, 8)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func cpioType(t uint64) string {
	switch t {
	case 0o100000:
		return "file"
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o020000:
		return "char"
	case 0o060000:
		return "block"
	case 0o010000:
		return "fifo"
	case 0o140000:
		return "socket"
	}
	return fmt.Sprintf("%#o", t)
}
