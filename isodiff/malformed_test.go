package isodiff

// The malformed-image corpus: a real hybrid live ISO (isolinux MBR, GPT, El
// Torito, Rock Ridge, Joliet, a squashfs with uncompressed metadata so that
// its tables can be patched in place) is built once at test time, then
// broken one way at a time: truncated at many offsets, bit flips in each
// metadata structure, a directory pointing at its ancestor, sizes and counts
// of 2^32 and 2^64, overlapping extents, inode references out of range, a
// squashfs extent running past the end of the file. Each broken copy is
// compared against the intact image both ways round, and every comparison
// must end with exit 2 (or 1 where a diff is still meaningful), problems
// that name the file, the stage and the offset, the stages that could run
// having run, no temporary file left, and bounded time and allocation.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// Bounds of one comparison of two malformed images of 2 MiB. Measured: at
// most 5 MiB allocated and 0.3 s with the race detector; the bounds leave
// room for a loaded machine, while a loop or an allocation sized by a
// length read from the image (2^32, 2^64) blows through them.
const (
	malMaxTime  = 5 * time.Second
	malMaxAlloc = 64 << 20
)

// malImage is the intact image and where its structures are.
type malImage struct {
	b []byte
	// records maps an ISO path to the byte offset of its directory record
	// in the primary (Rock Ridge) tree.
	records map[string]int64
	entries map[string]*iso9660.Entry
	rootLBA uint32
	// joliet is the offset of the Joliet descriptor, pathTable that of the
	// primary's type L path table.
	joliet, pathTable int64
	// The squashfs image at sq (absolute offset) of sqSize bytes, its
	// superblock, and the absolute offsets of its tables.
	sq, sqSize int64
	super      squashfs.Superblock
	inodes     int64 // inode table: first metadata block's header
	dirs       int64 // directory table: likewise
	frags      int64 // fragment index
	ids        int64 // id index
	xattrs     int64 // xattr id table
}

var (
	malOnce sync.Once
	malBase *malImage
	malErr  string
)

// malformedBase builds the intact image once per test binary.
func malformedBase(t *testing.T) *malImage {
	t.Helper()
	malOnce.Do(func() {
		// The files go with this test; the image is kept in memory.
		tb := &onceTB{T: t}
		malBase = buildMalformedBase(tb, t.TempDir())
		if tb.failed != "" {
			malErr, malBase = tb.failed, nil
		}
	})
	if malBase == nil {
		t.Fatalf("building the base image: %s", malErr)
	}
	return malBase
}

// onceTB records a failure instead of ending the test that happened to
// build the shared image, so that every later test reports it too.
type onceTB struct {
	*testing.T
	failed string
}

func (o *onceTB) Fatalf(format string, args ...any) {
	o.failed = fmt.Sprintf(format, args...)
	o.T.Fatalf(format, args...)
}

func (o *onceTB) Fatal(args ...any) {
	o.failed = fmt.Sprint(args...)
	o.T.Fatal(args...)
}

func buildMalformedBase(t *onceTB, dir string) *malImage {
	root := filepath.Join(dir, "root")
	isoDir := filepath.Join(dir, "iso")
	blob := make([]byte, 20000) // five 4 KiB blocks and a tail in a fragment
	for i := range blob {
		blob[i] = byte(i*7 + i/251)
	}
	testimg.WriteFiles(t, root, map[string]string{
		"etc/hostname":   "debian\n",
		"etc/machine-id": "0123456789abcdef0123456789abcdef\n",
		"usr/bin/tool":   "\x7fELF not really\x00\x01\x02",
		"usr/lib/blob":   string(blob),
		"d/sub/deep":     "deep\n",
		"var/empty":      "",
	})
	testimg.WriteFiles(t, isoDir, map[string]string{
		".disk/info":  "Malformed Live\n",
		"d/sub/deep":  "deep at the ISO level\n",
		"md5sum.txt":  "0123 ./live/vmlinuz\n",
		"live/kernel": "kernel\n",
	})
	for _, l := range []struct{ dir, target, name string }{
		{root, "hostname", "etc/link"},
		{root, "loop2", "loop1"}, // a symlink loop
		{root, "loop1", "loop2"},
		{root, "../../../../../etc/passwd", "escape"},
		{isoDir, "loop-b", "loop-a"},
		{isoDir, "loop-a", "loop-b"},
	} {
		if err := os.Symlink(l.target, filepath.Join(l.dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	testimg.Run(t, root, "setfattr", "-n", "user.note", "-v", "value", "etc/hostname")
	stamp := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, d := range []string{root, isoDir} {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				testimg.Run(t, d, "touch", "-h", "-d", "@"+fmt.Sprint(stamp.Unix()), p)
			}
			return nil
		})
	}
	// Uncompressed inodes, directories, fragments, xattrs and ids, so that
	// each table is patched where it lies; 4 KiB blocks.
	testimg.MakeSquashfs(t, root, filepath.Join(isoDir, "live/filesystem.squashfs"),
		"-comp", "gzip", "-b", "4K", "-noI", "-noD", "-noF", "-noX", "-mkfs-time", fmt.Sprint(stamp.Unix()))
	out := testimg.MakeHybridISO(t, isoDir, filepath.Join(dir, "base.iso"), "-V", "MALFORMED")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := &malImage{b: b, records: map[string]int64{}, entries: map[string]*iso9660.Entry{}}
	im, err := iso9660.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if im.Namespace != iso9660.NamespaceRockRidge {
		t.Fatalf("base image read as %s", im.Namespace)
	}
	w := im.Walk()
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m.entries[e.Path] = e
	}
	m.rootLBA = binary.LittleEndian.Uint32(b[16*2048+156+2:])
	m.pathTable = int64(binary.LittleEndian.Uint32(b[16*2048+140:])) * 2048
	for _, d := range im.Descriptors {
		if d.Type == 2 {
			m.joliet = d.Offset
		}
	}
	if m.joliet == 0 {
		t.Fatal("no Joliet descriptor")
	}
	// Each node's record, found among its parent's records by identifier.
	for p, e := range m.entries {
		if p == "/" {
			continue
		}
		parent := m.entries[path.Dir(p)]
		x := parent.Extents[0]
		for off := x.Offset; off < x.Offset+x.Size; {
			n := int64(b[off])
			if n == 0 { // records do not span sectors: skip to the next
				off = (off/2048 + 1) * 2048
				continue
			}
			if id := string(b[off+33 : off+33+int64(b[off+32])]); id == e.Identifier {
				m.records[p] = off
				break
			}
			off += n
		}
		if _, ok := m.records[p]; !ok {
			t.Fatalf("no directory record for %s (%q)", p, e.Identifier)
		}
	}
	sq := m.entries[DefaultSquashfs]
	m.sq, m.sqSize = sq.Extents[0].Offset, sq.Size
	r, err := squashfs.Open(io.NewSectionReader(bytes.NewReader(b), m.sq, m.sqSize), m.sqSize)
	if err != nil {
		t.Fatal(err)
	}
	m.super = r.Super
	s := r.Super
	m.inodes, m.dirs = m.sq+int64(s.InodeTableStart), m.sq+int64(s.DirTableStart)
	m.frags, m.ids, m.xattrs = m.sq+int64(s.FragTableStart), m.sq+int64(s.IDTableStart), m.sq+int64(s.XattrTableStart)
	// One uncompressed metadata block per table: references are then
	// offsets into its data, right after the 2-byte header.
	for _, tab := range []int64{m.inodes, m.dirs} {
		if h := binary.LittleEndian.Uint16(b[tab:]); h&0x8000 == 0 {
			t.Fatalf("metadata block at %d is compressed (header %#x)", tab, h)
		}
	}
	if s.DirTableStart-s.InodeTableStart > 8194 {
		t.Fatalf("inode table spans several metadata blocks (%d bytes)", s.DirTableStart-s.InodeTableStart)
	}
	return m
}

func (m *malImage) clone() []byte { return bytes.Clone(m.b) }

// rec returns the offset of the directory record of the ISO file at p.
func (m *malImage) rec(p string) int64 {
	off, ok := m.records[p]
	if !ok {
		panic("no ISO directory record for " + p)
	}
	return off
}

// dirEntry returns the absolute offset of the squashfs directory entry
// named name (its 8-byte head: offset u16, inode delta s16, type u16, name
// size u16), found by name in the directory table.
func (m *malImage) dirEntry(t *testing.T, name string) int64 {
	t.Helper()
	table := m.b[m.dirs+2 : m.frags]
	i := bytes.Index(table, []byte(name))
	if i < 8 || bytes.Index(table[i+1:], []byte(name)) >= 0 {
		t.Fatalf("directory entry %q not found once in the directory table", name)
	}
	at := m.dirs + 2 + int64(i) - 8
	if n := int(binary.LittleEndian.Uint16(m.b[at+6:])) + 1; n != len(name) {
		t.Fatalf("directory entry %q: name size %d", name, n)
	}
	return at
}

// inode returns the absolute offset of the squashfs inode the directory
// entry name refers to (its listing's header has start block 0).
func (m *malImage) inode(t *testing.T, name string) int64 {
	return m.inodes + 2 + int64(binary.LittleEndian.Uint16(m.b[m.dirEntry(t, name):]))
}

// rootInode returns the absolute offset of the squashfs root inode.
func (m *malImage) rootInode() int64 { return m.inodes + 2 + int64(m.super.RootInode&0xffff) }

// listing returns the absolute offset of the listing (its header) of the
// squashfs directory whose basic inode is at ino.
func (m *malImage) listing(t *testing.T, ino int64) int64 {
	t.Helper()
	if typ := binary.LittleEndian.Uint16(m.b[ino:]); typ != 1 {
		t.Fatalf("inode at %d has type %d, want a basic directory", ino, typ)
	}
	return m.dirs + 2 + int64(binary.LittleEndian.Uint16(m.b[ino+26:]))
}

// put32 and put64 write little-endian values; both32 writes an ISO 9660
// both-byte-order value (little-endian, then big-endian).
func put16(b []byte, off int64, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int64, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int64, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
func both32(b []byte, off int64, v uint32) {
	binary.LittleEndian.PutUint32(b[off:], v)
	binary.BigEndian.PutUint32(b[off+4:], v)
}

// malCase is one broken image.
type malCase struct {
	name   string
	break_ func(t *testing.T, m *malImage) []byte
	// exit lists the allowed exit codes (default: 2 only).
	exit []int
	// ran lists stages that must have run to their end (same or differs):
	// those the damage does not reach. failed lists stages that must have
	// failed.
	ran, failed []string
	// msg, when set, must appear in a problem's message.
	msg string
	// only maps a stage to a text each of its problems must hold: the
	// problems the damage may cause there, and no other.
	only map[string]string
	// offset, when set, returns the absolute offset a problem of the broken
	// image must name, give or take slack bytes.
	offset func(m *malImage) int64
	slack  int64
}

var allStagesButSizes = []string{report.StageHeader, report.StageTOC, report.StageSquashfs, report.StageContent}

func malformedCases(t *testing.T, m *malImage) []malCase {
	pvd := int64(16 * 2048)
	gpt := int64(512) // isohybrid GPT header at 512-byte LBA 1
	sq := func(f func(b []byte)) func(*testing.T, *malImage) []byte {
		return func(_ *testing.T, m *malImage) []byte { b := m.clone(); f(b); return b }
	}
	var cases []malCase

	// Truncation at the structures and at evenly spaced offsets.
	truncAt := map[string]int64{
		"empty":                      0,
		"mbr":                        300,
		"gpt header":                 gpt + 40,
		"system area":                20000,
		"primary volume descriptor":  pvd + 100,
		"descriptor set":             pvd + 2048 + 10,
		"root directory":             int64(m.rootLBA)*2048 + 40,
		"squashfs superblock":        m.sq + 50,
		"squashfs data":              m.sq + 8000,
		"squashfs inode table":       m.inodes + 100,
		"squashfs directory table":   m.dirs + 40,
		"squashfs last byte":         m.sq + int64(m.super.BytesUsed) - 1,
		"efi image":                  m.entries[testimg.HybridEFIImage].Extents[0].Offset + 5000,
		"after the last file sector": int64(len(m.b)) - 1,
	}
	for i := int64(1); i < 8; i++ {
		truncAt[fmt.Sprintf("%d/8", i)] = int64(len(m.b)) * i / 8
	}
	for name, n := range truncAt {
		c := malCase{name: "truncated in " + name, exit: []int{1, 2},
			break_: func(_ *testing.T, m *malImage) []byte { return bytes.Clone(m.b[:n]) }}
		switch {
		case n < pvd+2048:
			c.exit = []int{2} // no volume descriptor to read
			c.ran = []string{report.StageSizes}
			c.failed = []string{report.StageTOC}
		case n > m.sq && n < m.sq+m.sqSize:
			// The squashfs runs past the end: its stage fails, the ISO
			// header is still compared.
			c.exit = []int{2}
			c.ran = []string{report.StageSizes, report.StageHeader}
			c.failed = []string{report.StageSquashfs}
		}
		cases = append(cases, c)
	}

	// Bit flips in each metadata structure: a few bytes of each, spread
	// over it, each flipped on its own.
	structs := []struct {
		name     string
		off, len int64
	}{
		{"mbr partition table", 446, 66},
		{"gpt header", gpt, 92},
		{"gpt entries", 1024, 256},
		{"primary volume descriptor", pvd, 2048},
		{"root directory record", pvd + 156, 34},
		{"joliet volume descriptor", m.joliet, 2048},
		{"path table", m.pathTable, 64},
		{"root directory", int64(m.rootLBA) * 2048, 512},
		{"directory record with rock ridge", m.rec("/boot"), int64(m.b[m.rec("/boot")])},
		{"el torito catalog", m.entries[testimg.HybridCatalog].Extents[0].Offset, 96},
		{"squashfs superblock", m.sq, 96},
		{"squashfs inode table", m.inodes, 256},
		{"squashfs directory table", m.dirs, 256},
		{"squashfs fragment table", m.frags, 16},
		{"squashfs id table", m.ids, 8},
		{"squashfs xattr table", m.xattrs, 16},
	}
	for _, s := range structs {
		const flips = 4
		for k := int64(0); k < flips; k++ {
			off := s.off + s.len*k/flips + k%3 // not always a field's first byte
			bit := byte(1) << (k * 3 % 8)
			cases = append(cases, malCase{name: fmt.Sprintf("bit flip in %s at %d", s.name, off), exit: []int{1, 2},
				ran:    []string{report.StageSizes},
				break_: sq(func(b []byte) { b[off] ^= bit })})
		}
	}

	// A directory pointing at its own ancestor.
	cases = append(cases,
		malCase{name: "iso directory pointing at the root", msg: "loop",
			// The header stage still compares everything but the isolinux
			// boot image, whose file lies past the loop in the tree.
			ran: []string{report.StageSizes}, failed: []string{report.StageTOC},
			only: map[string]string{report.StageHeader: "El Torito entry 1 boot image"},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				rec := m.rec("/d/sub")
				both32(b, rec+2, m.rootLBA)
				copy(b[rec+10:rec+18], b[pvd+156+10:pvd+156+18]) // the root's size
				return b
			},
			offset: func(m *malImage) int64 { return int64(m.rootLBA) * 2048 }, slack: 2048},
		malCase{name: "squashfs directory pointing at the root", msg: "",
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC}, failed: []string{report.StageSquashfs},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				// /d holds only sub: its listing header's start block is 0,
				// so the entry's offset alone makes it the root inode.
				put16(b, m.dirEntry(t, "sub"), uint16(m.super.RootInode&0xffff))
				return b
			}},
	)

	// Sizes and counts of 2^32 and 2^64.
	huge := []struct {
		name string
		exit []int
		f    func(t *testing.T, m *malImage, b []byte)
	}{
		{"iso file size 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { both32(b, m.rec("/.disk/info")+10, 1<<32-1) }},
		{"iso file extent 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { both32(b, m.rec("/.disk/info")+2, 1<<32-1) }},
		{"iso directory size 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { both32(b, m.rec("/boot")+10, 1<<32-1) }},
		// Linux and xorriso read the root's size from its "." record: a
		// repair said first in the summary (TestRepairIsSaidFirst).
		{"iso root directory size 2^32-1", []int{1}, func(t *testing.T, m *malImage, b []byte) { both32(b, pvd+156+10, 1<<32-1) }},
		{"iso volume space size 2^32-1", []int{1, 2}, func(t *testing.T, m *malImage, b []byte) { both32(b, pvd+80, 1<<32-1) }},
		{"el torito sector count 2^16-1", []int{1, 2}, func(t *testing.T, m *malImage, b []byte) {
			put16(b, m.entries[testimg.HybridCatalog].Extents[0].Offset+32+6, 0xffff)
		}},
		{"el torito load rba 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) {
			put32(b, m.entries[testimg.HybridCatalog].Extents[0].Offset+32+8, 1<<32-1)
		}},
		{"gpt entry count 2^32-1", []int{1, 2}, func(t *testing.T, m *malImage, b []byte) { put32(b, gpt+80, 1<<32-1) }},
		{"gpt entry size 2^32-1", []int{1, 2}, func(t *testing.T, m *malImage, b []byte) { put32(b, gpt+84, 1<<32-1) }},
		{"gpt entries lba 2^64-1", []int{1, 2}, func(t *testing.T, m *malImage, b []byte) { put64(b, gpt+72, 1<<64-1) }},
		{"squashfs inode count 2^32-1", []int{1}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.sq+4, 1<<32-1) }},
		{"squashfs fragment count 2^32-1", []int{1}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.sq+16, 1<<32-1) }},
		{"squashfs id count 2^16-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put16(b, m.sq+26, 0xffff) }},
		{"squashfs bytes_used 2^64-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put64(b, m.sq+40, 1<<64-1) }},
		{"squashfs inode table start 2^64-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put64(b, m.sq+64, 1<<64-1) }},
		{"squashfs fragment table start 2^32", []int{2}, func(t *testing.T, m *malImage, b []byte) { put64(b, m.sq+80, 1<<32) }},
		{"squashfs file size 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) {
			ino := m.inode(t, "machine-id")
			if typ := binary.LittleEndian.Uint16(b[ino:]); typ != 2 {
				t.Fatalf("machine-id inode type %d, want 2", typ)
			}
			put32(b, ino+28, 1<<32-1)
		}},
		{"squashfs extended file size 2^64-1", []int{2}, func(t *testing.T, m *malImage, b []byte) {
			ino := m.inode(t, "hostname") // it has an xattr: an extended inode
			if typ := binary.LittleEndian.Uint16(b[ino:]); typ != 9 {
				t.Fatalf("hostname inode type %d, want 9", typ)
			}
			put64(b, ino+24, 1<<64-1)
		}},
		{"squashfs file blocks start 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.inode(t, "blob")+16, 1<<32-1) }},
		{"squashfs fragment index 2^32-2", []int{2}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.inode(t, "machine-id")+20, 1<<32-2) }},
		{"squashfs directory header count 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) {
			put32(b, m.listing(t, m.rootInode()), 1<<32-1)
		}},
		{"squashfs directory size 2^16-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put16(b, m.rootInode()+24, 0xffff) }},
		{"squashfs symlink size 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.inode(t, "loop1")+20, 1<<32-1) }},
		{"squashfs xattr count 2^32-1", []int{2}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.xattrs+8, 1<<32-1) }},
		{"squashfs xattr index 2^32-2", []int{2}, func(t *testing.T, m *malImage, b []byte) { put32(b, m.inode(t, "hostname")+52, 1<<32-2) }},
	}
	for _, h := range huge {
		cases = append(cases, malCase{name: h.name, exit: h.exit, ran: []string{report.StageSizes},
			break_: func(t *testing.T, m *malImage) []byte { b := m.clone(); h.f(t, m, b); return b }})
	}
	for i := range cases[len(cases)-len(huge):] {
		c := &cases[len(cases)-len(huge)+i]
		if strings.HasPrefix(c.name, "squashfs") {
			// Only the squashfs is broken: the ISO stages all run.
			c.ran = append(c.ran, report.StageHeader, report.StageTOC)
			c.failed = []string{report.StageSquashfs}
			switch {
			case strings.Contains(c.name, "file") || strings.Contains(c.name, "fragment index"):
				// Found while reading the file: the tree walk may pass.
				c.failed = nil
			case slices.Equal(c.exit, []int{1}):
				// A count nothing is read by: only a superblock difference.
				c.failed = nil
				c.ran = append(c.ran, report.StageSquashfs, report.StageContent)
			}
		}
	}

	// Overlapping extents and out-of-range inodes.
	cases = append(cases,
		malCase{name: "iso file overlapping the volume descriptors", exit: []int{1},
			ran: slices.Concat([]string{report.StageSizes}, allStagesButSizes),
			break_: sq(func(b []byte) {
				both32(b, m.rec("/.disk/info")+2, 16)
			})},
		malCase{name: "iso file overlapping the squashfs", exit: []int{1},
			ran: slices.Concat([]string{report.StageSizes}, allStagesButSizes),
			break_: sq(func(b []byte) {
				both32(b, m.rec("/d/sub/deep")+2, uint32(m.sq/2048))
			})},
		malCase{name: "iso directory sharing another's records", exit: []int{1, 2},
			ran: []string{report.StageSizes}, only: map[string]string{report.StageHeader: "El Torito entry 1 boot image"},
			break_: sq(func(b []byte) {
				copy(b[m.rec("/d")+2:m.rec("/d")+18], b[m.rec("/boot")+2:m.rec("/boot")+18])
			})},
		malCase{name: "squashfs file blocks overlapping the superblock", exit: []int{1, 2},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put32(b, m.inode(t, "blob")+16, 0)
				return b
			}},
		malCase{name: "squashfs file blocks overlapping the inode table", exit: []int{1, 2},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put32(b, m.inode(t, "blob")+16, uint32(m.super.InodeTableStart))
				return b
			}},
		malCase{name: "squashfs inode reference past its block", failed: []string{report.StageSquashfs},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put16(b, m.dirEntry(t, "machine-id"), 0xfff0)
				return b
			}},
		malCase{name: "squashfs inode number out of range", exit: []int{1, 2},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put16(b, m.dirEntry(t, "machine-id")+2, 0x7fff)
				return b
			}},
		malCase{name: "squashfs root inode out of range", failed: []string{report.StageSquashfs},
			ran:    []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: sq(func(b []byte) { put64(b, m.sq+32, 0xffff_ffff_ffff) }),
			offset: func(m *malImage) int64 { return m.sq }, slack: 0},
		malCase{name: "squashfs inode type out of range", failed: []string{report.StageSquashfs},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put16(b, m.inode(t, "machine-id"), 99)
				return b
			}},
		malCase{name: "squashfs listing out of order", failed: []string{report.StageSquashfs},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			msg: `name "loop1" listed after "loop2": the listing is not sorted`,
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				one, two := m.dirEntry(t, "loop1")+8, m.dirEntry(t, "loop2")+8
				copy(b[one:], "loop2")
				copy(b[two:], "loop1")
				return b
			},
			offset: func(m *malImage) int64 { return m.dirs }, slack: 0},
		malCase{name: "squashfs id index out of range", failed: []string{report.StageSquashfs},
			ran: []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				put16(b, m.inode(t, "machine-id")+4, 200) // uid index
				return b
			}},
	)

	// Symlink loops (both images hold loop1 -> loop2 -> loop1 in the
	// squashfs and loop-a -> loop-b -> loop-a in the ISO; targets are never
	// followed) and plain changes: a diff, every stage to its end.
	all := slices.Concat([]string{report.StageSizes}, allStagesButSizes)
	cases = append(cases,
		malCase{name: "squashfs symlink made a loop onto itself", exit: []int{1}, ran: all,
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				ino := m.inode(t, "loop1")
				if typ := binary.LittleEndian.Uint16(b[ino:]); typ != 3 || string(b[ino+24:ino+29]) != "loop2" {
					t.Fatalf("loop1 inode: type %d, target %q", typ, b[ino+24:ino+29])
				}
				b[ino+28] = '1'
				return b
			}},
		malCase{name: "iso symlink made a loop onto itself", exit: []int{1}, ran: all,
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				rec := m.rec("/loop-a")
				i := bytes.Index(b[rec:rec+int64(b[rec])], []byte("loop-b"))
				if i < 0 {
					t.Fatal("no SL component loop-b in /loop-a's record")
				}
				b[rec+int64(i)+5] = 'a'
				return b
			}},
		malCase{name: "squashfs file content changed", exit: []int{1}, ran: append(all, report.StageExplain),
			break_: func(t *testing.T, m *malImage) []byte {
				b := m.clone()
				ino := m.inode(t, "blob")
				start := m.sq + int64(binary.LittleEndian.Uint32(b[ino+16:]))
				b[start+5000] ^= 0xff // data is stored uncompressed (-noD)
				return b
			}},
	)

	// The squashfs extent runs past the end of the file.
	cases = append(cases,
		malCase{name: "squashfs extent past the end of the image", failed: []string{report.StageSquashfs},
			ran: []string{report.StageSizes, report.StageHeader},
			break_: sq(func(b []byte) {
				both32(b, m.rec(DefaultSquashfs)+10, uint32(int64(len(b))-m.sq+4096))
			}),
			offset: func(m *malImage) int64 { return m.sq }, slack: 0},
		malCase{name: "squashfs file emptied", failed: []string{report.StageSquashfs},
			ran:    []string{report.StageSizes, report.StageHeader, report.StageTOC},
			msg:    "no data",
			break_: sq(func(b []byte) { both32(b, m.rec(DefaultSquashfs)+10, 0) })},
		malCase{name: "squashfs bytes_used past its extent", failed: []string{report.StageSquashfs},
			ran:    []string{report.StageSizes, report.StageHeader, report.StageTOC},
			break_: sq(func(b []byte) { put64(b, m.sq+40, uint64(m.sqSize+1)) }),
			offset: func(m *malImage) int64 { return m.sq }, slack: 0},
	)
	return cases
}

var offsetRE = regexp.MustCompile(`at offset (\d+)`)

func TestMalformedImages(t *testing.T) {
	m := malformedBase(t)
	cases := malformedCases(t, m)
	t.Logf("%d cases on a %d-byte image, squashfs at %d (%d bytes)", len(cases), len(m.b), m.sq, m.sqSize)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.break_(t, m)
			if bytes.Equal(b, m.b) {
				t.Fatal("the image was not changed")
			}
			good := Input{Name: "good.iso", R: bytes.NewReader(m.b), Size: int64(len(m.b))}
			bad := Input{Name: "broken.iso", R: bytes.NewReader(b), Size: int64(len(b))}
			checkMalformed(t, c, m, good, bad, 1)
			checkMalformed(t, c, m, bad, good, 0)
		})
	}
}

// checkMalformed compares a and b, the broken image on side brokenSide.
func checkMalformed(t *testing.T, c malCase, m *malImage, in0, in1 Input, brokenSide int) {
	t.Helper()
	a, b := in0.Name, in1.Name
	brokenPath := []string{a, b}[brokenSide]
	tmp := t.TempDir()
	before := allocatedBytes()
	start := time.Now()
	rep, err := CompareInputs(context.Background(), in0, in1, Options{TempDir: tmp, NoDiffoscope: true})
	elapsed, alloc := time.Since(start), allocatedBytes()-before
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if elapsed > malMaxTime {
		t.Errorf("took %v", elapsed)
	}
	if alloc > malMaxAlloc {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left %d file(s) in the temporary directory", len(left))
	}
	exit := rep.ExitCode()
	want := c.exit
	if want == nil {
		want = []int{2}
	}
	var probs strings.Builder
	for _, s := range rep.Stages {
		for _, p := range s.Problems {
			fmt.Fprintf(&probs, "  %s\n", p)
		}
	}
	if !slices.Contains(want, exit) {
		t.Errorf("side %d broken: exit %d, want one of %v; problems:\n%s", brokenSide, exit, want, probs.String())
	}
	if len(rep.Stages) != len(pipeline) {
		t.Fatalf("%d stages in the report", len(rep.Stages))
	}
	for _, name := range c.ran {
		if st := rep.Stage(name); st.Status != report.StatusSame && st.Status != report.StatusDiffers {
			t.Errorf("side %d broken: stage %s %s, want it run to its end; problems:\n%s", brokenSide, name, st.Status, probs.String())
		}
	}
	for _, name := range c.failed {
		if st := rep.Stage(name); st.Status != report.StatusFailed {
			t.Errorf("side %d broken: stage %s %s, want failed", brokenSide, name, st.Status)
		}
	}
	sawMsg, sawOffset, sawBroken := c.msg == "", c.offset == nil, exit != 2
	for _, s := range rep.Stages {
		for _, p := range s.Problems {
			if strings.Contains(p.Message, "internal error") {
				t.Errorf("stage %s panicked: %s", s.Name, p.Message)
				continue
			}
			if p.Stage != s.Name {
				t.Errorf("problem of stage %s names stage %q: %s", s.Name, p.Stage, p)
			}
			switch p.File {
			case a, b, a + ", " + b:
			default:
				t.Errorf("problem names file %q: %s", p.File, p)
			}
			if p.File == brokenPath {
				sawBroken = true
			}
			if strings.HasSuffix(p.Message, ": EOF") || p.Message == "EOF" {
				t.Errorf("problem says no more than EOF: %s", p)
			}
			if offsetRE.MatchString(p.Message) && p.Offset < 0 {
				t.Errorf("problem carries an offset but reports none: %s", p)
			}
			if want, ok := c.only[s.Name]; ok && !strings.Contains(p.Message, want) {
				t.Errorf("stage %s: problem other than %q: %s", s.Name, want, p)
			}
			if strings.Contains(p.Message, c.msg) {
				sawMsg = true
			}
			if c.offset != nil && p.File == brokenPath {
				if want := c.offset(m); p.Offset >= want-c.slack && p.Offset <= want+c.slack {
					sawOffset = true
				}
			}
		}
	}
	if !sawMsg {
		t.Errorf("no problem mentions %q:\n%s", c.msg, probs.String())
	}
	if !sawOffset {
		t.Errorf("no problem of the broken image names offset %d±%d:\n%s", c.offset(m), c.slack, probs.String())
	}
	for _, d := range rep.Damage {
		// A file shorter than its own structures say is damage of that
		// image, said first in the summary: it names the image, and
		// nothing of the intact one may be called damaged.
		if d.Path != brokenPath || d.Image != "AB"[brokenSide:brokenSide+1] {
			t.Errorf("damage of the intact image: %+v", d)
		}
		sawBroken = true
	}
	if !sawBroken {
		t.Errorf("exit 2 but no problem or damage names the broken image %s:\n%s", brokenPath, probs.String())
	}
	for _, w := range []func(io.Writer, *report.Report) error{report.WriteSummary, report.WriteJSON, report.WriteChecklist,
		report.WriteHeaderCmp, report.WriteTOCDiff, report.WriteSqfsLsDiff, report.WriteSqfsDiff, report.WriteSquashfsSHA256} {
		if err := w(io.Discard, rep); err != nil {
			t.Errorf("rendering: %v", err)
		}
	}
}

var malAllocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocatedBytes() uint64 {
	metrics.Read(malAllocSample)
	return malAllocSample[0].Value.Uint64()
}

// TestOutputDirAtomic checks that report files are replaced whole (a
// pre-existing file, a symlink planted where a report goes: the link is
// replaced, its target untouched) and that no temporary file is left, even
// when writing one file fails.
func TestOutputDirAtomic(t *testing.T) {
	m := malformedBase(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.iso")
	bad := filepath.Join(dir, "bad.iso")
	malMust(t, os.WriteFile(good, m.b, 0o644))
	malMust(t, os.WriteFile(bad, m.b[:len(m.b)/2], 0o644))
	rep, err := Compare(context.Background(), good, bad, Options{NoDiffoscope: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	malMust(t, os.MkdirAll(out, 0o755))
	old := strings.Repeat("stale report line\n", 100000) // longer than the new file
	malMust(t, os.WriteFile(filepath.Join(out, report.FileSizes), []byte(old), 0o644))
	outside := filepath.Join(dir, "outside.txt")
	malMust(t, os.WriteFile(outside, []byte("not a report\n"), 0o644))
	malMust(t, os.Symlink(outside, filepath.Join(out, report.FileSHA256)))
	malMust(t, report.WriteDir(out, rep))
	listing := func() []string {
		ents, err := os.ReadDir(out)
		malMust(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	want := []string{report.FileChecklist, report.FileHeaderCmp, report.FileHTML, report.FileJSON, report.FileSHA256, report.FileSizes,
		report.FileSqfsDiff, report.FileSqfsLsDiff, report.FileSquashfsSHA256, report.FileTOCDiff}
	slices.Sort(want)
	if got := listing(); !slices.Equal(got, want) {
		t.Errorf("output directory holds %v, want %v", got, want)
	}
	sizes, err := os.ReadFile(filepath.Join(out, report.FileSizes))
	malMust(t, err)
	if bytes.Contains(sizes, []byte("stale")) || !bytes.Contains(sizes, []byte(filepath.Base(bad))) {
		t.Errorf("%s not replaced whole:\n%.300s", report.FileSizes, sizes)
	}
	if fi, err := os.Lstat(filepath.Join(out, report.FileSHA256)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not a regular file: %v %v", report.FileSHA256, fi, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "not a report\n" {
		t.Errorf("the symlink's target outside the output directory was written: %q", b)
	}

	// A file that cannot be replaced (a directory in its place): WriteDir
	// fails, naming it, and leaves no temporary file.
	malMust(t, os.Remove(filepath.Join(out, report.FileJSON)))
	malMust(t, os.Mkdir(filepath.Join(out, report.FileJSON), 0o755))
	malMust(t, os.WriteFile(filepath.Join(out, report.FileJSON, "keep"), nil, 0o644))
	err = report.WriteDir(out, rep)
	if err == nil || !strings.Contains(err.Error(), report.FileJSON) {
		t.Errorf("WriteDir over a directory: %v", err)
	}
	if got := listing(); !slices.Equal(got, want) {
		t.Errorf("after a failed write the output directory holds %v, want %v", got, want)
	}
}

func malMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHandOffConfined runs the diffoscope hand-off with a stand-in
// diffoscope on a pair whose squashfs has a symlink pointing out of the
// tree: the stand-in must see two copies inside a private directory under
// TempDir, and nothing may be left there afterwards.
func TestHandOffConfined(t *testing.T) {
	m := malformedBase(t)
	b := m.clone()
	ino := m.inode(t, "blob")
	b[m.sq+int64(binary.LittleEndian.Uint32(b[ino+16:]))+5000] ^= 0xff
	dir := t.TempDir()
	log := filepath.Join(dir, "args")
	fake := filepath.Join(dir, "fake-diffoscope")
	malMust(t, os.WriteFile(fake, []byte("#!/bin/sh\n"+
		"for last; do :; done\n"+ // $last is b, the one before a
		"eval a=\\${$(($#-1))}\n"+
		"printf '%s\\n%s\\n' \"$a\" \"$last\" >>"+log+"\n"+
		"wc -c <\"$a\" >>"+log+"\n"+
		"echo fake report\n"), 0o755))
	tmp := t.TempDir()
	rep, err := CompareInputs(context.Background(),
		Input{Name: "good.iso", R: bytes.NewReader(m.b), Size: int64(len(m.b))},
		Input{Name: "changed.iso", R: bytes.NewReader(b), Size: int64(len(b))},
		Options{TempDir: tmp, DiffoscopeCommand: fake})
	if err != nil {
		t.Fatal(err)
	}
	if code := rep.ExitCode(); code != 1 {
		t.Errorf("exit %d", code)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("the stand-in diffoscope did not run: %v; notes %v", err, rep.Stage(report.StageExplain).Notes)
	}
	lines := strings.Fields(string(got))
	if len(lines) != 3 || lines[2] != "20000" {
		t.Fatalf("stand-in saw %q", got)
	}
	for _, p := range lines[:2] {
		rel, err := filepath.Rel(tmp, p)
		if err != nil || strings.HasPrefix(rel, "..") || filepath.Base(p) != "blob" {
			t.Errorf("diffoscope was given %s, not a copy under %s", p, tmp)
		}
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left %d file(s) in the temporary directory", len(left))
	}
}
