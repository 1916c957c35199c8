package sqfsdiff

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
)

// benchPair builds two xz images of /usr/share/doc (a few thousand small
// files, mostly packed into fragment blocks), the second with one small
// file added to every directory so that the fragment blocks' contents shift.
func benchPair(b testing.TB, shifted bool) (string, string) {
	testimg.Need(b, "mksquashfs")
	src := "/usr/share/doc"
	dir := b.TempDir()
	a := filepath.Join(dir, "a.sqfs")
	testimg.MakeSquashfs(b, src, a, "-comp", "xz", "-mkfs-time", "1", "-keep-as-directory")
	bb := filepath.Join(dir, "b.sqfs")
	if shifted {
		// A hard-linked copy of the tree with a small file added to every
		// directory: mksquashfs packs tails in directory-read order, so
		// this moves the tails in every fragment block.
		cp := filepath.Join(dir, "doc")
		testimg.Run(b, dir, "cp", "-al", src, cp)
		filepath.WalkDir(cp, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				// unique content: mksquashfs stores duplicates once
				os.WriteFile(filepath.Join(p, "0000-added"), []byte("moves the tails after it: "+p+"\n"), 0o644)
			}
			return nil
		})
		testimg.MakeSquashfs(b, cp, bb, "-comp", "xz", "-mkfs-time", "2", "-keep-as-directory")
	} else {
		testimg.MakeSquashfs(b, src, bb, "-comp", "xz", "-mkfs-time", "2", "-keep-as-directory")
	}
	return a, bb
}

func benchCompare(b *testing.B, shifted bool) {
	pa, pb := benchPair(b, shifted)
	a, bimg := openImage(b, pa), openImage(b, pb)
	st, _ := os.Stat(pa)
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, _, err := Compare(context.Background(), a, bimg, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompareSame: same tree, different mkfs time: every file proven
// equal from its stored bytes.
func BenchmarkCompareSame(b *testing.B) { benchCompare(b, false) }

// BenchmarkCompareShifted: fragment packing shifted, so fragment blocks are
// decoded on both sides.
func BenchmarkCompareShifted(b *testing.B) { benchCompare(b, true) }
