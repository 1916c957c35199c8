package isodiff

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
)

// scattered makes a section of the given parts of an image.
func scattered(parts ...span) passSection {
	n := int64(0)
	for _, p := range parts {
		n += p.n
	}
	return passSection{span: span{parts[0].off, n}, parts: parts}
}

// gather returns a section's bytes, in file order.
func gather(img []byte, sc passSection) []byte {
	var b []byte
	for _, p := range sc.pieces() {
		b = append(b, img[p.off:p.off+p.n]...)
	}
	return b
}

// TestHashPassParts checks the hashes of sections recorded in several
// parts (a multi-extent file whose extents are not adjacent) against
// hashing their bytes joined: parts ending inside, at and just past a
// chunk's end, tiny parts, a plain section between two scattered ones,
// with and without the whole-image hash.
func TestHashPassParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const c = hashChunk
	img := make([]byte, 6*c+4321)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	cases := [][]passSection{
		{scattered(span{10, c - 5}, span{c + 100, 2*c + 3}, span{4 * c, 17})},
		{scattered(span{0, c}, span{c + 1, c}, span{3 * c, 1}), {span: span{3*c + 5, 10}}, scattered(span{4 * c, 3}, span{4*c + 9, c + 2})},
		{scattered(span{2048, 2048}, span{8192, 4096}, span{6 * c, 4321})},
		{scattered(span{0, 1}, span{2, 1}, span{4, 1}), {span: span{5, 0}}, {span: span{7, c}}},
	}
	for k, secs := range cases {
		for _, whole := range []bool{true, false} {
			got, sums, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), whole, secs)
			if err != nil {
				t.Fatalf("case %d: %v", k, err)
			}
			if whole && got != sha(img) || !whole && got != "" {
				t.Errorf("case %d whole=%v: whole hash %q", k, whole, got)
			}
			for j, sc := range secs {
				if want := sha(gather(img, sc)); sums[j] != want {
					t.Errorf("case %d whole=%v: section %d hash %s, want %s", k, whole, j, sums[j], want)
				}
			}
		}
	}
	for _, bad := range [][]passSection{
		{scattered(span{100, 10}, span{50, 10})},                        // parts out of order
		{scattered(span{100, 10}, span{105, 10})},                       // overlapping
		{scattered(span{100, 10}, span{200, 0}, span{300, 1})},          // an empty part
		{scattered(span{100, 10}, span{300, 10}), {span: span{200, 5}}}, // a section inside another's gap
		{scattered(span{100, 10}, span{int64(len(img)), 1})},            // past the end
	} {
		if _, _, err := hashPass(context.Background(), bytes.NewReader(img), int64(len(img)), true, bad); err == nil {
			t.Errorf("sections %+v accepted", bad)
		}
	}
}

// TestChunkPairingParts pairs a section stored in one run in image A with
// the same bytes scattered in image B, and checks the first difference,
// the equal chunks and the hashes against the bytes: chunks are counted
// in the file's bytes, whatever the parts.
func TestChunkPairingParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const c = hashChunk
	n := int64(3*c + 5000)
	imgA := make([]byte, n+2048)
	for i := range imgA {
		imgA[i] = byte(rng.Uint32())
	}
	a := passSection{span: span{2048, n}, side: 0}
	// B: three parts with gaps of other bytes, the first part ending
	// inside chunk 1, the second 2048 bytes into chunk 2.
	lens := []int64{c + 4096, c - 2048, n - (2*c + 2048)}
	imgB := make([]byte, 0, n+5*c)
	var parts []span
	at := int64(0)
	for _, l := range lens {
		gap := make([]byte, 6144)
		for i := range gap {
			gap[i] = byte(rng.Uint32())
		}
		imgB = append(imgB, gap...)
		parts = append(parts, span{int64(len(imgB)), l})
		imgB = append(imgB, imgA[a.off+at:a.off+at+l]...)
		at += l
	}
	imgB = append(imgB, "tail"...)
	b := scattered(parts...)
	b.side = 1
	for _, flip := range []int64{-1, 0, c + 4095, c + 4096, 2*c - 1, 2 * c, 2*c + 2048, n - 1} {
		bb := bytes.Clone(imgB)
		if flip >= 0 { // the file's byte at flip, wherever its part lies
			o := flip
			for _, p := range parts {
				if o < p.n {
					bb[p.off+o] ^= 0x11
					break
				}
				o -= p.n
			}
		}
		p := newChunkPairing(a.n, b.n)
		sa, sb := a, b
		sa.pair, sb.pair = p, p
		var sums [2][]string
		var errs [2]error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, sums[0], errs[0] = hashPass(context.Background(), bytes.NewReader(imgA), int64(len(imgA)), true, []passSection{sa})
		})
		wg.Go(func() {
			_, sums[1], errs[1] = hashPass(context.Background(), bytes.NewReader(bb), int64(len(bb)), true, []passSection{sb})
		})
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatal(errs)
		}
		fa, fb := gather(imgA, a), gather(bb, b)
		if sums[0][0] != sha(fa) || sums[1][0] != sha(fb) {
			t.Errorf("flip %d: section hashes %v", flip, sums)
		}
		got, ok := p.firstDiff()
		if !ok || got != flip {
			t.Errorf("flip %d: first difference %d (%v)", flip, got, ok)
		}
		for off := int64(0); off < n; off += c / 2 {
			ln := min(c, n-off)
			if want := bytes.Equal(fa[off:off+ln], fb[off:off+ln]); p.sameAt(off, ln) && !want {
				t.Errorf("flip %d: sameAt(%d, %d) claims equal bytes that differ", flip, off, ln)
			} else if flip < 0 && !p.sameAt(off, ln) {
				t.Errorf("flip %d: sameAt(%d, %d) = false for equal sections", flip, off, ln)
			}
		}
	}
}

// splitExtents rewrites the ISO 9660 directory record of e (found by its
// extent and size, which appear in no other record of an image made
// without Joliet) as several records with the same name and system use,
// one per extent given, all but the last flagged multi-extent. The records
// must fit in the directory's sector.
func splitExtents(t *testing.T, img []byte, e *iso9660.Entry, extents []iso9660.Extent) {
	t.Helper()
	le, be := binary.LittleEndian, binary.BigEndian
	lba, size := uint32(e.Extents[0].Offset/iso9660.SectorSize), uint32(e.Extents[0].Size)
	var key []byte
	key = le.AppendUint32(key, lba)
	key = be.AppendUint32(key, lba)
	key = le.AppendUint32(key, size)
	key = be.AppendUint32(key, size)
	at := bytes.Index(img, key)
	if at < 2 || bytes.Contains(img[at+1:], key) {
		t.Fatalf("the directory record of %s is not found once", e.Path)
	}
	rec := at - 2
	start := rec / iso9660.SectorSize * iso9660.SectorSize
	sector := img[start : start+iso9660.SectorSize]
	var out []byte
	for p := 0; p < len(sector) && sector[p] != 0; p += int(sector[p]) {
		raw := sector[p : p+int(sector[p])]
		if start+p != rec {
			out = append(out, raw...)
			continue
		}
		for k, x := range extents {
			r := bytes.Clone(raw)
			le.PutUint32(r[2:], uint32(x.Offset/iso9660.SectorSize))
			be.PutUint32(r[6:], uint32(x.Offset/iso9660.SectorSize))
			le.PutUint32(r[10:], uint32(x.Size))
			be.PutUint32(r[14:], uint32(x.Size))
			r[25] &^= iso9660.FlagMultiExtent
			if k < len(extents)-1 {
				r[25] |= iso9660.FlagMultiExtent
			}
			out = append(out, r...)
		}
	}
	if len(out) > len(sector) {
		t.Fatalf("%d bytes of records do not fit in a sector", len(out))
	}
	copy(sector, make([]byte, len(sector)))
	copy(sector, out)
}

// TestScatteredExtents compares live ISOs whose squashfs is a multi-extent
// file with extents that are not adjacent: in image order with other bytes
// between them, and in reverse order (the second extent first in the
// image). No writer we know records them so (xorriso writes a file's
// extents one after the other), so the images are made by storing the
// squashfs's two halves in a file of the ISO, with filler between them or
// swapped, and rewriting its directory record as two records. Each case
// pairs two layouts; the squashfs hashes must be those of the squashfs
// files, the inner files must be found to differ where they do, and
// nothing must be reported wrong.
func TestScatteredExtents(t *testing.T) {
	testimg.Need(t, "mksquashfs", "xorriso")
	rng := rand.New(rand.NewPCG(9, 10))
	big := make([]byte, 700<<10)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	const bigFlip, noteAt = 500_000, 9
	dir := t.TempDir()
	var sq [2][]byte
	for i := range sq {
		b, note := bytes.Clone(big), "the note A\n"
		if i == 1 {
			b[bigFlip] ^= 1
			note = "the note B\n"
		}
		root := filepath.Join(dir, fmt.Sprintf("root%d", i))
		testimg.WriteFiles(t, root, map[string]string{"big.bin": string(b), "etc/note": note, "etc/same": "same\n"})
		stampTree(t, root)
		out := filepath.Join(dir, fmt.Sprintf("%d.sqfs", i))
		testimg.MakeSquashfs(t, root, out, "-comp", "gzip", "-mkfs-time", fmt.Sprint(epoch.Unix()), "-all-root")
		var err error
		if sq[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	const half = 160 * iso9660.SectorSize // where the squashfs is cut: inside big.bin's blocks
	filler := bytes.Repeat([]byte("filler, not squashfs "), 3*iso9660.SectorSize/21+1)[:3*iso9660.SectorSize]
	// build makes an ISO holding squashfs s in layout ("plain", "gap" or
	// "reversed") and returns its bytes.
	build := func(name string, s []byte, layout string) []byte {
		isoDir := filepath.Join(dir, name)
		head, tail := s[:half], s[half:]
		var stored []byte
		switch layout {
		case "plain":
			stored = s
		case "gap":
			stored = append(append(bytes.Clone(head), filler...), tail...)
		case "reversed":
			padded := append(bytes.Clone(tail), make([]byte, (iso9660.SectorSize-len(tail)%iso9660.SectorSize)%iso9660.SectorSize)...)
			stored = append(padded, head...)
		}
		testimg.WriteFiles(t, isoDir, map[string]string{"live/filesystem.squashfs": string(stored), "live/vmlinuz": "kernel\n"})
		stampTree(t, isoDir)
		img, err := os.ReadFile(testimg.MakeISO(t, isoDir, filepath.Join(dir, name+".iso"), "-R", "-V", "SCATTERED"))
		if err != nil {
			t.Fatal(err)
		}
		e := squashfsEntry(t, img)
		l := e.Extents[0].Offset
		switch layout {
		case "gap":
			splitExtents(t, img, e, []iso9660.Extent{{Offset: l, Size: half}, {Offset: l + half + int64(len(filler)), Size: int64(len(tail))}})
		case "reversed":
			splitExtents(t, img, e, []iso9660.Extent{{Offset: l + int64(len(stored)-half), Size: half}, {Offset: l, Size: int64(len(tail))}})
		}
		return img
	}
	for _, tc := range []struct{ a, b string }{
		{"gap", "gap"},
		{"plain", "reversed"},
		{"reversed", "reversed"},
		{"reversed", "gap"},
	} {
		t.Run(tc.a+"-"+tc.b, func(t *testing.T) {
			imgs := [2][]byte{build("a-"+tc.a, sq[0], tc.a), build("b-"+tc.b, sq[1], tc.b)}
			// The patched images read as intended: xorriso, which reads
			// multi-extent files, lists the file once at its size.
			for i, img := range imgs {
				p := filepath.Join(dir, fmt.Sprintf("check%d.iso", i))
				if err := os.WriteFile(p, img, 0o644); err != nil {
					t.Fatal(err)
				}
				ls := testimg.Run(t, dir, "xorriso", "-indev", p, "-find", DefaultSquashfs, "-exec", "lsdl")
				if strings.Count(ls, "\n") != 1 || !strings.Contains(ls, fmt.Sprintf(" %d ", len(sq[i]))) {
					t.Fatalf("xorriso lists %q, not one file of %d bytes", ls, len(sq[i]))
				}
			}
			var log strings.Builder
			rep, err := CompareInputs(context.Background(),
				Input{"a.iso", bytes.NewReader(imgs[0]), int64(len(imgs[0]))}, Input{"b.iso", bytes.NewReader(imgs[1]), int64(len(imgs[1]))},
				Options{NoDiffoscope: true, Logf: func(f string, args ...any) { fmt.Fprintf(&log, f+"\n", args...) }})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed() || len(rep.Damage) > 0 {
				for _, st := range rep.Stages {
					for _, p := range st.Problems {
						t.Errorf("problem: %v", p)
					}
				}
				t.Fatalf("report failed or damaged: %+v", rep.Damage)
			}
			if len(rep.Containers) != 1 || rep.Containers[0].A == nil || rep.Containers[0].B == nil {
				t.Fatalf("containers %+v", rep.Containers)
			}
			for i, at := range []*report.ContainerAt{rep.Containers[0].A, rep.Containers[0].B} {
				if at.Size != int64(len(sq[i])) || at.SHA256 != sha(sq[i]) {
					t.Errorf("side %d: container size %d sha256 %s, want %d %s", i, at.Size, at.SHA256, len(sq[i]), sha(sq[i]))
				}
			}
			wantFirst := int64(-1)
			for k := range sq[0] {
				if sq[0][k] != sq[1][k] {
					wantFirst = int64(k)
					break
				}
			}
			got := map[string]int64{}
			for _, f := range rep.Stage(report.StageContent).Findings {
				if f.Content != nil {
					got[f.Path] = f.Content.FirstDiff
				}
			}
			want := map[string]int64{DefaultSquashfs: wantFirst, "/big.bin": bigFlip, "/etc/note": noteAt}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("content differences (path: first differing byte) %v, want %v\n%s", got, want, log.String())
			}
			// Sections in image order are hashed by the one pass; others
			// are read on their own, through the file.
			second := strings.Contains(log.String(), "not done by the sizes stage")
			if wantSecond := tc.a == "reversed" || tc.b == "reversed"; second != wantSecond {
				t.Errorf("a second hashing pass: %v, want %v\n%s", second, wantSecond, log.String())
			}
		})
	}
}

// gatedReader lets reads at or past off through only once open is closed.
type gatedReader struct {
	r    io.ReaderAt
	off  int64
	open chan struct{}
}

func (g gatedReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > g.off {
		<-g.open
	}
	return g.r.ReadAt(p, off)
}

// TestChunkPairingAsksEarly: sameAt may be asked while the passes run (a
// tree comparison beside them): about chunks compared it answers at once,
// about the others it waits until the passes get there, and when a pass
// ends early it answers false for what was not compared, without waiting
// for ever.
func TestChunkPairingAsksEarly(t *testing.T) {
	const c = hashChunk
	img := make([]byte, 4*c)
	for i := range img {
		img[i] = byte(i * 7)
	}
	imgB := bytes.Clone(img)
	imgB[3*c+10] ^= 1 // chunk 3 differs
	for _, fail := range []bool{false, true} {
		gate := make(chan struct{})
		p := newChunkPairing(int64(len(img)), int64(len(img)))
		var rb io.ReaderAt = bytes.NewReader(imgB)
		if fail {
			rb = failingAt{rb, 2 * c}
		}
		ra := gatedReader{bytes.NewReader(img), 2 * c, gate} // A stops before chunk 2 until the gate opens
		done := make(chan struct{})
		go func() {
			defer close(done)
			var wg sync.WaitGroup
			sec := span{0, int64(len(img))}
			wg.Go(func() {
				hashPass(context.Background(), ra, int64(len(img)), true, []passSection{{span: sec, pair: p, side: 0}})
			})
			wg.Go(func() {
				hashPass(context.Background(), rb, int64(len(imgB)), true, []passSection{{span: sec, pair: p, side: 1}})
			})
			wg.Wait()
		}()
		if !p.sameAt(0, 2*c) { // chunks 0 and 1: compared before the gate
			t.Errorf("fail=%v: chunks 0-1 not known equal", fail)
		}
		answer := make(chan bool)
		go func() { answer <- p.sameAt(2*c, c) }()
		select {
		case <-answer:
			if !fail {
				t.Errorf("sameAt answered about chunk 2 before the passes got there")
			}
		case <-time.After(100 * time.Millisecond):
		}
		close(gate)
		if fail {
			// B failed at chunk 2: A ends alone; nothing past chunk 1 is known.
			<-done
			if p.sameAt(2*c, c) || p.sameAt(3*c, c) {
				t.Error("chunks the passes did not compare are known equal")
			}
			continue
		}
		if !<-answer {
			t.Error("chunk 2 not known equal")
		}
		if p.sameAt(3*c, 100) || p.sameAt(3*c+20, 100) {
			t.Error("chunk 3, which differs, is known equal")
		}
		<-done
		if first, ok := p.firstDiff(); !ok || first != 3*c+10 {
			t.Errorf("first difference %d (%v)", first, ok)
		}
	}
}

// TestImageOffsetThroughParts: an offset inside a container recorded in
// extents that are not adjacent maps to the extent that holds it, so a
// problem inside such a container names the right byte of the ISO.
func TestImageOffsetThroughParts(t *testing.T) {
	f := &isoFile{size: 300, parts: []span{{off: 10_000, n: 100}, {off: 2_000, n: 150}, {off: 50_000, n: 50}}}
	c := &container{files: [2]*isoFile{nil, f}}
	for _, tc := range []struct{ in, want int64 }{
		{0, 10_000}, {99, 10_099}, {100, 2_000}, {249, 2_149}, {250, 50_000}, {299, 50_049}, {310, 50_060},
	} {
		if got := c.imageOffset(1)(tc.in); got != tc.want {
			t.Errorf("offset %d: image offset %d, want %d", tc.in, got, tc.want)
		}
	}
	if got := c.imageOffset(0)(7); got != 7 {
		t.Errorf("a side not located: %d, want the offset itself", got)
	}
}
