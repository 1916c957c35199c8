package iso9660

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/testimg"
)

// fuzzBudget is the fixed budget FuzzWalk gives every input of up to
// fuzzMaxInput bytes: what a walk holds is linear in the image (at most
// one child list per open directory, each child charged about 600 bytes
// for a record of at least 34, names and targets no longer than the SUSP
// bytes they come from, continuation areas decoded once), so no input may
// need more.
const (
	fuzzBudget   = 32 << 20
	fuzzMaxInput = 1 << 20
)

// FuzzWalk opens, walks and reads any input with a fixed budget, then
// walks its io/fs view and reads bytes at three offsets of every regular
// file through OpenFile (fsBytes): no panic, no hang, errors are
// FormatErrors, the budget is never exceeded, and all of it is given back
// at the end. Seeds are real images built at test time
// (two with zisofs files, version 1 and 2, whose decoding reading every
// file exercises) and the crafted image of a shared, self-looping
// continuation area.
func FuzzWalk(f *testing.F) {
	f.Add(smallImage(f, "-R", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-J", "-no-pad"))
	f.Add(smallImage(f, "--norock", "-iso-level", "1", "-no-pad"))
	shared, _ := sharedAreaImage(200)
	f.Add(shared)
	f.Add(zisofsSeed(f, "level=9:block_size=32k"))
	f.Add(zisofsSeed(f, "level=9:version_2=on:block_size_v2=32k"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > fuzzMaxInput {
			return
		}
		bud := budget.New(fuzzBudget)
		_, err := walkBytesOptions(b, Options{Budget: bud})
		if err != nil && !isFormatError(err) {
			t.Fatalf("%v is not a FormatError", err)
		}
		if errors.Is(err, budget.ErrExceeded) {
			t.Fatalf("an input of %d bytes needed more than the fixed %s: %v", len(b), budget.Size(fuzzBudget), err)
		}
		for _, err := range fsBytes(b, Options{Budget: bud}) {
			if !fsImageError(err) {
				t.Fatalf("FS: %v is not a FormatError", err)
			}
			if errors.Is(err, budget.ErrExceeded) {
				t.Fatalf("FS: an input of %d bytes needed more than the fixed %s: %v", len(b), budget.Size(fuzzBudget), err)
			}
		}
		if bud.Used() != 0 {
			t.Fatalf("%d bytes still charged after the walk and Close", bud.Used())
		}
	})
}

// fsBytes opens b, walks its io/fs view with fs.WalkDir (at most 4096
// nodes, going on after errors), and reads 64 bytes at the start, the
// middle and the end of every regular file through OpenFile; it closes
// the image and returns the errors met.
func fsBytes(b []byte, o Options) []error {
	im, err := OpenOptions(bytes.NewReader(b), int64(len(b)), o)
	if err != nil {
		return []error{err}
	}
	defer im.Close()
	var errs []error
	n := 0
	fs.WalkDir(im.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if n++; n > 4096 {
			return fs.SkipAll
		}
		if err != nil {
			errs = append(errs, err)
			if d == nil {
				return err
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		f, err := im.OpenFile(info.Sys().(*Entry))
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		var buf [64]byte
		for _, off := range []int64{0, f.Size() / 2, max(0, f.Size()-1)} {
			if _, err := f.ReadAt(buf[:], off); err != nil && err != io.EOF {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errs
}

// fsImageError reports whether err, met by fsBytes, is one an image may
// cause: a FormatError (through an *fs.PathError or not), or an io/fs
// path refused because a name is not valid UTF-8.
func fsImageError(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err == fs.ErrInvalid && !fs.ValidPath(pe.Path) {
		return true
	}
	return isFormatError(err)
}

// TestWalkBudgetReleased: walking real images with a budget gives every
// byte back, and the peak stays far below the fuzz budget.
func TestWalkBudgetReleased(t *testing.T) {
	for _, args := range [][]string{{"-R", "-J"}, {"--norock", "-J"}, {"--norock"}} {
		b := smallImage(t, args...)
		bud := budget.New(fuzzBudget)
		n, err := walkBytesOptions(b, Options{Budget: bud})
		if err != nil {
			t.Fatal(err)
		}
		if errs := fsBytes(b, Options{Budget: bud}); errs != nil {
			t.Fatal(errs)
		}
		if bud.Used() != 0 || bud.Peak() == 0 || bud.Peak() > 1<<20 {
			t.Errorf("%v: %d nodes, used %d, peak %d", args, n, bud.Used(), bud.Peak())
		}
	}
}

// zisofsSeed is an image under fuzzMaxInput of a few files through
// xorriso's zisofs filter with the given -zisofs settings: one of several
// blocks, one below a block, one with empty (zero) blocks.
func zisofsSeed(f *testing.F, settings string) []byte {
	f.Helper()
	testimg.Need(f, "xorriso")
	dir := f.TempDir()
	src := filepath.Join(dir, "src")
	var text strings.Builder
	for i := 0; text.Len() < 100000; i++ {
		fmt.Fprintf(&text, "line %d\n", i)
	}
	testimg.WriteFiles(f, src, map[string]string{
		"text": text.String(), "d/small": text.String()[:10000],
		"sparse": strings.Repeat("\x00", 70000) + text.String()[:3000],
	})
	img := filepath.Join(dir, "z.iso")
	testimg.Run(f, dir, "xorriso", "-abort_on", "FAILURE", "-outdev", img, "-padding", "0",
		"-zisofs", settings, "-map", src, "/", "-set_filter_r", "--zisofs", "/", "--")
	b, err := os.ReadFile(img)
	if err != nil {
		f.Fatal(err)
	}
	if len(b) > fuzzMaxInput || !bytes.Contains(b, []byte("ZF\x10")) {
		f.Fatalf("zisofs seed of %d bytes, ZF entries: %v", len(b), bytes.Contains(b, []byte("ZF\x10")))
	}
	return b
}
