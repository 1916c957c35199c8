package sqfsdiff

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

func openImage(t testing.TB, path string) *squashfs.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	r, err := squashfs.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tree writes a source tree with a multi-block file, small files (packed
// into fragment blocks) and an empty file, with one byte changed at flip
// (negative: none) in the big file and in one small file when smallChange.
func sourceTree(t *testing.T, flip int, smallChange bool) string {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(3))
	big := make([]byte, 600<<10+77)
	rng.Read(big)
	if flip >= 0 {
		big[flip] ^= 0x55
	}
	files := map[string]string{"big.bin": string(big), "empty": ""}
	for i := 0; i < 50; i++ {
		files[fmt.Sprintf("small/%02d.txt", i)] = fmt.Sprintf("small file %d\n", i)
	}
	if smallChange {
		files["small/17.txt"] = "small file X\n"
	}
	testimg.WriteFiles(t, dir, files)
	testimg.Run(t, dir, "find", ".", "-exec", "touch", "-h", "-d", "@1700000000", "{}", "+")
	return dir
}

func build(t *testing.T, src string, args ...string) *squashfs.Reader {
	out := filepath.Join(t.TempDir(), "img.sqfs")
	testimg.MakeSquashfs(t, src, out, args...)
	return openImage(t, out)
}

func TestContent(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	same := sourceTree(t, -1, false)
	flipped := sourceTree(t, 300_001, true)
	for _, tc := range []struct {
		name       string
		argsA      []string
		argsB      []string
		src        string
		wantByRaw  int
		wantDiffer map[string]int64
	}{
		{"identical trees, different mkfs time: all proven from stored bytes", []string{"-mkfs-time", "1"}, []string{"-mkfs-time", "2"}, same, 52, nil},
		// One small file changed: its fragment block differs, so every tail in
		// that block is decoded; only the empty file needs nothing.
		{"byte changes, same codec", nil, nil, flipped, 1, map[string]int64{"/big.bin": 300_001, "/small/17.txt": 11}},
		{"byte changes, other compressor", []string{"-comp", "gzip"}, []string{"-comp", "zstd"}, flipped, 1, map[string]int64{"/big.bin": 300_001, "/small/17.txt": 11}},
		{"byte changes, other block size", []string{"-b", "4K"}, []string{"-b", "64K"}, flipped, 0, map[string]int64{"/big.bin": 300_001, "/small/17.txt": 11}},
		{"byte changes, no fragments", []string{"-no-fragments"}, []string{"-no-fragments"}, flipped, 50, map[string]int64{"/big.bin": 300_001, "/small/17.txt": 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := build(t, same, tc.argsA...)
			b := build(t, tc.src, tc.argsB...)
			res, err := Content(context.Background(), a, b, Options{Scope: report.ContainerScope("squashfs", "/s")})
			if err != nil || len(res.Problems) > 0 {
				t.Fatalf("err %v, problems %v", err, res.Problems)
			}
			got := map[string]int64{}
			for _, f := range res.Findings {
				got[f.Path] = f.Content.FirstDiff
			}
			if fmt.Sprint(got) != fmt.Sprint(orEmpty(tc.wantDiffer)) {
				t.Errorf("differing files %v, want %v", got, tc.wantDiffer)
			}
			if res.Compared != 52 || res.SameByRaw != tc.wantByRaw {
				t.Errorf("compared %d (want 52), proven by stored bytes %d (want %d)", res.Compared, res.SameByRaw, tc.wantByRaw)
			}
		})
	}
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func TestSuperblockAndMetadata(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	src := sourceTree(t, -1, false)
	a := build(t, src, "-comp", "gzip", "-mkfs-time", "1")
	b := build(t, src, "-comp", "xz", "-mkfs-time", "2")
	var names []string
	for _, f := range Superblock(a, b, Options{}) {
		if f.Path == "superblock" {
			for _, c := range f.Fields {
				names = append(names, c.Name)
			}
		}
	}
	if fmt.Sprint(names) != "[mkfs_time compression]" {
		t.Errorf("superblock fields %v, want mkfs_time and compression", names)
	}
	res, err := Metadata(context.Background(), a, b, Options{})
	if err != nil || len(res.Findings) != 0 || res.ListingDiff != "" {
		t.Errorf("same tree must give no metadata finding: %v %v %q", err, res.Findings, res.ListingDiff)
	}

}

// TestContentSpans checks the spans outside which two files of one size
// are proven equal: the blocks with a changed byte, joined when adjacent,
// the tail when it differs; unknown when the codecs differ.
func TestContentSpans(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	const bs = 128 << 10
	tree := func(flips ...int) string {
		dir := t.TempDir()
		big := make([]byte, 600<<10+77) // 4 blocks and a tail in a fragment
		rand.New(rand.NewSource(5)).Read(big)
		for _, f := range flips {
			big[f] ^= 0x55
		}
		testimg.WriteFiles(t, dir, map[string]string{"big.bin": string(big)})
		testimg.Run(t, dir, "find", ".", "-exec", "touch", "-h", "-d", "@1700000000", "{}", "+")
		return dir
	}
	base := tree()
	for _, tc := range []struct {
		name         string
		flips        []int
		argsA, argsB []string
		want         string
	}{
		{"first block", []int{5}, nil, nil, "[{0 131072}]"},
		{"blocks 0 and 3 and the tail", []int{5, 3*bs + 10, 590000}, nil, nil, "[{0 131072} {393216 614477}]"},
		{"tail only", []int{600000}, nil, nil, "[{524288 614477}]"},
		{"other compressor", []int{5, 3*bs + 10}, []string{"-comp", "gzip"}, []string{"-comp", "xz"}, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := build(t, base, tc.argsA...)
			b := build(t, tree(tc.flips...), tc.argsB...)
			res, err := Content(context.Background(), a, b, Options{})
			if err != nil || len(res.Findings) != 1 || len(res.Spans) != 1 {
				t.Fatalf("err %v, findings %v, spans %v", err, res.Findings, res.Spans)
			}
			if got := fmt.Sprint(res.Spans[0]); got != tc.want {
				t.Errorf("spans %s, want %s", got, tc.want)
			}
			if res.Findings[0].Content.FirstDiff != int64(tc.flips[0]) {
				t.Errorf("first difference %d, want %d", res.Findings[0].Content.FirstDiff, tc.flips[0])
			}
		})
	}
}

// TestSameStored: blocks at one offset that the caller vouches for are not
// read (a lying caller hides a difference: the oracle must be exact), and
// a caller that vouches for nothing changes nothing.
func TestSameStored(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	a := build(t, sourceTree(t, -1, false))
	b := build(t, sourceTree(t, 300_001, false))
	for _, tc := range []struct {
		name  string
		same  func(off, n int64) bool
		diffs int
	}{
		{"no oracle", nil, 1},
		{"vouches for nothing", func(off, n int64) bool { return false }, 1},
		{"vouches for everything", func(off, n int64) bool { return true }, 0},
	} {
		res, err := Content(context.Background(), a, b, Options{SameStored: tc.same})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != tc.diffs {
			t.Errorf("%s: %d differing files, want %d", tc.name, len(res.Findings), tc.diffs)
		}
		if vouched := tc.diffs == 0; (res.KnownStored > 0) != vouched {
			t.Errorf("%s: %d stored bytes counted as known equal", tc.name, res.KnownStored)
		}
	}
}

// TestKnownStoredCountsEachRangeOnce: stored bytes that several files
// share (the blocks of duplicate files mksquashfs stores once, a fragment
// block of many small files) count once in KnownStored, whatever the
// number of workers: the count is at most the image's size and the same
// from run to run.
func TestKnownStoredCountsEachRangeOnce(t *testing.T) {
	testimg.Need(t, "mksquashfs")
	src := sourceTree(t, -1, false)
	big, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dups := map[string]string{}
	for i := range 6 {
		dups[fmt.Sprintf("dup/%d.bin", i)] = string(big) // stored once
	}
	testimg.WriteFiles(t, src, dups)
	a, b := build(t, src), build(t, src)
	all := func(off, n int64) bool { return true }
	var counts []int64
	for _, workers := range []int{1, 4, 4, 2} {
		res, err := Content(context.Background(), a, b, Options{SameStored: all, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 0 {
			t.Fatalf("%d findings on one tree", len(res.Findings))
		}
		counts = append(counts, res.KnownStored)
	}
	if size := int64(a.Super.BytesUsed); counts[0] > size || counts[0] < int64(len(big))/2 {
		t.Errorf("KnownStored %d for a %d-byte image holding %d bytes of random data", counts[0], size, len(big))
	}
	for _, c := range counts[1:] {
		if c != counts[0] {
			t.Errorf("KnownStored varies with the workers: %v", counts)
			break
		}
	}
}
