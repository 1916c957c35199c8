package explain

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
)

// The tests in this file build crafted inputs of well under 1 MB (most
// decode to far more) at test time and require of each, whatever the
// input says:
//   - with a budget of boundLimit, that the comparison ends (in time),
//     allocates under boundAlloc in all (runtime.MemStats.TotalAlloc),
//     releases every charge, and either finishes or reports the refused
//     charge (Result.Err, the returned error, an incomplete summary);
//   - cancelled 100 ms in, that Explain returns within a second after;
//   - that the private temporary directory is gone.

const (
	boundLimit = 16 << 20
	boundAlloc = 64 << 20
	// boundStop is the most Explain may take to return after its
	// context is cancelled: generous, for a loaded 2-core machine with
	// the race detector.
	boundStop = time.Second
)

func memInput(name string, data []byte) Input {
	return Input{Name: name, Size: int64(len(data)), Open: func() (io.Reader, error) { return bytes.NewReader(data), nil }}
}

func zstdOf(t *testing.T, write func(w io.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(1<<20), zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	write(zw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// boundedRun is what checkBounds measured.
type boundedRun struct {
	r       *Result
	err     error
	alloc   uint64
	elapsed time.Duration
	bud     *budget.Budget
}

// checkBounds runs the three checks above on a pair and returns the
// budgeted run.
func checkBounds(t *testing.T, a, b Input, opts Options) boundedRun {
	t.Helper()
	for _, in := range []Input{a, b} {
		if in.Size >= 1<<20 {
			t.Fatalf("crafted input %s is %d bytes: keep it under 1 MB", in.Name, in.Size)
		}
	}
	run := explainBudgeted(t, a, b, opts, 2*time.Minute)
	t.Logf("%s: %v, %s allocated, budget peak %s, err %v; summary: %s", t.Name(), run.elapsed.Round(time.Millisecond),
		budget.Size(int64(run.alloc)), budget.Size(run.bud.Peak()), run.err, excerpt(run.r.Summary, 300))
	if run.alloc > boundAlloc {
		t.Errorf("allocated %s in all, want under %s", budget.Size(int64(run.alloc)), budget.Size(boundAlloc))
	}
	if run.bud.Peak() == 0 {
		t.Error("nothing was charged to the budget")
	}
	if run.bud.Peak() > boundLimit {
		t.Errorf("budget peak %d over its limit %d", run.bud.Peak(), boundLimit)
	}
	if used := run.bud.Used(); used != 0 {
		t.Errorf("%d bytes still charged after Explain returned", used)
	}
	if errors.Is(run.err, context.DeadlineExceeded) {
		t.Errorf("not done after %v", run.elapsed)
	}
	var ee *budget.ExceededError
	if run.err != nil && !errors.As(run.err, &ee) && !errors.Is(run.err, context.DeadlineExceeded) {
		t.Errorf("Explain: %v", run.err)
	}
	if ee != nil {
		if run.r.Err != run.err {
			t.Errorf("Result.Err = %v, want the returned %v", run.r.Err, run.err)
		}
		if run.r.Complete || !strings.Contains(run.r.Summary, "incomplete: memory budget") {
			t.Errorf("a comparison ended by the budget must say so: complete %v, summary %q", run.r.Complete, run.r.Summary)
		}
		if run.bud.Refused() == nil {
			t.Error("the budget does not know of the refusal")
		}
	}
	checkCancel(t, a, b, opts)
	return run
}

// explainBudgeted runs Explain under a fresh budget of boundLimit and a
// deadline, measuring allocation, and checks the temporary directory.
func explainBudgeted(t *testing.T, a, b Input, opts Options, deadline time.Duration) boundedRun {
	t.Helper()
	tmp := t.TempDir()
	opts.TempDir = tmp
	bud := budget.New(boundLimit)
	ctx, cancel := context.WithTimeout(budget.NewContext(context.Background(), bud), deadline)
	defer cancel()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r, err := Explain(ctx, a, b, opts)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if r == nil {
		t.Fatalf("Explain returned no result: %v", err)
	}
	checkTempEmpty(t, tmp)
	return boundedRun{r: r, err: err, alloc: after.TotalAlloc - before.TotalAlloc, elapsed: elapsed, bud: bud}
}

// checkCancel cancels Explain 100 ms in and requires it back promptly.
func checkCancel(t *testing.T, a, b Input, opts Options) {
	t.Helper()
	tmp := t.TempDir()
	opts.TempDir = tmp
	ctx, cancel := context.WithCancel(budget.NewContext(context.Background(), budget.New(boundLimit)))
	defer cancel()
	var cancelledAt atomic.Int64 // UnixNano, set by the timer's goroutine
	timer := time.AfterFunc(100*time.Millisecond, func() { cancelledAt.Store(time.Now().UnixNano()); cancel() })
	defer timer.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Explain(ctx, a, b, opts)
	}()
	select {
	case <-done:
	case <-time.After(100*time.Millisecond + boundStop + 30*time.Second):
		t.Fatalf("Explain still running %v after its cancellation", boundStop+30*time.Second)
	}
	if at := cancelledAt.Load(); at != 0 {
		if late := time.Since(time.Unix(0, at)); late > boundStop {
			t.Errorf("Explain returned %v after its context was cancelled, want under %v", late.Round(time.Millisecond), boundStop)
		}
	}
	checkTempEmpty(t, tmp)
}

func checkTempEmpty(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, left)
	}
}

// tarHeader is a ustar (or GNU, with gnu set) header block.
func tarHeader(name string, typ byte, size, mtime int64, gnu bool) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], fmt.Sprintf("%011o\x00", mtime))
	h[156] = typ
	if gnu {
		copy(h[257:], "ustar  \x00")
	} else {
		copy(h[257:], "ustar\x0000")
	}
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

// tarEntry writes a header, n bytes of data from pieces, and padding.
func tarEntry(w io.Writer, hdr []byte, n int64, pieces ...[]byte) {
	w.Write(hdr)
	for _, p := range pieces {
		w.Write(p)
	}
	w.Write(make([]byte, (512-n%512)%512))
}

// paxTar writes a tar of n members, each with a PAX record of valueLen
// bytes (the last byte differing by side), or a GNU long name of about
// valueLen bytes when longName is set (as archive/tar writes them, by
// hand: archive/tar's writer is slow on them under the race detector).
func paxTar(w io.Writer, side byte, n, valueLen int, longName bool) error {
	filler := bytes.Repeat([]byte("v"), valueLen)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%04d", i)
		mtime := t0.Unix()
		if longName {
			long := append(bytes.Repeat([]byte("d"), valueLen-16), fmt.Sprintf("/m%04d\x00", i)...)
			tarEntry(w, tarHeader("././@LongLink", 'L', int64(len(long)), 0, true), int64(len(long)), long)
			name = string(long[:100])
			mtime += int64(side) * 3600
		} else {
			value := append(filler[:valueLen-1:valueLen-1], 'a'+side)
			rec := " comment=" + string(value) + "\n"
			n := len(rec) + 7
			for len(fmt.Sprint(n))+len(rec) != n {
				n = len(fmt.Sprint(n)) + len(rec)
			}
			data := fmt.Sprint(n) + rec
			tarEntry(w, tarHeader("PaxHeaders/"+name, 'x', int64(len(data)), 0, false), int64(len(data)), []byte(data))
		}
		tarEntry(w, tarHeader(name, '0', 1, mtime, longName), 1, []byte{side})
	}
	_, err := w.Write(make([]byte, 1024))
	return err
}

// TestBoundTarPAX: 100 members each carrying a PAX record of almost 1 MiB
// (the most archive/tar accepts), in a zstd stream of a few KiB. The
// listing holds an excerpt and digest of each value, not the value
// (archive/tar allocated some 300 MB for these records, the listing and
// details held 100 MB of them per side).
func TestBoundTarPAX(t *testing.T) {
	var in [2]Input
	for side := range in {
		data := zstdOf(t, func(w io.Writer) {
			if err := paxTar(w, byte(side), 100, 1<<20-64, false); err != nil {
				t.Fatal(err)
			}
		})
		in[side] = memInput("pax.tar.zst", data)
	}
	run := checkBounds(t, in[0], in[1], Options{})
	if run.err == nil && !strings.Contains(run.r.Text(1<<20), "pax comment vvvv") {
		t.Errorf("the differing PAX records are not shown:\n%s", run.r.Text(4096))
	}
	if d := run.r.Text(1 << 20); strings.Count(d, "v") > 100*2*(excerptLen+64) {
		t.Errorf("details hold whole PAX values: %d bytes", len(d))
	}
}

// TestBoundTarLongNames: 100 members with GNU long names ('L' entries)
// of almost 1 MiB each.
func TestBoundTarLongNames(t *testing.T) {
	var in [2]Input
	for side := range in {
		data := zstdOf(t, func(w io.Writer) {
			if err := paxTar(w, byte(side), 100, 1<<20-64, true); err != nil {
				t.Fatal(err)
			}
		})
		in[side] = memInput("names.tar.zst", data)
	}
	run := checkBounds(t, in[0], in[1], Options{})
	if run.err == nil && !strings.Contains(run.r.Summary, "mtime of 100") {
		t.Errorf("want the mtimes of the 100 long-named members compared, got %q", run.r.Summary)
	}
}

// elfWithSections builds a little-endian ELF64 file holding data, with
// n section headers covering it (all the same range, or each shifted by
// one byte) and a section name table.
func elfWithSections(data []byte, n int, shifted bool) []byte {
	return elfWithNames(data, n, shifted, "")
}

// elfWithNames is elfWithSections with the data sections named by a name
// of their own, when not empty.
func elfWithNames(data []byte, n int, shifted bool, name string) []byte {
	const ehsize, shentsize = 64, 64
	names := []byte("\x00.rodata\x00.shstrtab\x00")
	nameOff := uint32(1)
	if name != "" {
		nameOff = uint32(len(names))
		names = append(append(names, name...), 0)
	}
	dataOff := int64(ehsize)
	namesOff := dataOff + int64(len(data))
	shoff := (namesOff + int64(len(names)) + 7) &^ 7
	out := make([]byte, shoff+int64(n+2)*shentsize)
	copy(out, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(out[16:], 3)  // ET_DYN
	le.PutUint16(out[18:], 62) // x86-64
	le.PutUint32(out[20:], 1)
	le.PutUint64(out[0x28:], uint64(shoff))
	le.PutUint16(out[0x34:], ehsize)
	le.PutUint16(out[0x3a:], shentsize)
	le.PutUint16(out[0x3c:], uint16(n+2))
	le.PutUint16(out[0x3e:], uint16(n+1))
	copy(out[dataOff:], data)
	copy(out[namesOff:], names)
	for i := 1; i <= n; i++ {
		sh := out[shoff+int64(i)*shentsize:]
		off, size := dataOff, int64(len(data))
		if shifted {
			off, size = dataOff+int64(i), int64(len(data)-i)
		}
		le.PutUint32(sh[0:], nameOff) // .rodata
		le.PutUint32(sh[4:], uint32(elf_SHT_PROGBITS))
		le.PutUint64(sh[8:], 2) // SHF_ALLOC
		le.PutUint64(sh[0x18:], uint64(off))
		le.PutUint64(sh[0x20:], uint64(size))
		le.PutUint64(sh[0x30:], 1)
	}
	sh := out[shoff+int64(n+1)*shentsize:]
	le.PutUint32(sh[0:], 9) // .shstrtab
	le.PutUint32(sh[4:], 3) // SHT_STRTAB
	le.PutUint64(sh[0x18:], uint64(namesOff))
	le.PutUint64(sh[0x20:], uint64(len(names)))
	le.PutUint64(sh[0x30:], 1)
	return out
}

const elf_SHT_PROGBITS = 1

// elfStrings is 512 KiB of distinct NUL-terminated strings, each side's
// different.
func elfStrings(side byte) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 512<<10; i++ {
		fmt.Fprintf(&b, "/build/%c/%07d\x00", 'a'+side, i)
	}
	return b.Bytes()[:512<<10]
}

// TestBoundELFOverlappingSections: 200 section headers all covering the
// same 512 KiB of strings (every string differing between the sides).
// Each pair of ranges is compared and scanned once (it took minutes, and
// ignored cancellation, compared and scanned 200 times, holding every
// string of every scan).
func TestBoundELFOverlappingSections(t *testing.T) {
	for _, shifted := range []bool{false, true} {
		t.Run(fmt.Sprintf("shifted=%v", shifted), func(t *testing.T) {
			var in [2]Input
			for side := range in {
				raw := elfWithSections(elfStrings(byte(side)), 200, shifted)
				in[side] = memInput("lib.so.zst", zstdOf(t, func(w io.Writer) { w.Write(raw) }))
			}
			run := checkBounds(t, in[0], in[1], Options{})
			if run.err == nil && !strings.Contains(run.r.Text(1<<20), "/build/b/") {
				t.Errorf("the differing strings are not shown:\n%s", run.r.Text(4096))
			}
		})
	}
}

// TestBoundELFSectionNames: 300 section headers all named by one name of
// 900 KB. debug/elf makes a copy of the name for each (270 MB): the
// headers and names are charged before it reads them, and the budget
// refuses.
func TestBoundELFSectionNames(t *testing.T) {
	var in [2]Input
	for side := range in {
		raw := elfWithNames([]byte{byte(side)}, 300, false, strings.Repeat("n", 900_000))
		in[side] = memInput("lib.so.zst", zstdOf(t, func(w io.Writer) { w.Write(raw) }))
	}
	run := checkBounds(t, in[0], in[1], Options{})
	var ee *budget.ExceededError
	if !errors.As(run.err, &ee) || !strings.Contains(ee.What, "ELF headers") || ee.N < 300*900_000 {
		t.Errorf("want the section names refused, got %v", run.err)
	}
}

// fatImage builds a FAT16 image: 512-byte sectors, 4 per cluster, a root
// directory of rootEntries entries filled by root, and a FAT whose
// entries fat sets (cluster -> next).
func fatImage(serial uint32, rootEntries int, root func(dir []byte), fat func(set func(c, next uint16))) []byte {
	const bps, spc, reserved, fatSectors, clusters = 512, 4, 1, 40, 4200
	rootSectors := (rootEntries*32 + bps - 1) / bps
	total := reserved + fatSectors + rootSectors + clusters*spc
	img := make([]byte, total*bps)
	bs := img[:512]
	copy(bs, "\xeb\x3c\x90mkfs.fat")
	le := binary.LittleEndian
	le.PutUint16(bs[11:], bps)
	bs[13] = spc
	le.PutUint16(bs[14:], reserved)
	bs[16] = 1
	le.PutUint16(bs[17:], uint16(rootEntries))
	le.PutUint16(bs[19:], uint16(total))
	bs[21] = 0xf8
	le.PutUint16(bs[22:], fatSectors)
	bs[38] = 0x29
	le.PutUint32(bs[39:], serial)
	copy(bs[43:], "NO NAME    FAT16   ")
	bs[510], bs[511] = 0x55, 0xaa
	fatArea := img[reserved*bps : (reserved+fatSectors)*bps]
	le.PutUint16(fatArea[0:], 0xfff8)
	le.PutUint16(fatArea[2:], 0xffff)
	if fat != nil {
		fat(func(c, next uint16) { le.PutUint16(fatArea[2*int(c):], next) })
	}
	rootOff := (reserved + fatSectors) * bps
	root(img[rootOff : rootOff+rootEntries*32])
	return img
}

// TestBoundFATLongNameRun: a root directory that is one run of 65,519
// long-name entries (the parts were prepended one by one: quadratic, a
// 2 s deadline was met after minutes).
func TestBoundFATLongNameRun(t *testing.T) {
	var in [2]Input
	for side := range in {
		img := fatImage(uint32(0x1234+side), 65520, func(dir []byte) {
			for i := 0; i+32 <= len(dir)-32; i += 32 {
				e := dir[i : i+32]
				e[0] = 1
				e[11] = 0x0f
				for _, j := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
					e[j] = 'a'
				}
			}
		}, nil)
		in[side] = memInput("efi.img.zst", zstdOf(t, func(w io.Writer) { w.Write(img) }))
	}
	run := checkBounds(t, in[0], in[1], Options{})
	if run.err == nil && !strings.Contains(run.r.Summary, "volume serial") {
		t.Errorf("want the serial difference, got %q", run.r.Summary)
	}
}

// TestBoundFATClusterChains: 2,000 files whose chains all start at one
// cluster, of a FAT that is one chain through every cluster (each file of
// its length: 8.6 MB) or one loop through every cluster (each file of 4
// GiB). One walk reads each cluster once: a file reaching a cluster read
// before is an error (each file was read along the whole chain, 34 GB,
// without checking for cancellation).
func TestBoundFATClusterChains(t *testing.T) {
	const clusters, csize = 4200, 2048
	for _, loop := range []bool{false, true} {
		t.Run(fmt.Sprintf("loop=%v", loop), func(t *testing.T) {
			var in [2]Input
			for side := range in {
				img := fatImage(0x1234, 2048, func(dir []byte) {
					for i := 0; i < 2000; i++ {
						e := dir[i*32 : i*32+32]
						copy(e, fmt.Sprintf("F%07dBIN", i))
						e[11] = 0x20
						binary.LittleEndian.PutUint16(e[24:], uint16(1+side)) // the date differs
						binary.LittleEndian.PutUint16(e[26:], 2)
						size := uint32(clusters * csize)
						if loop {
							size = 0xffffffff
						}
						binary.LittleEndian.PutUint32(e[28:], size)
					}
				}, func(set func(c, next uint16)) {
					for c := uint16(2); c < clusters+1; c++ {
						set(c, c+1)
					}
					if loop {
						set(clusters+1, 2)
					} else {
						set(clusters+1, 0xffff)
					}
				})
				in[side] = memInput("efi.img.zst", zstdOf(t, func(w io.Writer) { w.Write(img) }))
			}
			run := checkBounds(t, in[0], in[1], Options{})
			if run.err == nil && !strings.Contains(run.r.Text(1<<16), "a second time") {
				t.Errorf("want the shared cluster reported:\n%s", run.r.Text(4096))
			}
		})
	}
}

// deflateZeros returns a deflate stream of mib MiB of zeros then tail, and
// its CRC-32, quickly: one MiB of zeros is compressed once and flushed
// (its blocks end byte-aligned, not final), and repeated.
func deflateZeros(mib int, tail []byte) ([]byte, uint32) {
	zeros := make([]byte, 1<<20)
	var one bytes.Buffer
	fw, _ := flate.NewWriter(&one, flate.BestCompression)
	fw.Write(zeros)
	fw.Flush()
	var last bytes.Buffer
	fw, _ = flate.NewWriter(&last, flate.BestCompression)
	fw.Write(tail)
	fw.Close()
	out := append(bytes.Repeat(one.Bytes(), mib), last.Bytes()...)
	crc := uint32(0)
	for i := 0; i < mib; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	return out, crc32.Update(crc, crc32.IEEETable, tail)
}

// zipOneMember builds a zip whose n central directory entries (named
// e00000...) all point at one deflated member of size+1 bytes (zeros, then
// the side's byte).
func zipOneMember(t *testing.T, side byte, n, size int) []byte {
	comp, crc := deflateZeros(size/(1<<20), []byte{side})
	le := binary.LittleEndian
	var b bytes.Buffer
	hdr := func(sig uint32, fields ...any) {
		binary.Write(&b, le, sig)
		for _, f := range fields {
			binary.Write(&b, le, f)
		}
	}
	size++
	hdr(0x04034b50, uint16(20), uint16(0), uint16(8), uint16(0), uint16(0x5821), crc, uint32(len(comp)), uint32(size), uint16(4), uint16(0))
	b.WriteString("data")
	b.Write(comp)
	cdOff := b.Len()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("e%05d", i)
		hdr(0x02014b50, uint16(0x0314), uint16(20), uint16(0), uint16(8), uint16(0), uint16(0x5821), crc, uint32(len(comp)), uint32(size),
			uint16(len(name)), uint16(0), uint16(0), uint16(0), uint16(0), uint32(0o100644<<16), uint32(0))
		b.WriteString(name)
	}
	cdSize := b.Len() - cdOff
	hdr(0x06054b50, uint16(0), uint16(0), uint16(n), uint16(n), uint32(cdSize), uint32(cdOff), uint16(0))
	return b.Bytes()
}

// TestBoundZipSharedMember: 5,000 central directory entries pointing at
// one member that inflates to 16 MiB. It is inflated once per side (it
// was inflated for each entry: 160 GB), and the 5,000 differing pairs
// are explained once.
func TestBoundZipSharedMember(t *testing.T) {
	a, b := zipOneMember(t, 1, 5000, 16<<20), zipOneMember(t, 2, 5000, 16<<20)
	run := checkBounds(t, memInput("x.zip", a), memInput("x.zip", b), Options{})
	if run.err == nil && !strings.Contains(run.r.Summary, "content differs in 5000 members") {
		t.Errorf("want the 5000 members compared, got %q", run.r.Summary)
	}
}

// cpioMany is a newc archive of n empty files.
func cpioMany(w io.Writer, side byte, n int) {
	var b []byte
	member := func(ino int, name string, mtime int) {
		b = append(b[:0], "070701"...)
		for _, v := range []int{ino, 0o100644, 0, 0, 1, mtime, 0, 0, 0, 0, 0, len(name) + 1, 0} {
			b = append(b, fmt.Sprintf("%08x", v)...)
		}
		b = append(b, name...)
		b = append(b, make([]byte, 1+int(pad4(int64(110+len(name)+1))))...)
		w.Write(b)
	}
	for i := 0; i < n; i++ {
		member(i+1, "usr/lib/f"+strconv.Itoa(1000000 + i)[1:], 1700000000+int(side))
	}
	member(0, "TRAILER!!!", 0)
}

// TestBoundCpioManyMembers: an initramfs-like cpio of 100,000 members;
// their listing is charged member by member, and the budget (16 MiB) is
// reached and reported: the comparison ends there, naming the listing
// and the offset of the member that did not fit.
func TestBoundCpioManyMembers(t *testing.T) {
	var in [2]Input
	for side := range in {
		in[side] = memInput("initrd.zst", zstdOf(t, func(w io.Writer) { cpioMany(w, byte(side), 100000) }))
	}
	run := checkBounds(t, in[0], in[1], Options{MaxMembers: 1 << 20})
	var ee *budget.ExceededError
	if !errors.As(run.err, &ee) || !strings.Contains(ee.What, "cpio member") || ee.Off <= 0 {
		t.Errorf("want the budget refusal naming the cpio listing and an offset, got %v", run.err)
	}
}

// TestBoundArLongNameTable: an ar archive with an 8 MiB GNU long-name
// table without terminator and 20,000 members naming its first entry.
// Each name is read up to 4096 bytes of the table (the whole rest of the
// table was copied for each member: 160 GB).
func TestBoundArLongNameTable(t *testing.T) {
	var in [2]Input
	for side := range in {
		in[side] = memInput("lib.a.zst", zstdOf(t, func(w io.Writer) {
			io.WriteString(w, "!<arch>\n")
			const table = 8 << 20
			fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", "//", 0, 0, 0, "0", table)
			w.Write(bytes.Repeat([]byte("n"), table))
			for i := 0; i < 20000; i++ {
				fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", "/0", 1700000000+side, 0, 0, "100644", 2)
				w.Write([]byte{byte(side), '\n'})
			}
		}))
	}
	checkBounds(t, in[0], in[1], Options{})
}

// TestBoundXzWindowInArchive: a tar of 32 xz members whose headers
// declare a 128 MiB dictionary. The decoder's window is charged before
// it is allocated and the budget refuses it (each was allocated, twice
// per member: 8 GB).
func TestBoundXzWindowInArchive(t *testing.T) {
	testimg.Need(t, "xz")
	dir := t.TempDir()
	var in [2]Input
	for side := range in {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		for i := 0; i < 32; i++ {
			p := filepath.Join(dir, fmt.Sprintf("m%d", i))
			os.WriteFile(p, []byte(fmt.Sprintf("member %d of side %d\n", i, side)), 0o644)
			out, err := exec.Command("xz", "-c", "--lzma2=preset=0,dict=128MiB", p).Output()
			if err != nil {
				t.Fatal(err)
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("m%d.xz", i), Mode: 0o644, Size: int64(len(out)), ModTime: t0, Typeflag: tar.TypeReg})
			tw.Write(out)
		}
		tw.Close()
		in[side] = memInput("x.tar", tb.Bytes())
	}
	run := checkBounds(t, in[0], in[1], Options{})
	var ee *budget.ExceededError
	if !errors.As(run.err, &ee) || !strings.Contains(ee.What, "xz") || ee.N < 128<<20 {
		t.Errorf("want the 128 MiB dictionary refused, got %v", run.err)
	}
}

// TestBoundGzipBombInArchive: a tar of 8 gzip members each inflating to
// 32 MiB (32 gzip streams of 1 MiB of zeros, 32 KiB in all). Decoded
// bytes count against MaxTotalBytes, and the comparison stops at it.
func TestBoundGzipBombInArchive(t *testing.T) {
	var zeros bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zeros, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	var in [2]Input
	for side := range in {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		for i := 0; i < 8; i++ {
			var member bytes.Buffer
			for k := 0; k < 32; k++ {
				member.Write(zeros.Bytes())
			}
			zw := gzip.NewWriter(&member)
			zw.Write([]byte{byte(side), byte(i)})
			zw.Close()
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("m%d.gz", i), Mode: 0o644, Size: int64(member.Len()), ModTime: t0, Typeflag: tar.TypeReg})
			tw.Write(member.Bytes())
		}
		tw.Close()
		in[side] = memInput("bombs.tar", tb.Bytes())
	}
	run := checkBounds(t, in[0], in[1], Options{MaxTotalBytes: 64 << 20})
	if !strings.Contains(run.r.Text(1<<20), "read budget of 67108864 bytes exhausted") {
		t.Errorf("want the read budget reached:\n%s", run.r.Text(8192))
	}
}

// TestBoundZipBomb: a zip of 8 members each inflating to 32 MiB (32 KiB
// each). The members' decoded bytes count against MaxTotalBytes (they
// were not counted: reading the zip from its spooled copy counted only
// its stored bytes), and the comparison stops at it.
func TestBoundZipBomb(t *testing.T) {
	const size = 32 << 20
	comp, crc := deflateZeros(32, nil)
	var in [2]Input
	for side := range in {
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		for i := 0; i < 8; i++ {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("m%d", i), Method: zip.Deflate, ModifiedDate: uint16(0x5821 + side),
				CRC32: crc, CompressedSize64: uint64(len(comp)), UncompressedSize64: size})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(comp)
		}
		zw.Close()
		in[side] = memInput("bombs.zip", zb.Bytes())
	}
	run := checkBounds(t, in[0], in[1], Options{MaxTotalBytes: 64 << 20})
	if !strings.Contains(run.r.Text(1<<20), "read budget of 67108864 bytes exhausted") {
		t.Errorf("want the read budget reached:\n%s", run.r.Text(8192))
	}
}

// TestBoundTextDiffStops: two texts of 1 MiB of distinct lines make the
// Myers search spend its whole work budget (seconds); cancellation ends
// it within the bound.
func TestBoundTextDiffStops(t *testing.T) {
	var a, b bytes.Buffer
	for i := 0; a.Len() < 900_000; i++ {
		fmt.Fprintf(&a, "line %d of a %x\n", i, i*7919)
		fmt.Fprintf(&b, "line %d of b %x\n", i, i*104729)
	}
	checkBounds(t, memInput("a.txt", a.Bytes()), memInput("a.txt", b.Bytes()), Options{})
}
