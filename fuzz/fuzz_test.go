package fuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/explain"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/parttable"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// Every target runs under one fixed memory budget, whatever the input's
// size: the readers and the comparison are given a budget of fuzzBudget
// bytes (which they must refuse past, with an error carrying an offset),
// and the heap the run holds, sampled while it runs, must stay under
// fuzzHeap: the budget plus the fixed working set (block buffers, caches,
// codec windows, hashing buffers). An input that makes any structure grow
// with a length or count it declares (2^32 entries, 2^64 bytes, one area
// referenced by every record) fails here, however small it is.
const (
	fuzzBudget = 48 << 20
	fuzzHeap   = 128 << 20
)

// maxRead bounds how much content a target reads per input, so a legal but
// huge sparse file does not make one input slow.
const maxRead = 8 << 20

func seeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s (run testdata/make-seeds.sh)", pattern)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapInUse() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

// bounded runs fn under a fresh budget of fuzzBudget bytes, sampling the
// heap while it runs, and fails when the budget held more than its limit
// or the heap grew past fuzzHeap.
func bounded(t *testing.T, fn func(b *budget.Budget)) {
	b := budget.New(fuzzBudget)
	runtime.GC()
	base := heapInUse()
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			if h := heapInUse(); h > base && h-base > peak.Load() {
				peak.Store(h - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn(b)
	close(done)
	<-sampled
	if b.Peak() > fuzzBudget {
		t.Fatalf("budget held %d bytes, limit %d", b.Peak(), fuzzBudget)
	}
	if p := peak.Load(); p > fuzzHeap {
		t.Fatalf("heap grew by %d MiB during the run (bound %d MiB); budget peak %d MiB", p>>20, fuzzHeap>>20, b.Peak()>>20)
	}
}

func FuzzISO(f *testing.F) {
	seeds(f, "*.iso")
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func(bg *budget.Budget) { checkISO(t, b, bg) })
	})
}

// checkISO is the body of FuzzISO.
func checkISO(t testing.TB, b []byte, bg *budget.Budget) {
	im, err := iso9660.OpenOptions(bytes.NewReader(b), int64(len(b)), iso9660.Options{Budget: bg})
	if err != nil {
		mustBeFormatError(t, err)
		return
	}
	for _, v := range append([]*iso9660.VolumeDescriptor{im.Primary}, im.Supplementary...) {
		if v != nil {
			v.Fields()
		}
	}
	w := im.Walk()
	for n := 0; n < 100000; n++ {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			mustBeFormatError(t, err)
			break
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(im.Open(e), maxRead)); err != nil {
			mustBeFormatError(t, err)
		}
	}
	if c, err := im.BootCatalog(); err == nil {
		c.Fields()
		for _, e := range c.Entries {
			e.Fields()
			if sec, err := im.BootImage(e); err == nil {
				io.Copy(io.Discard, io.LimitReader(sec, maxRead))
			}
		}
	}
}

func mustBeFormatError(t testing.TB, err error) {
	t.Helper()
	var ie *iso9660.FormatError
	var se *squashfs.FormatError
	var pe *parttable.FormatError
	if !errors.As(err, &ie) && !errors.As(err, &se) && !errors.As(err, &pe) &&
		!errors.Is(err, parttable.ErrNoMBR) && !errors.Is(err, iso9660.ErrNoBootCatalog) {
		t.Fatalf("error without offset: %v", err)
	}
}

func FuzzPartitionTables(f *testing.F) {
	for _, p := range []string{"../testdata/demo/a.iso", "../testdata/demo/b.iso"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:32768]) // the system area: MBR, GPT header and entries
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func(bg *budget.Budget) { checkPartitionTables(t, b, bg) })
	})
}

// checkPartitionTables is the body of FuzzPartitionTables.
func checkPartitionTables(t testing.TB, b []byte, bg *budget.Budget) {
	if m, err := parttable.ParseMBR(b); err == nil {
		m.Fields()
		for i := range m.Partitions {
			m.Partitions[i].Fields()
		}
	} else {
		mustBeFormatError(t, err)
	}
	g, err := parttable.ReadGPTOptions(bytes.NewReader(b), int64(len(b)), parttable.Options{Budget: bg})
	if err != nil {
		mustBeFormatError(t, err)
		return
	}
	if g != nil {
		g.Fields()
		for i := range g.Partitions {
			g.Partitions[i].Fields()
		}
	}
}

func FuzzSquashfs(f *testing.F) {
	seeds(f, "*.sqfs")
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func(bg *budget.Budget) { checkSquashfs(t, b, bg) })
	})
}

// checkSquashfs is the body of FuzzSquashfs.
func checkSquashfs(t testing.TB, b []byte, bg *budget.Budget) {
	r, err := squashfs.OpenOptions(bytes.NewReader(b), int64(len(b)), squashfs.Options{Budget: bg})
	if err != nil {
		mustBeFormatError(t, err)
		return
	}
	r.Super.Fields()
	r.Options.Fields()
	w := r.Walk()
	for n := 0; n < 100000; n++ {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			mustBeFormatError(t, err)
			break
		}
		if !e.IsRegular() {
			continue
		}
		if fr, err := r.Open(e); err != nil {
			mustBeFormatError(t, err)
		} else if _, err := io.Copy(io.Discard, io.LimitReader(fr, maxRead)); err != nil {
			mustBeFormatError(t, err)
		}
		for blk := range r.Blocks(e) {
			if blk.Index > 64 {
				break
			}
			if _, err := r.ReadBlock(nil, blk); err != nil {
				mustBeFormatError(t, err)
			}
		}
		if _, err := r.ReadTail(nil, e); err != nil {
			mustBeFormatError(t, err)
		}
		if fa, err := r.OpenFile(e); err == nil {
			buf := make([]byte, 4096)
			for _, off := range []int64{0, e.Size / 2, e.Size - 1} {
				if _, err := fa.ReadAt(buf, off); err != nil && err != io.EOF && off >= 0 {
					mustBeFormatError(t, err)
				}
			}
		}
	}
}

// FuzzCompare runs the whole staged comparison of a real image against a
// mutated copy (or the seed pair): every stage must run, a panic in any of
// them (which the pipeline records as an internal error) fails the target,
// and every problem must name its file and stage.
func FuzzCompare(f *testing.F) {
	a, err := os.ReadFile("testdata/seeds/boot.iso")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a)
	f.Fuzz(func(t *testing.T, b []byte) {
		bounded(t, func(bg *budget.Budget) { compare(t, a, b, bg) })
	})
}

// compare runs the whole comparison of a and b and checks the report.
// The comparison makes its own budget of MemoryBudget bytes: bounded's is
// not used, its heap sampling is what checks it.
func compare(t testing.TB, a, b []byte, _ *budget.Budget) {
	tmp := t.TempDir()
	rep, err := isodiff.CompareInputs(context.Background(),
		isodiff.Input{Name: "a.iso", R: bytes.NewReader(a), Size: int64(len(a))},
		isodiff.Input{Name: "b.iso", R: bytes.NewReader(b), Size: int64(len(b))},
		isodiff.Options{TempDir: tmp, NoDiffoscope: true, MemoryBudget: fuzzBudget})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stages) < 6 || rep.Stage(report.StageContent) == nil {
		t.Fatalf("stages missing: %+v", rep.Stages)
	}
	for _, s := range rep.Stages {
		for _, p := range s.Problems {
			if strings.Contains(p.Message, "internal error") {
				t.Fatalf("stage %s panicked: %s", s.Name, p.Message)
			}
			if p.File == "" || p.Stage != s.Name {
				t.Fatalf("problem of stage %s without file or stage: %+v", s.Name, p)
			}
			if offsetRE.MatchString(p.Message) && p.Offset < 0 {
				t.Fatalf("problem carries an offset but reports none: %s", p)
			}
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("%d file(s) left in the temporary directory", len(left))
	}
	for _, w := range []func(io.Writer, *report.Report) error{report.WriteSummary, report.WriteJSON, report.WriteChecklist,
		report.WriteHeaderCmp, report.WriteTOCDiff, report.WriteSqfsLsDiff, report.WriteSqfsDiff, report.WriteSquashfsSHA256} {
		if err := w(io.Discard, rep); err != nil {
			t.Fatal(err)
		}
	}
}

var offsetRE = regexp.MustCompile(`at offset \d+`)

// patchBase is the seed ISO and the byte ranges that hold its metadata: the
// system area, the volume descriptors, path tables and directory records,
// the El Torito catalog, and the squashfs superblock and tables.
type patchBase struct {
	img     []byte
	regions [][2]int64 // [start, end)
}

var (
	patchOnce sync.Once
	patchSeed *patchBase
)

func loadPatchBase(f testing.TB) *patchBase {
	patchOnce.Do(func() {
		b, err := os.ReadFile("testdata/seeds/boot.iso")
		if err != nil {
			f.Fatal(err)
		}
		im, err := iso9660.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		p := &patchBase{img: b, regions: [][2]int64{{0, 1024}}}
		firstData, sq := int64(len(b)), (*iso9660.Entry)(nil)
		w := im.Walk()
		for {
			e, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Fatal(err)
			}
			if e.Mode.IsRegular() && len(e.Extents) > 0 {
				firstData = min(firstData, e.Extents[0].Offset)
			}
			if e.Path == isodiff.DefaultSquashfs {
				sq = e
			}
		}
		p.regions = append(p.regions, [2]int64{16 * iso9660.SectorSize, firstData})
		if c, err := im.BootCatalog(); err == nil {
			at := int64(c.LBA) * iso9660.SectorSize
			p.regions = append(p.regions, [2]int64{at, at + 128})
		}
		if sq == nil {
			f.Fatal("no squashfs in the seed ISO")
		}
		off := sq.Extents[0].Offset
		r, err := squashfs.Open(io.NewSectionReader(bytes.NewReader(b), off, sq.Size), sq.Size)
		if err != nil {
			f.Fatal(err)
		}
		p.regions = append(p.regions, [2]int64{off, off + 96},
			[2]int64{off + int64(r.Super.InodeTableStart), off + int64(r.Super.BytesUsed)})
		patchSeed = p
	})
	return patchSeed
}

// apply returns a copy of the seed ISO changed by a patch program: a list
// of operations of a 4-byte head (region, 16-bit offset into it, length)
// and up to 15 bytes to write there. A region byte of 0xF0 or more cuts
// the image at that point instead.
func (p *patchBase) apply(prog []byte) []byte {
	img := bytes.Clone(p.img)
	for len(prog) >= 4 {
		sel, at, n := prog[0], int64(binary.LittleEndian.Uint16(prog[1:3])), int(prog[3]&15)
		r := p.regions[int(sel&0x7f)%len(p.regions)]
		off := r[0] + at%(r[1]-r[0])
		prog = prog[4:]
		if sel >= 0xF0 {
			if off < int64(len(img)) {
				img = img[:off]
			}
			continue
		}
		n = min(n, len(prog))
		if off < int64(len(img)) {
			copy(img[off:], prog[:n])
		}
		prog = prog[n:]
	}
	return img
}

// patchOp encodes one patch operation for seeds.
func patchOp(region byte, at uint16, data ...byte) []byte {
	return append([]byte{region, byte(at), byte(at >> 8), byte(len(data))}, data...)
}

// FuzzComparePatch runs the whole comparison of the seed ISO against a copy
// changed by a small patch program (see patchBase.apply), so that the
// mutations land in the images' metadata rather than in file data, and the
// image stays a plausible ISO with a plausible squashfs inside.
func FuzzComparePatch(f *testing.F) {
	p := loadPatchBase(f)
	f.Add([]byte{})
	for region := range len(p.regions) {
		f.Add(patchOp(byte(region), 0, 0xff))
		f.Add(patchOp(byte(region), 40, 0xff, 0xff, 0xff, 0xff))
		f.Add(patchOp(byte(region), 157, 0, 0, 0, 0, 0, 0, 0, 0x80))
		f.Add(slices.Concat(patchOp(byte(region), 2, 1), patchOp(0xF0|byte(region), 600)))
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 1024 {
			return // a program of up to ~250 operations is plenty
		}
		b := p.apply(prog)
		bounded(t, func(bg *budget.Budget) { compare(t, p.img, b, bg) })
	})
}

// FuzzInner runs the explain stage's format-aware comparison (gzip headers
// and payloads, cpio and initramfs segments, ar and .deb, tar, zip, ELF
// sections and notes, .pyc) on a real file and a copy changed by a patch
// program (see applyInner), with the options the explain stage uses. Seeds
// are pairs of real files that differ as rebuilds do (testdata/seeds/inner,
// made by make-seeds.sh), each given as its first file and the patch that
// turns it into the second. Each input must yield a result without error
// within a minute, leave the temporary directory empty, and allocate
// within the bound.
func FuzzInner(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "seeds", "inner", "*.a"))
	if err != nil || len(files) == 0 {
		f.Fatal("no seeds in testdata/seeds/inner (run testdata/make-seeds.sh)")
	}
	for _, pa := range files {
		a, err := os.ReadFile(pa)
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(strings.TrimSuffix(pa, ".a") + ".b")
		if err != nil {
			f.Fatal(err)
		}
		prog := innerPatch(a, b)
		if got := applyInner(a, prog); !bytes.Equal(got, b) {
			f.Fatalf("%s: the patch does not make the second file", pa)
		}
		f.Add(a, prog)
	}
	f.Fuzz(func(t *testing.T, a, prog []byte) {
		if len(a) > 1<<16 || len(prog) > 4096 {
			return
		}
		b := applyInner(a, prog)
		bounded(t, func(bg *budget.Budget) { checkInner(t, a, b, bg) })
	})
}

// checkInner is the body of FuzzInner.
func checkInner(t testing.TB, a, b []byte, bg *budget.Budget) {
	in := func(d []byte) explain.Input {
		return explain.Input{Name: "/usr/lib/x", Size: int64(len(d)), Open: func() (io.Reader, error) { return bytes.NewReader(d), nil }}
	}
	ctx, cancel := context.WithTimeout(budget.NewContext(context.Background(), bg), time.Minute)
	defer cancel()
	tmp := t.TempDir()
	r, err := explain.Explain(ctx, in(a), in(b), explain.Options{TempDir: tmp, MaxDetailBytes: 32 << 10})
	if ctx.Err() != nil {
		t.Fatalf("explaining took more than a minute")
	}
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if r == nil || r.Summary == "" {
		t.Fatalf("no result: %+v", r)
	}
	r.Text(32 << 10)
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("%d file(s) left in the temporary directory", len(left))
	}
}

// applyInner returns a copy of a changed by a patch program: operations of
// a 4-byte head (16-bit offset, length n, kind) and for writes n bytes.
// Kind 0 writes the bytes at the offset (growing the copy as needed), 1
// cuts the copy at the offset, 2 appends the bytes.
func applyInner(a, prog []byte) []byte {
	b := bytes.Clone(a)
	for len(prog) >= 4 {
		at, n, kind := int(binary.LittleEndian.Uint16(prog)), int(prog[2]), prog[3]%3
		prog = prog[4:]
		switch kind {
		case 0:
			n = min(n, len(prog))
			at %= len(b) + 1
			if at+n > len(b) {
				b = append(b, make([]byte, at+n-len(b))...)
			}
			copy(b[at:], prog[:n])
			prog = prog[n:]
		case 1:
			b = b[:at%(len(b)+1)]
		case 2:
			n = min(n, len(prog))
			b = append(b, prog[:n]...)
			prog = prog[n:]
		}
	}
	return b
}

// innerPatch returns a patch program that turns a into b (for seeds).
func innerPatch(a, b []byte) []byte {
	var prog []byte
	op := func(at, kind int, data []byte) {
		prog = append(prog, byte(at), byte(at>>8), byte(len(data)), byte(kind))
		prog = append(prog, data...)
	}
	n := min(len(a), len(b))
	for i := 0; i < n; {
		if a[i] == b[i] {
			i++
			continue
		}
		j := i
		for j < n && j-i < 255 && a[j] != b[j] {
			j++
		}
		op(i, 0, b[i:j])
		i = j
	}
	if len(b) < len(a) {
		op(len(b), 1, nil)
	}
	for i := n; i < len(b); i += 255 {
		op(0, 2, b[i:min(i+255, len(b))])
	}
	return prog
}
