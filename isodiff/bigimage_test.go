package isodiff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// bigTestFree is the free disk space TestBigMultiExtentSquashfs needs in
// its temporary directory: two 4.6 GiB ISOs, the squashfs while the first
// is written, and one squashfs extracted by xorriso (about 15 GB at the
// most), with room to spare.
const bigTestFree = 20e9

// TestBigMultiExtentSquashfs compares two ISOs whose squashfs is larger
// than 4 GiB, so that xorriso (-iso-level 3) records it as a multi-extent
// file: two extents, the first 4 GiB - 2 KiB, one after the other in the
// image. The squashfs (mksquashfs, nothing compressed, four 1.15 GiB files
// of patterned, non-zero bytes made by pseudo-file commands, so no tree is
// written to disk) is put in image A; image B is a copy of A with one byte
// changed in the data of the first file and one in the last file's data
// past 4 GiB, in the squashfs's second extent. The comparison must list
// the squashfs once at its full size, find exactly those two files
// differing at those offsets and nothing else inside, and hash the
// squashfs as xorriso extracts it.
//
// It writes about 15 GB and takes minutes: skipped under -short and when
// the temporary directory has less than 20 GB free.
func TestBigMultiExtentSquashfs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two 4.6 GiB ISOs: not under -short")
	}
	testimg.Need(t, "mksquashfs", "xorriso")
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if free := float64(fs.Bavail) * float64(fs.Bsize); free < bigTestFree {
		t.Skipf("needs %.0f GB free in %s, has %.1f GB", bigTestFree/1e9, dir, free/1e9)
	}
	const (
		fileSize = 9420 << 17 // 1.15 GiB, whole 128 KiB blocks: no fragment
		files    = 4
		flip0    = 123_457       // in file 0
		flip3    = 1_000_000_007 // in file 3, past 4 GiB in the squashfs
	)
	start := time.Now()
	empty := filepath.Join(dir, "empty")
	must(t, os.Mkdir(empty, 0o755))
	sqfs := filepath.Join(dir, "big.sqfs")
	args := []string{empty, sqfs, "-noappend", "-quiet", "-no-progress", "-noI", "-noD", "-noF", "-noX",
		"-mkfs-time", fmt.Sprint(epoch.Unix()), "-all-root"}
	for k := range files {
		// A line of 32 bytes, a different one per file: blocks are not
		// all zero (mksquashfs would store them as holes) and files are
		// not duplicates of one another.
		args = append(args, "-p", fmt.Sprintf("f%d f 644 0 0 yes 'isodiff big test, file %d.......' | head -c %d", k, k, fileSize))
	}
	args = append(args, "-p", "etc d 755 0 0", "-p", "etc/hostname f 644 0 0 echo live")
	testimg.Run(t, dir, "mksquashfs", args...)
	fi, err := os.Stat(sqfs)
	if err != nil {
		t.Fatal(err)
	}
	sqSize := fi.Size()
	if sqSize <= 4<<30 {
		t.Fatalf("the squashfs is %d bytes, not over 4 GiB", sqSize)
	}
	// Where the two bytes to change lie in the squashfs: each file's data
	// is stored uncompressed from its BlocksStart.
	blocksStart := map[string]int64{}
	func() {
		f, err := os.Open(sqfs)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := squashfs.Open(f, sqSize)
		if err != nil {
			t.Fatal(err)
		}
		for w := r.Walk(); ; {
			e, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.IsRegular() && e.Size == fileSize {
				for _, s := range e.BlockSizes {
					if s&(1<<24) == 0 {
						t.Fatalf("%s: a block is compressed", e.Path)
					}
				}
				blocksStart[e.Path] = int64(e.BlocksStart)
			}
		}
	}()
	at0, at3 := blocksStart["/f0"]+flip0, blocksStart["/f3"]+flip3
	if len(blocksStart) != files || at3 <= 4<<30 || at0 >= 4<<30-2048 {
		t.Fatalf("file data at %v: the changes would not fall in each extent", blocksStart)
	}

	isoDir := filepath.Join(dir, "iso")
	must(t, os.MkdirAll(filepath.Join(isoDir, "live"), 0o755))
	must(t, os.Link(sqfs, filepath.Join(isoDir, "live/filesystem.squashfs")))
	testimg.WriteFiles(t, isoDir, map[string]string{"live/vmlinuz": "kernel\n", ".disk/info": "Big Live\n"})
	stampTree(t, isoDir)
	isoA, isoB := filepath.Join(dir, "a.iso"), filepath.Join(dir, "b.iso")
	testimg.MakeISO(t, isoDir, isoA, "-iso-level", "3", "-R", "-J", "-V", "BIG_LIVE", "--modification-date=2024030112000000")
	must(t, os.RemoveAll(isoDir))
	must(t, os.Remove(sqfs))

	// The ISO records the squashfs in two adjacent extents.
	fa, err := os.Open(isoA)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fi, err = fa.Stat()
	if err != nil {
		t.Fatal(err)
	}
	im, err := iso9660.Open(fa, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	var entries []*iso9660.Entry
	for e, err := range im.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Path == DefaultSquashfs {
			entries = append(entries, e)
		}
	}
	if len(entries) != 1 || entries[0].Size != sqSize || len(entries[0].Extents) != 2 ||
		entries[0].Extents[0].Offset+entries[0].Extents[0].Size != entries[0].Extents[1].Offset {
		t.Fatalf("the squashfs in the ISO: %+v, want one file of %d bytes in two adjacent extents", entries, sqSize)
	}
	sqOff := entries[0].Extents[0].Offset
	t.Logf("squashfs of %d bytes at offset %d in a %d-byte ISO, extents %+v", sqSize, sqOff, fi.Size(), entries[0].Extents)

	// Image B: a copy with two bytes changed.
	copyFile(t, isoA, isoB)
	fb, err := os.OpenFile(isoB, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{sqOff + at0, sqOff + at3} {
		var b [1]byte
		if _, err := fb.ReadAt(b[:], at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x20
		if _, err := fb.WriteAt(b[:], at); err != nil {
			t.Fatal(err)
		}
	}
	must(t, fb.Close())
	built := time.Since(start)

	start = time.Now()
	logf := func(format string, args ...any) {
		if line := fmt.Sprintf(format, args...); strings.HasPrefix(line, "stage ") && !strings.HasSuffix(line, ": start") {
			t.Log(line)
		}
	}
	rep, err := Compare(context.Background(), isoA, isoB, Options{NoDiffoscope: true, ExplainMax: -1, Logf: logf}) // explaining two 1.15 GiB files is not what is tested
	if err != nil {
		t.Fatal(err)
	}
	compared := time.Since(start)
	t.Logf("built in %v, compared in %v (%.0f MB/s of both images)", built.Round(time.Second), compared.Round(time.Millisecond),
		float64(2*fi.Size())/compared.Seconds()/1e6)
	for _, st := range rep.Stages {
		for _, p := range st.Problems {
			t.Errorf("problem: %v", p)
		}
	}
	if len(rep.Containers) != 1 {
		t.Fatalf("containers %+v", rep.Containers)
	}
	c := rep.Containers[0]
	if c.A == nil || c.B == nil || c.A.Size != sqSize || c.B.Size != sqSize || c.A.Offset != sqOff {
		t.Errorf("container %+v %+v, want %d bytes at %d", c.A, c.B, sqSize, sqOff)
	}
	// What differs: the squashfs in the ISO (once, at its full size, first
	// at the first change), and inside it the two files.
	type diff struct {
		scope, path  string
		sizeA, sizeB int64
		first        int64
	}
	var got []diff
	for _, f := range rep.Findings() {
		if f.Derived || f.Kind == report.KindHeader {
			continue
		}
		d := diff{scope: f.Scope.String(), path: f.Path}
		if f.Content != nil {
			d.sizeA, d.sizeB, d.first = f.Content.SizeA, f.Content.SizeB, f.Content.FirstDiff
		}
		got = append(got, d)
	}
	inner := report.ContainerScope("squashfs", DefaultSquashfs).String()
	want := []diff{
		{report.ISOTree.String(), DefaultSquashfs, sqSize, sqSize, at0},
		{inner, "/f0", fileSize, fileSize, flip0},
		{inner, "/f3", fileSize, fileSize, flip3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("differences\n got %v\nwant %v", got, want)
	}

	// The squashfs's hash is that of the file xorriso extracts.
	ext := filepath.Join(dir, "extracted.sqfs")
	testimg.Run(t, dir, "xorriso", "-osirrox", "on", "-indev", isoA, "-extract", DefaultSquashfs, ext)
	if sum := fileSHA256(t, ext); c.A.SHA256 != sum {
		t.Errorf("squashfs sha256 %s, xorriso extracts %s", c.A.SHA256, sum)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	must(t, dst.Close())
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
