package explain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/isodiff/isodiff/budget"
	"io"
	"strings"
	"unicode/utf16"
)

// A FAT12/16/32 image (an El Torito efi.img) read from a spooled copy: the
// boot sector's fields, then its directory tree as an archive listing.

const (
	fatMaxTable = 64 << 20 // largest FAT read into memory
	fatMaxDepth = 32
)

type fatFS struct {
	s           *spoolFile
	bps, spc    int64
	reserved    int64
	nfats       int64
	rootEntries int64
	fatSize     int64 // sectors
	total       int64 // sectors
	typ         int   // 12, 16, 32
	rootCluster uint32
	clusters    uint32
	fat         []byte
	dataStart   int64
	rootStart   int64
	fields      []mfield // boot sector fields
	dirSpans    [][2]int64
	// entries is the directory tree as walk found it (walked once per
	// image and kept with the node); walkErr is why the walk stopped.
	entries []fatEntry
	walked  bool
	walkErr error
	// dirUsed marks the clusters read as directories, so that a directory
	// linked twice, a loop or two chains sharing clusters are read once.
	dirUsed bitset
	ex      *explainer
	hold    budget.Hold // the FAT, the entries and the bitsets
}

// bitset is one bit per cluster.
type bitset []uint64

func (b bitset) set(i uint32) bool {
	w, m := i/64, uint64(1)<<(i%64)
	if int(w) >= len(b) {
		return false
	}
	was := b[w]&m != 0
	b[w] |= m
	return was
}

// newBitset charges and makes a bitset over the clusters.
func (f *fatFS) newBitset(h *budget.Hold, what string) (bitset, error) {
	words := (int64(f.clusters) + 2 + 63) / 64
	if err := f.ex.grow(h, words*8, what, -1); err != nil {
		return nil, err
	}
	return make(bitset, words), nil
}

// release gives back what the image's structures were charged.
func (f *fatFS) release() {
	if f != nil {
		f.hold.Release()
		f.fat, f.entries, f.dirUsed = nil, nil, nil
	}
}

func u16(b []byte, off int) int64 { return int64(binary.LittleEndian.Uint16(b[off:])) }
func u32(b []byte, off int) int64 { return int64(binary.LittleEndian.Uint32(b[off:])) }

var errFAT = errors.New("bad FAT image")

func openFAT(ex *explainer, s *spoolFile) (*fatFS, error) {
	var bs [512]byte
	if _, err := s.ReadAt(bs[:], 0); err != nil {
		return nil, err
	}
	f := &fatFS{ex: ex, hold: ex.newHold(), s: s, bps: u16(bs[:], 11), spc: int64(bs[13]), reserved: u16(bs[:], 14), nfats: int64(bs[16]),
		rootEntries: u16(bs[:], 17), total: u16(bs[:], 19), fatSize: u16(bs[:], 22)}
	if f.total == 0 {
		f.total = u32(bs[:], 32)
	}
	ext := 36 // the extended BPB of FAT12/16
	if f.fatSize == 0 {
		f.fatSize = u32(bs[:], 36)
		f.rootCluster = uint32(u32(bs[:], 44))
		ext = 64
	}
	if f.bps == 0 || f.spc == 0 || f.fatSize == 0 || f.nfats == 0 {
		return nil, fmt.Errorf("%w: zero geometry", errFAT)
	}
	rootSectors := (f.rootEntries*32 + f.bps - 1) / f.bps
	dataSector := f.reserved + f.nfats*f.fatSize + rootSectors
	if dataSector >= f.total || f.total*f.bps > s.size+f.bps {
		return nil, fmt.Errorf("%w: geometry beyond the image (%d sectors of %d bytes in %d bytes)", errFAT, f.total, f.bps, s.size)
	}
	count := (f.total - dataSector) / f.spc
	f.clusters = uint32(count)
	switch {
	case count < 4085:
		f.typ = 12
	case count < 65525:
		f.typ = 16
	default:
		f.typ = 32
	}
	f.dataStart = dataSector * f.bps
	f.rootStart = (f.reserved + f.nfats*f.fatSize) * f.bps
	fatBytes := f.fatSize * f.bps
	if fatBytes > fatMaxTable {
		return nil, fmt.Errorf("%w: FAT of %d bytes", errFAT, fatBytes)
	}
	if err := ex.grow(&f.hold, fatBytes, "FAT", f.reserved*f.bps); err != nil {
		return nil, err
	}
	f.fat = make([]byte, fatBytes)
	if _, err := s.ReadAt(f.fat, f.reserved*f.bps); err != nil {
		f.release()
		return nil, err
	}
	add := func(name, v string) { f.fields = append(f.fields, mfield{name, v}) }
	add("oem name", strings.TrimRight(string(bs[3:11]), " \x00"))
	add("bytes per sector", fmt.Sprint(f.bps))
	add("sectors per cluster", fmt.Sprint(f.spc))
	add("reserved sectors", fmt.Sprint(f.reserved))
	add("fats", fmt.Sprint(f.nfats))
	add("root entries", fmt.Sprint(f.rootEntries))
	add("total sectors", fmt.Sprint(f.total))
	add("media", fmt.Sprintf("%#x", bs[21]))
	add("sectors per fat", fmt.Sprint(f.fatSize))
	add("hidden sectors", fmt.Sprint(u32(bs[:], 28)))
	add("type", fmt.Sprintf("FAT%d", f.typ))
	if bs[ext+2] == 0x29 {
		add("volume serial", fmt.Sprintf("%04X-%04X", u16(bs[:], ext+5), u16(bs[:], ext+3)))
		add("volume label", strings.TrimRight(string(bs[ext+7:ext+18]), " "))
	}
	return f, nil
}

// next returns the cluster after c in its chain, and whether c ends it.
func (f *fatFS) next(c uint32) (uint32, bool) {
	var v uint32
	switch f.typ {
	case 12:
		off := int(c) + int(c)/2
		if off+1 >= len(f.fat) {
			return 0, true
		}
		v = uint32(binary.LittleEndian.Uint16(f.fat[off:]))
		if c&1 == 1 {
			v >>= 4
		} else {
			v &= 0xfff
		}
		return v, v >= 0xff8
	case 16:
		off := int(c) * 2
		if off+1 >= len(f.fat) {
			return 0, true
		}
		v = uint32(binary.LittleEndian.Uint16(f.fat[off:]))
		return v, v >= 0xfff8
	}
	off := int(c) * 4
	if off+3 >= len(f.fat) {
		return 0, true
	}
	v = binary.LittleEndian.Uint32(f.fat[off:]) & 0x0fffffff
	return v, v >= 0x0ffffff8
}

// validCluster reports whether c can hold data.
func (f *fatFS) validCluster(c uint32) bool { return c >= 2 && c < f.clusters+2 }

func (f *fatFS) clusterOff(c uint32) int64 { return f.dataStart + int64(c-2)*f.spc*f.bps }

// chainReader reads size bytes along a cluster chain, following the FAT
// as it goes (nothing held per cluster). used, when set, is shared by the
// files of one walk: a cluster read before (a loop, or a chain crossing
// another file's) ends the file with an error, so that one walk reads each
// cluster once at most.
type chainReader struct {
	f     *fatFS
	start uint32
	cur   uint32 // the cluster holding off
	off   int64  // position in the file
	size  int64
	csize int64
	used  bitset
	err   error
}

func (r *chainReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	within := r.off % r.csize
	if within == 0 {
		// Entering a new cluster: the first, or the next in the chain.
		c := r.start
		if r.off > 0 {
			n, end := r.f.next(r.cur)
			if end {
				r.err = fmt.Errorf("%w: cluster chain from %d ends after %d of %d bytes", errFAT, r.start, r.off, r.size)
				return 0, r.err
			}
			c = n
		}
		if !r.f.validCluster(c) {
			r.err = fmt.Errorf("%w: cluster %d out of range in the chain from %d", errFAT, c, r.start)
			return 0, r.err
		}
		if r.used != nil && r.used.set(c) {
			r.err = fmt.Errorf("%w: cluster chain from %d reaches cluster %d a second time (a loop, or crossing another file)", errFAT, r.start, c)
			return 0, r.err
		}
		r.cur = c
	}
	n := min(int64(len(p)), r.csize-within, r.size-r.off)
	k, err := r.f.s.ReadAt(p[:n], r.f.clusterOff(r.cur)+within)
	r.off += int64(k)
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return k, err
}

// fatEntry is a directory entry found by the walk.
type fatEntry struct {
	m       *member
	cluster uint32
	dir     bool
}

func fatDate(d, t int64, tenth int64) string {
	if d == 0 {
		return ""
	}
	s := fmt.Sprintf("%04d-%02d-%02d", 1980+(d>>9), (d>>5)&15, d&31)
	if t >= 0 {
		sec := (t & 31) * 2
		frac := ""
		if tenth > 0 {
			sec += tenth / 100
			if tenth%100 != 0 {
				frac = fmt.Sprintf(".%02d", tenth%100)
			}
		}
		s += fmt.Sprintf(" %02d:%02d:%02d%s", t>>11, (t>>5)&63, sec, frac)
	}
	return s
}

func fatAttr(a byte) string {
	var b strings.Builder
	for i, c := range "RHSVDA" {
		if a&(1<<i) != 0 {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// fatMaxLFN is the most long-name parts of one name (255 characters).
const fatMaxLFN = 20

// walk lists the directory tree in directory order, depth first, once:
// each directory cluster is read at most once (a directory linked twice,
// or chains that loop or share clusters, are noted and not followed), and
// each entry is charged to the budget.
func (f *fatFS) walk(max int) ([]fatEntry, error) {
	if f.walked {
		return f.entries, f.walkErr
	}
	f.walked = true
	f.entries, f.walkErr = f.walkOnce(max)
	return f.entries, f.walkErr
}

func (f *fatFS) walkOnce(max int) ([]fatEntry, error) {
	var err error
	if f.dirUsed, err = f.newBitset(&f.hold, "FAT directory cluster map"); err != nil {
		return nil, err
	}
	var out []fatEntry
	var visit func(data []byte, dataOff int64, prefix string, depth int) error
	visit = func(data []byte, dataOff int64, prefix string, depth int) error {
		var lfn [][]uint16 // the parts of a long name, in the order met (last part first)
		for i := 0; i+32 <= len(data); i += 32 {
			if i%(32<<10) == 0 {
				if err := f.ex.stop(); err != nil {
					return err
				}
			}
			e := data[i : i+32]
			if e[0] == 0 {
				break
			}
			if e[0] == 0xe5 {
				lfn = lfn[:0]
				continue
			}
			attr := e[11]
			if attr == 0x0f { // a long-name part, in reverse order
				if e[0]&0x40 != 0 {
					lfn = lfn[:0]
				}
				if len(lfn) >= fatMaxLFN {
					continue // a run longer than any name: the rest is ignored
				}
				var u []uint16
				for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
					for j := r[0]; j < r[1]; j += 2 {
						u = append(u, binary.LittleEndian.Uint16(e[j:]))
					}
				}
				for k, c := range u {
					if c == 0 {
						u = u[:k]
						break
					}
				}
				lfn = append(lfn, u)
				continue
			}
			short := strings.TrimRight(string(e[0:8]), " ")
			if ext := strings.TrimRight(string(e[8:11]), " "); ext != "" {
				short += "." + ext
			}
			if e[0] == 0x05 {
				short = "\xe5" + short[1:]
			}
			name := short
			if len(lfn) > 0 {
				var u []uint16
				for k := len(lfn) - 1; k >= 0; k-- {
					u = append(u, lfn[k]...)
				}
				name = string(utf16.Decode(u))
			}
			lfn = lfn[:0]
			if short == "." || short == ".." {
				continue
			}
			if len(out) >= max {
				return nil
			}
			m := &member{off: dataOff + int64(i)}
			cluster := uint32(u16(e, 26)) | uint32(u16(e, 20))<<16
			if attr&0x08 != 0 && attr&0x10 == 0 {
				m.name = "(volume label)"
				m.add("label", strings.TrimRight(string(e[0:11]), " "))
				m.add("mtime", fatDate(u16(e, 24), u16(e, 22), 0))
				if err := f.ex.grow(&f.hold, m.cost()+32, "FAT directory entries", m.off); err != nil {
					return err
				}
				out = append(out, fatEntry{m: m})
				continue
			}
			m.name = bounded(prefix + "/" + name)
			m.size = u32(e, 28)
			m.add("short name", short)
			m.add("attr", fatAttr(attr))
			m.add("mtime", fatDate(u16(e, 24), u16(e, 22), 0))
			m.add("ctime", fatDate(u16(e, 16), u16(e, 14), int64(e[13])))
			m.add("adate", fatDate(u16(e, 18), -1, 0))
			m.add("first cluster", fmt.Sprint(cluster))
			dir := attr&0x10 != 0
			if err := f.ex.grow(&f.hold, m.cost()+32, "FAT directory entries", m.off); err != nil {
				return err
			}
			out = append(out, fatEntry{m: m, cluster: cluster, dir: dir})
			if dir && depth < fatMaxDepth && cluster >= 2 {
				sub, subOff, hold, err := f.dirData(cluster)
				if errors.Is(err, errDirSeen) {
					m.add("directory", "not listed: "+err.Error())
					continue
				}
				if err != nil {
					return fmt.Errorf("%s: %w", m.name, err)
				}
				err = visit(sub, subOff, m.name, depth+1)
				hold.Release()
				if err != nil {
					return err
				}
			}
		}
		return nil
	}
	var root []byte
	var rootOff int64
	rootHold := f.ex.newHold()
	defer rootHold.Release()
	if f.typ == 32 {
		root, rootOff, rootHold, err = f.dirData(f.rootCluster)
	} else {
		rootOff = f.rootStart
		if err = f.ex.grow(&rootHold, f.rootEntries*32, "FAT root directory", f.rootStart); err == nil {
			root = make([]byte, f.rootEntries*32)
			_, err = f.s.ReadAt(root, f.rootStart)
			f.dirSpans = append(f.dirSpans, [2]int64{f.rootStart, f.rootStart + int64(len(root))})
		}
	}
	if err != nil {
		return nil, err
	}
	err = visit(root, rootOff, "", 0)
	return out, err
}

var errDirSeen = errors.New("its clusters were read already (a directory linked twice, or chains that loop or share clusters)")

// dirData reads a directory's clusters, noting where they lie, charged to
// the hold it returns (to release when the directory is listed).
func (f *fatFS) dirData(start uint32) ([]byte, int64, budget.Hold, error) {
	hold := f.ex.newHold()
	csize := f.spc * f.bps
	var buf []byte
	c := start
	for {
		if !f.validCluster(c) {
			hold.Release()
			return nil, 0, budget.Hold{}, fmt.Errorf("%w: cluster %d out of range", errFAT, c)
		}
		if f.dirUsed.set(c) {
			hold.Release()
			if c == start {
				return nil, 0, budget.Hold{}, errDirSeen
			}
			return nil, 0, budget.Hold{}, fmt.Errorf("%w: directory at cluster %d reaches cluster %d a second time", errFAT, start, c)
		}
		if int64(len(buf))+csize > 16<<20 {
			hold.Release()
			return nil, 0, budget.Hold{}, fmt.Errorf("%w: directory at cluster %d larger than 16 MiB", errFAT, start)
		}
		off := f.clusterOff(c)
		if err := f.ex.grow(&hold, csize, "FAT directory", off); err != nil {
			hold.Release()
			return nil, 0, budget.Hold{}, err
		}
		n := len(buf)
		buf = append(buf, make([]byte, csize)...)
		if _, err := f.s.ReadAt(buf[n:], off); err != nil {
			hold.Release()
			return nil, 0, budget.Hold{}, err
		}
		f.dirSpans = append(f.dirSpans, [2]int64{off, off + csize})
		next, end := f.next(c)
		if end {
			return buf, f.clusterOff(start), hold, nil
		}
		c = next
	}
}

type fatIter struct {
	f       *fatFS
	entries []fatEntry
	i       int
	used    bitset // data clusters read by this walk's files
	hold    budget.Hold
}

func (it *fatIter) Close() error {
	it.hold.Release()
	it.used = nil
	return nil
}

func (it *fatIter) Next() (*member, io.Reader, error) {
	if it.i >= len(it.entries) {
		return nil, nil, io.EOF
	}
	e := it.entries[it.i]
	it.i++
	if e.dir || e.m.name == "(volume label)" {
		return e.m, nil, nil
	}
	if e.m.size == 0 {
		return e.m, strings.NewReader(""), nil
	}
	if it.used == nil {
		var err error
		if it.used, err = it.f.newBitset(&it.hold, "FAT data cluster map"); err != nil {
			return nil, nil, err
		}
	}
	return e.m, &chainReader{f: it.f, start: e.cluster, size: e.m.size, csize: it.f.spc * it.f.bps, used: it.used}, nil
}

var fatKind = &archiveKind{
	format: fmtFAT,
	open: func(ex *explainer, n *node) (memberIter, error) {
		f, err := ex.fatOf(n)
		if err != nil {
			return nil, err
		}
		entries, err := f.walk(ex.o.MaxMembers)
		if err != nil {
			return nil, err
		}
		return &fatIter{f: f, entries: entries, hold: ex.newHold()}, nil
	},
	hint: func(_, what string) string {
		if what == "order" {
			return hintFATOrder
		}
		if what == "times" {
			return hintFATTimes
		}
		return ""
	},
}

// fatOf opens the FAT image of n once: the node keeps it (and its walked
// tree) until fat drops it.
func (ex *explainer) fatOf(n *node) (*fatFS, error) {
	if n.fat != nil {
		return n.fat, nil
	}
	s, err := ex.spool(n)
	if err != nil {
		return nil, err
	}
	f, err := openFAT(ex, s)
	if err != nil {
		return nil, err
	}
	n.fat = f
	return f, nil
}

// fat explains two FAT images: boot sector fields, then the listing and
// each differing file, recursively.
func (ex *explainer) fat(a, b *node, depth int) Result {
	var fs [2]*fatFS
	defer func() {
		for _, n := range []*node{a, b} {
			n.fat.release()
			n.fat = nil
		}
	}()
	for i, n := range []*node{a, b} {
		f, err := ex.fatOf(n)
		if isLimit(err) {
			r := ex.hexdiff(a, b)
			r.Summary = "FAT image (too large to read: " + err.Error() + "); " + r.Summary
			return r
		}
		if err != nil {
			return ex.fallback(fmtFAT, a, b, err)
		}
		if _, err := f.walk(ex.o.MaxMembers); err != nil {
			return ex.fallback(fmtFAT, a, b, err)
		}
		fs[i] = f
	}
	la, err := ex.list(fatKind, a)
	if err != nil {
		return ex.fallback(fmtFAT, a, b, err)
	}
	defer la.release()
	lb, err := ex.list(fatKind, b)
	if err != nil {
		return ex.fallback(fmtFAT, a, b, err)
	}
	defer lb.release()
	r, differs := ex.compareListings(fatKind, a, b, la, lb, depth)
	r.Format = fmtFAT

	var d strings.Builder
	var changed []string
	for i, fa := range fs[0].fields {
		if i >= len(fs[1].fields) {
			break
		}
		fb := fs[1].fields[i]
		if fa.name == fb.name && fa.value != fb.value {
			changed = append(changed, fa.name)
			fmt.Fprintf(&d, "boot sector %s: %s -> %s\n", fa.name, fa.value, fb.value)
			switch fa.name {
			case "volume serial":
				r.hint(hintFATSerial)
			case "oem name":
			}
		}
	}
	r.Details = d.String() + r.Details

	// Are all differing bytes in the boot area or in directory entries?
	accounted := false
	scanHold := ex.newHold()
	defer scanHold.Release()
	if fs[0].s.size == fs[1].s.size && ex.grow(&scanHold, hexScanCost(1<<12), "differing ranges of a FAT image", -1) == nil {
		sc, err := scanRanges(io.NewSectionReader(fs[0].s, 0, fs[0].s.size), io.NewSectionReader(fs[1].s, 0, fs[1].s.size), 1<<12)
		if err == nil && sc.count <= len(sc.ranges) {
			spans := elfLayout(append([][2]int64{{0, fs[0].reserved * fs[0].bps}}, fs[0].dirSpans...)).merged()
			accounted = true
			for _, rg := range sc.ranges {
				if !spans.covers(rg) {
					accounted = false
				}
			}
			if !accounted {
				d.Reset()
				d.WriteString("bytes differ outside the boot sectors and directories (file data or FAT layout)\n")
				r.Details += d.String()
			}
		}
	}
	var parts []string
	if len(changed) > 0 {
		parts = append(parts, "boot sector "+strings.Join(changed, ", "))
	}
	if differs {
		parts = append(parts, strings.TrimPrefix(r.Summary, fmtFAT+": "))
	}
	if len(parts) == 0 {
		c := ex.hexdiff(a, b)
		c.Name = "image bytes"
		r.Summary = "FAT: same boot sector fields, files and metadata; image bytes differ (" + c.Summary + ")"
		r.Children = append(r.Children, c)
		r.Complete = false
		return r
	}
	r.Summary = "FAT: " + strings.Join(parts, "; ")
	r.Complete = accounted && (!differs || r.Complete)
	return r
}
