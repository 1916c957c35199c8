package isodiff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestHashPass checks one pass's whole and section hashes against hashing
// each range on its own, for sections at unaligned offsets, touching the
// image's ends, empty, and shorter and longer than a chunk.
func TestHashPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := make([]byte, 3*hashChunk+12345)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	cases := [][]passSection{
		nil,
		{{span: span{0, int64(len(img))}}},
		{{span: span{7, 100}}, {span: span{107, 0}}, {span: span{hashChunk + 3, 2*hashChunk + 5}}},
		{{span: span{hashChunk, hashChunk}}, {span: span{int64(len(img)) - 1, 1}}},
	}
	for _, spans := range cases {
		for _, whole := range []bool{true, false} {
			got, sums, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), whole, spans)
			if err != nil {
				t.Fatalf("%v: %v", spans, err)
			}
			if whole && got != sha(img) || !whole && got != "" {
				t.Errorf("%v whole=%v: whole hash %q", spans, whole, got)
			}
			for k, sp := range spans {
				b := img[sp.off : sp.off+sp.n]
				if sums[k] != sha(b) {
					t.Errorf("%v: section %d hash %s, want %s", spans, k, sums[k], sha(b))
				}
			}
		}
	}
	if _, _, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, []passSection{{span: span{10, 10}}, {span: span{15, 10}}}); err == nil {
		t.Error("overlapping sections accepted")
	}
	if _, _, err := hashPass(context.Background(), bytes.NewReader(img[:100]), int64(len(img)), true, nil); err == nil {
		t.Error("a short image hashed without error")
	}
}

// pairedPass hashes section a of imgA and section b of imgB in two
// concurrent passes, paired, and returns the pairing.
func pairedPass(t *testing.T, imgA, imgB io.ReaderAt, sizeA, sizeB int64, a, b span) (*chunkPairing, [2]error) {
	p := newChunkPairing(a.n, b.n)
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _, errs[0] = hashPass(context.Background(), imgA, sizeA, true, []passSection{{span: a, pair: p, side: 0}})
	})
	wg.Go(func() {
		_, _, errs[1] = hashPass(context.Background(), imgB, sizeB, true, []passSection{{span: b, pair: p, side: 1}})
	})
	wg.Wait()
	return p, errs
}

// TestChunkPairing checks the paired passes' first difference and equal
// chunks against a byte-by-byte scan: a difference in each chunk, at chunk
// edges, none, sections of different lengths at different offsets.
func TestChunkPairing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 3*hashChunk + 999
	base := make([]byte, n+50)
	for i := range base {
		base[i] = byte(rng.Uint32())
	}
	a := span{17, int64(n)}
	for _, tc := range []struct {
		flip   int64 // offset in the section to change, or -1
		lenB   int64
		offB   int64
		expect int64
	}{
		{-1, int64(n), 17, -1},
		{0, int64(n), 17, 0},
		{hashChunk - 1, int64(n), 17, hashChunk - 1},
		{hashChunk, int64(n), 17, hashChunk},
		{int64(n) - 1, int64(n), 17, int64(n) - 1},
		{-1, int64(n) - 5, 17, int64(n) - 5},
		{2 * hashChunk, int64(n) + 3, 20, 2 * hashChunk},
	} {
		imgB := bytes.Clone(base)
		copy(imgB[tc.offB:], base[a.off:a.off+a.n]) // B's section holds A's bytes at its offset
		b := span{tc.offB, tc.lenB}
		if tc.flip >= 0 {
			imgB[b.off+tc.flip] ^= 0x55
		}
		p, errs := pairedPass(t, bytes.NewReader(base), bytes.NewReader(imgB), int64(len(base)), int64(len(imgB)), a, b)
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		got, ok := p.firstDiff()
		if !ok || got != tc.expect {
			t.Errorf("flip %d lenB %d: first difference %d (%v), want %d", tc.flip, tc.lenB, got, ok, tc.expect)
		}
		// sameAt agrees with the bytes for ranges around every chunk edge.
		for off := int64(0); off < min(a.n, b.n); off += hashChunk / 2 {
			for _, ln := range []int64{1, 100, hashChunk} {
				if off+ln > min(a.n, b.n) {
					continue
				}
				want := bytes.Equal(base[a.off+off:a.off+off+ln], imgB[b.off+off:b.off+off+ln])
				if got := p.sameAt(off, ln); got && !want {
					t.Errorf("flip %d: sameAt(%d, %d) claims equal bytes that differ", tc.flip, off, ln)
				} else if !got && want && tc.flip < 0 && tc.lenB == a.n {
					t.Errorf("flip %d: sameAt(%d, %d) = false for equal sections", tc.flip, off, ln)
				}
			}
		}
	}
}

// failingAt fails every read from off on.
type failingAt struct {
	r   io.ReaderAt
	off int64
}

func (f failingAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errors.New("device error")
	}
	return f.r.ReadAt(p, off)
}

// TestChunkPairingStops: when one pass fails, the other finishes alone
// (no deadlock) and the pairing says it is incomplete: no first difference,
// and only the chunks compared before the failure are known equal.
func TestChunkPairingStops(t *testing.T) {
	img := make([]byte, 4*hashChunk)
	for _, side := range []int{0, 1} {
		ra, rb := io.ReaderAt(bytes.NewReader(img)), io.ReaderAt(bytes.NewReader(img))
		if side == 0 {
			ra = failingAt{ra, 2 * hashChunk}
		} else {
			rb = failingAt{rb, 2 * hashChunk}
		}
		sp := span{0, int64(len(img))}
		p, errs := pairedPass(t, ra, rb, int64(len(img)), int64(len(img)), sp, sp)
		if errs[side] == nil || errs[1-side] != nil {
			t.Errorf("side %d failing: errors %v", side, errs)
		}
		if _, ok := p.firstDiff(); ok || p.sameAt(2*hashChunk, 1) || p.sameAt(hashChunk, hashChunk+1) {
			t.Errorf("side %d failing: an incomplete pairing is trusted", side)
		}
		if !p.sameAt(0, 2*hashChunk) {
			t.Errorf("side %d failing: the chunks compared before it are not known equal", side)
		}
	}
}

// TestContainerHashes checks the squashfs hashes and the image-level first
// difference against the extracted bytes on both hashing paths: images
// known to differ from their headers (one pass) and images whose headers
// and squashfs ends are equal, with one byte changed inside a data block
// (the squashfs stage hashes the sections in a second pass).
func TestContainerHashes(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr")
	read := func(lt liveTree) []byte {
		b, err := os.ReadFile(lt.build(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := read(defaultTree())
	other := defaultTree()
	other.isoDate = "2024030212000000"
	other.root = maps.Clone(other.root)
	other.root["etc/hostname"] = "ubuntu\n"
	b := read(other)
	sq := squashfsEntry(t, a)
	off, n := sq.Extents[0].Offset, sq.Size
	patched := bytes.Clone(a)
	flip := off + n/2 // inside big.bin's blocks: superblock and tables unchanged
	patched[flip] ^= 0x40

	for _, tc := range []struct {
		name      string
		a, b      []byte
		oneSweep  bool
		wantFirst int64
	}{
		{"headers differ", a, b, true, -2},
		{"one byte inside the squashfs", a, patched, false, n / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(Input{"a", bytes.NewReader(tc.a), int64(len(tc.a))}, Input{"b", bytes.NewReader(tc.b), int64(len(tc.b))}, Options{Squashfs: []string{DefaultSquashfs}})
			if got := s.knownDifferent(); got != tc.oneSweep {
				t.Errorf("knownDifferent = %v, want %v", got, tc.oneSweep)
			}
			var log strings.Builder
			logf := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
			rep, err := CompareInputs(context.Background(), s.in[0], s.in[1], Options{Logf: logf})
			if second := strings.Contains(log.String(), "not done by the sizes stage"); second == tc.oneSweep {
				t.Errorf("sections hashed in a second pass: %v, want %v\n%s", second, !tc.oneSweep, log.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Containers) != 1 {
				t.Fatalf("containers %v", rep.Containers)
			}
			c := rep.Containers[0]
			for i, at := range []*report.ContainerAt{c.A, c.B} {
				img := [2][]byte{tc.a, tc.b}[i]
				if want := sha(img[at.Offset : at.Offset+at.Size]); at.SHA256 != want {
					t.Errorf("side %d: squashfs sha256 %s, want %s", i, at.SHA256, want)
				}
			}
			if tc.wantFirst == -2 { // the first differing byte of the sections, found by scanning
				sa, sb := tc.a[c.A.Offset:c.A.Offset+c.A.Size], tc.b[c.B.Offset:c.B.Offset+c.B.Size]
				tc.wantFirst = -1
				if len(sa) != len(sb) {
					tc.wantFirst = int64(min(len(sa), len(sb)))
				}
				for i := range min(len(sa), len(sb)) {
					if sa[i] != sb[i] {
						tc.wantFirst = int64(i)
						break
					}
				}
			}
			var got int64 = -1
			for _, f := range rep.Stage(report.StageContent).Findings {
				if f.Path == DefaultSquashfs && f.Content != nil {
					got = f.Content.FirstDiff
				}
			}
			if got != tc.wantFirst {
				t.Errorf("first difference of the squashfs images %d, want %d", got, tc.wantFirst)
			}
		})
	}
}

// BenchmarkHashPass: one image's read pass, whole image only (an identical
// pair) and whole image plus a squashfs section of most of it (a differing
// pair: two SHA-256 streams, the section's on its own goroutine).
func BenchmarkHashPass(b *testing.B) {
	img := make([]byte, 64<<20)
	for i := range img {
		img[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name  string
		spans []passSection
	}{
		{"whole", nil},
		{"whole+section", []passSection{{span: span{1 << 20, 62 << 20}}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				if _, _, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, tc.spans); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPairSectionsOrder: two containers stored in opposite orders in the
// two images. Pairing both would deadlock the passes (each waiting at a
// different container); only one is paired, both passes end, and the
// paired one's comparison is right.
func TestPairSectionsOrder(t *testing.T) {
	x := bytes.Repeat([]byte("x"), 2*hashChunk+10)
	y := bytes.Repeat([]byte("y"), hashChunk+20)
	imgA := append(append([]byte{}, x...), y...)
	imgB := append(append([]byte{}, y...), x...)
	imgB[len(y)+5] = 'z' // container x differs at offset 5
	cx, cy := &container{path: "/x"}, &container{path: "/y"}
	secs := [2][]passSection{
		{{span: span{0, int64(len(x))}, side: 0}, {span: span{int64(len(x)), int64(len(y))}, side: 0}},
		{{span: span{0, int64(len(y))}, side: 1}, {span: span{int64(len(y)), int64(len(x))}, side: 1}},
	}
	pairSections(secs, [2][]*container{{cx, cy}, {cy, cx}})
	if (cx.pairing == nil) == (cy.pairing == nil) {
		t.Fatalf("paired: x %v, y %v; want exactly one", cx.pairing != nil, cy.pairing != nil)
	}
	done := make(chan [2]error)
	go func() {
		var errs [2]error
		var wg sync.WaitGroup
		for i, img := range [][]byte{imgA, imgB} {
			wg.Go(func() {
				_, _, errs[i] = hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, secs[i])
			})
		}
		wg.Wait()
		done <- errs
	}()
	select {
	case errs := <-done:
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
	case <-time.After(time.Minute):
		t.Fatal("the passes deadlocked")
	}
	if first, ok := cx.pairingFirstDiff(); cx.pairing != nil && (!ok || first != 5) {
		t.Errorf("x: first difference %d (%v), want 5", first, ok)
	}
	if first, ok := cy.pairingFirstDiff(); cy.pairing != nil && (!ok || first != -1) {
		t.Errorf("y: first difference %d (%v), want none", first, ok)
	}
}

// passGate wraps image B for TestTreesComparedBesidePass: the hashing
// pass's reads past the squashfs image wait until the tree comparison has
// read the image's metadata tables (any read there that is not one of the
// pass's, which start at multiples of hashPiece from the section's
// start), or until a timeout.
type passGate struct {
	r                   io.ReaderAt
	sec, tables, secEnd int64
	started             atomic.Bool // the pass reached the squashfs image
	seen                chan struct{}
	once                sync.Once
	waited              atomic.Bool // a pass read had to wait for the timeout
}

// newPassGate returns the gate of ISO img, whose DefaultSquashfs it reads.
func newPassGate(t *testing.T, img []byte) *passGate {
	t.Helper()
	sq := squashfsEntry(t, img)
	off, n := sq.Extents[0].Offset, sq.Size
	sr, err := squashfs.Open(bytes.NewReader(img[off:off+n]), n)
	if err != nil {
		t.Fatal(err)
	}
	g := &passGate{r: bytes.NewReader(img), sec: off, tables: off + int64(sr.Super.InodeTableStart), secEnd: off + n, seen: make(chan struct{})}
	if (g.tables-off)%hashPiece == 0 {
		t.Skip("the inode table starts where a pass read does: cannot tell the reads apart")
	}
	return g
}

// treeRead records whether the pass has reached the squashfs image and
// reports whether a read of n bytes at off, after that, is one of the
// image's tables read by the tree comparison.
func (g *passGate) treeRead(n int, off int64) bool {
	if off == g.sec && n > probeBytes { // the pass reaching the squashfs (the probes read 64 KiB)
		g.started.Store(true)
	}
	return g.started.Load() && off >= g.tables && off < g.secEnd && (off-g.sec)%hashPiece != 0
}

func (g *passGate) ReadAt(p []byte, off int64) (int, error) {
	if g.treeRead(len(p), off) {
		g.once.Do(func() { close(g.seen) })
	}
	if g.started.Load() && off >= g.secEnd {
		select {
		case <-g.seen:
		case <-time.After(10 * time.Second):
			g.waited.Store(true)
			g.once.Do(func() { close(g.seen) })
		}
	}
	return g.r.ReadAt(p, off)
}

// TestTreesComparedBesidePass: when the probes show a squashfs pair
// differs, the tree comparison reads both trees while the hashing pass is
// still under way (compareAhead), not after it, and the package databases
// are indexed in the same stage; the answer is the same.
func TestTreesComparedBesidePass(t *testing.T) {
	a, b := hostnamePair(t)
	gate := newPassGate(t, b)
	var log strings.Builder
	logf := func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
	var mu sync.Mutex
	var events []Progress
	progress := func(p Progress) {
		mu.Lock()
		events = append(events, p)
		mu.Unlock()
	}
	rep, err := CompareInputs(context.Background(), Input{"a", bytes.NewReader(a), int64(len(a))}, Input{"b", gate, int64(len(b))}, Options{Logf: logf, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	// The progress line shows the pass while it runs: the comparison
	// beside it reports nothing until the pass is over.
	lastPass, firstFiles := -1, -1
	for k, p := range events {
		if p.Stage == report.StageSizes && p.Bytes {
			lastPass = k
		}
		if p.Stage == report.StageSquashfs && p.Step != "" && firstFiles < 0 {
			firstFiles = k
		}
	}
	if firstFiles >= 0 && firstFiles < lastPass {
		t.Errorf("files-compared progress (event %d: %+v) reported while the pass still ran (its last event: %d)", firstFiles, events[firstFiles], lastPass)
	}
	if !gate.started.Load() {
		t.Fatal("no hashing pass read seen")
	}
	if gate.waited.Load() {
		t.Errorf("the hashing pass ended before the trees were read: the tree comparison did not run beside it\n%s", log.String())
	}
	var got []string
	for _, l := range rep.Locations() {
		if l.Scope.Kind == report.ScopeSquashfs {
			got = append(got, l.Path)
		}
	}
	if want := []string{"/etc/hostname"}; !slices.Equal(got, want) {
		t.Errorf("squashfs locations %q, want %q", got, want)
	}

	// The sizes stage leaves the trees compared and the package databases
	// indexed (or found missing) for the later stages.
	s := newSession(Input{"a", bytes.NewReader(a), int64(len(a))}, Input{"b", bytes.NewReader(b), int64(len(b))}, Options{Squashfs: []string{DefaultSquashfs}})
	defer s.close()
	s.report = &report.Report{}
	runSizes(context.Background(), s, &report.Stage{Name: report.StageSizes})
	if len(s.containers) != 1 {
		t.Fatalf("%d containers", len(s.containers))
	}
	c := s.containers[0]
	if c.trees == nil {
		t.Error("the sizes stage did not compare the trees")
	}
	for i := range 2 {
		if c.dbIndex[i] == nil && c.dbErr[i] == nil {
			t.Errorf("side %d: the sizes stage did not index the package database", i)
		}
	}
}

// squashfsEntry returns the ISO img's entry of DefaultSquashfs.
func squashfsEntry(t *testing.T, img []byte) *iso9660.Entry {
	t.Helper()
	im, err := iso9660.Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	for e, err := range im.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == DefaultSquashfs {
			return e
		}
	}
	t.Fatal("no " + DefaultSquashfs + " in the image")
	return nil
}

// failingPass fails the hashing pass's reads (hashPiece long) past off;
// other reads succeed.
type failingPass struct {
	r   io.ReaderAt
	off int64
}

func (f failingPass) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == hashPiece && off >= f.off {
		return 0, errors.New("injected read error")
	}
	return f.r.ReadAt(p, off)
}

// TestPassFailsBesideTrees: when the hashing pass cannot read a side whose
// trees are compared beside it, that side's squashfs hash is unknown: the
// sizes stage says why, the squashfs image is never called identical, and
// the trees' differences are still found.
func TestPassFailsBesideTrees(t *testing.T) {
	a, b := hostnamePair(t)
	sq := squashfsEntry(t, b)
	for _, broken := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		in := [2]Input{{"a", bytes.NewReader(a), int64(len(a))}, {"b", bytes.NewReader(b), int64(len(b))}}
		want := 0
		for i, br := range broken {
			if br {
				in[i].R = failingPass{in[i].R, sq.Extents[0].Offset}
				want++
			}
		}
		rep, err := CompareInputs(context.Background(), in[0], in[1], Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := rep.Stage(report.StageSizes).Problems
		if len(p) != want {
			t.Errorf("sides %v broken: sizes stage problems %v", broken, p)
		}
		for _, p := range p {
			if !strings.Contains(p.Message, "injected read error") {
				t.Errorf("sides %v broken: sizes stage problem %v", broken, p)
			}
		}
		for _, n := range rep.Stage(report.StageSquashfs).Notes {
			if strings.Contains(n, "identical") {
				t.Errorf("sides %v broken: squashfs stage says %q", broken, n)
			}
		}
		found := false
		for _, l := range rep.Locations() {
			found = found || l.Scope.Kind == report.ScopeSquashfs && l.Path == "/etc/hostname"
		}
		if !found {
			t.Errorf("sides %v broken: /etc/hostname not among %v", broken, rep.Locations())
		}
	}
}

// hostnamePair builds the demo live ISO and one whose squashfs holds
// another /etc/hostname.
func hostnamePair(t *testing.T) (a, b []byte) {
	t.Helper()
	testimg.Need(t, "mksquashfs", "xorriso", "setfattr")
	a, err := os.ReadFile(defaultTree().build(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	other := defaultTree()
	other.root = maps.Clone(other.root)
	other.root["etc/hostname"] = "ubuntu\n"
	if b, err = os.ReadFile(other.build(t, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// panickyTables panics, as a reader bug would, on every read of the
// squashfs image's tables that is not the hashing pass's, once the pass
// has reached the image.
type panickyTables struct{ *passGate }

func (p *panickyTables) ReadAt(b []byte, off int64) (int, error) {
	if p.treeRead(len(b), off) {
		panic("reader bug")
	}
	return p.r.ReadAt(b, off)
}

// TestPanicBesidePass: a bug met while the trees are compared beside the
// hashing pass, on the plan's own goroutines (the walks, the workers, the
// package index), is reported as a problem and the comparison finishes,
// as one met on a stage's goroutine always was.
func TestPanicBesidePass(t *testing.T) {
	a, b := hostnamePair(t)
	r := &panickyTables{newPassGate(t, b)}
	rep, err := CompareInputs(context.Background(), Input{"a", bytes.NewReader(a), int64(len(a))}, Input{"b", r, int64(len(b))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.started.Load() {
		t.Fatal("the pass never reached the squashfs image")
	}
	found := false
	for _, st := range rep.Stages {
		for _, p := range st.Problems {
			found = found || strings.Contains(p.Message, "internal error (please report): reader bug")
		}
	}
	if !found {
		t.Errorf("no problem names the bug: %+v", rep.Stages)
	}
	if rep.A.SHA256 == "" || rep.B.SHA256 == "" {
		t.Error("the images were not hashed")
	}
}

// TestBudgetRefusedBesidePass: the budget refusals met by the tree
// comparison run beside the hashing pass are the squashfs stage's
// problems, as when it ran in that stage, not the sizes stage's.
func TestBudgetRefusedBesidePass(t *testing.T) {
	a, b := hostnamePair(t)
	rep, err := CompareInputs(context.Background(), Input{"a", bytes.NewReader(a), int64(len(a))}, Input{"b", bytes.NewReader(b), int64(len(b))},
		Options{MemoryBudget: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	refused := func(name string) bool {
		return slices.ContainsFunc(rep.Stage(name).Problems, func(p report.Problem) bool { return strings.Contains(p.Message, "memory budget") })
	}
	if refused(report.StageSizes) || !refused(report.StageSquashfs) {
		t.Errorf("budget problems: sizes stage %v, squashfs stage %v; want only the squashfs stage's",
			rep.Stage(report.StageSizes).Problems, rep.Stage(report.StageSquashfs).Problems)
	}
}

// slowReads delays every read of more than 4 KiB (the hashing pass's), so
// that the pass lasts while the comparison beside it is watched.
type slowReads struct{ r io.ReaderAt }

func (s slowReads) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > 4096 {
		time.Sleep(2 * time.Millisecond)
	}
	return s.r.ReadAt(p, off)
}

// TestAheadOneContainerAtATime: an ISO decides how many squashfs images
// it holds, and each tree comparison runs walkers and workers of its own,
// with their decoders: beside the hashing pass they are compared one after
// the other, as the squashfs stage would, so eight images cost no more
// goroutines at once than one comparison does.
func TestAheadOneContainerAtATime(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso")
	build := func(images int, side string) []byte {
		dir := t.TempDir()
		iso := filepath.Join(dir, "iso")
		for k := range images {
			src := filepath.Join(dir, fmt.Sprintf("src%d", k))
			files := map[string]string{"etc/hostname": side + "\n"}
			for f := range 40 {
				files[fmt.Sprintf("usr/share/f%02d", f)] = strings.Repeat(fmt.Sprintf("%d %d\n", k, f), 3000)
			}
			testimg.WriteFiles(t, src, files)
			if err := os.MkdirAll(filepath.Join(iso, "live"), 0o755); err != nil {
				t.Fatal(err)
			}
			testimg.MakeSquashfs(t, src, filepath.Join(iso, "live", fmt.Sprintf("layer%d.squashfs", k)), "-noappend", "-mkfs-time", "0", "-all-time", "0")
		}
		b, err := os.ReadFile(testimg.MakeISO(t, iso, filepath.Join(dir, "out.iso"), "-R", "-V", "LAYERS"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	peak := func(images int) int {
		a, b := build(images, "debian"), build(images, "ubuntu")
		base := runtime.NumGoroutine()
		most := base
		done := make(chan struct{})
		var watch sync.WaitGroup
		watch.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(200 * time.Microsecond):
					most = max(most, runtime.NumGoroutine())
				}
			}
		})
		rep, err := CompareInputs(context.Background(), Input{"a", slowReads{bytes.NewReader(a)}, int64(len(a))}, Input{"b", slowReads{bytes.NewReader(b)}, int64(len(b))}, Options{})
		close(done)
		watch.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(rep.Containers); got != images {
			t.Fatalf("%d containers, want %d", got, images)
		}
		return most - base
	}
	// One comparison: a worker per core, two walks, its merge, the two
	// package index readers, the two passes and their section hashes.
	one := runtime.GOMAXPROCS(0) + 16
	if eight := peak(8); eight > one {
		t.Errorf("eight images ran %d goroutines at once (one comparison: at most %d): the comparisons ran side by side", eight, one)
	}
}
