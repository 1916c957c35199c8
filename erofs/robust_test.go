package erofs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
)

// smallTree writes a tree with a little of everything: compressible and
// incompressible multi-cluster files, a directory listing over a block,
// xattrs (one shared), symlinks, nesting.
func smallTree(t testing.TB, root string) {
	t.Helper()
	var text bytes.Buffer
	for i := 0; text.Len() < 40000; i++ {
		fmt.Fprintf(&text, "line %d\n", i)
	}
	rnd := make([]byte, 9000)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i>>3*31)
	}
	files := map[string][]byte{
		"a/text": text.Bytes(), "a/rnd": rnd, "a/b/c/deep": []byte("deep"), "empty": nil, "small": []byte("small\n"),
	}
	for i := range 150 {
		files[fmt.Sprintf("d/entry-with-a-long-name-%03d", i)] = []byte{byte(i)}
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("a/text", filepath.Join(root, "link"))
	os.Symlink(strings.Repeat("x/", 700), filepath.Join(root, "a/longlink"))
	for _, n := range []string{"a/text", "a/rnd", "small"} {
		setxattr(t, filepath.Join(root, n), "user.shared", []byte("shared value"))
	}
	setxattr(t, filepath.Join(root, "small"), "user.long", bytes.Repeat([]byte("v"), 200))
}

// smallImage builds an image of smallTree with mkfs.erofs and args.
func smallImage(t testing.TB, args ...string) []byte {
	t.Helper()
	needTools(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	smallTree(t, src)
	img := filepath.Join(dir, "img")
	makeImage(t, src, img, args...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exercise opens the image with b and ctx, walks it, lists every file's
// extents, reads every file (at most limit bytes in all) and walks the
// io/fs view (walkFS). It returns the first error.
func exercise(ctx context.Context, ra io.ReaderAt, size int64, b *budget.Budget, limit int64) error {
	r, err := OpenOptions(ra, size, Options{Budget: b, Context: ctx})
	if err != nil {
		return err
	}
	w := r.Walk()
	defer w.Close()
	for n := 0; n < 1<<14; n++ {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for _, err := range r.Extents(e) {
			if err != nil {
				return err
			}
		}
		if !e.IsRegular() {
			continue
		}
		f, err := r.Open(e)
		if err != nil {
			return err
		}
		k, err := io.Copy(io.Discard, io.LimitReader(f, limit))
		if err != nil {
			return err
		}
		if limit -= k; limit <= 0 {
			break
		}
	}
	return walkFS(r)
}

// walkFS walks r's io/fs view, at most 4,096 entries, and Stats every path
// it lists (a lookup must find every name a listing holds), returning the
// first error.
func walkFS(r *Reader) error {
	fsys := r.FS()
	n := 0
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > 1<<12 {
			return fs.SkipAll
		}
		if !fs.ValidPath(p) { // listed, but io/fs cannot name it (not UTF-8)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		_, err = fs.Stat(fsys, p)
		return err
	})
}

// checkErr fails unless err is nil, a *FormatError, a refused budget
// charge or the context's end.
func checkErr(t testing.TB, err error) {
	t.Helper()
	var fe *FormatError
	var be *budget.ExceededError
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if pe.Err == fs.ErrInvalid && !fs.ValidPath(pe.Path) {
			return // a name io/fs cannot express (not UTF-8): FS says so
		}
		err = pe.Err
	}
	if err == nil || errors.As(err, &fe) || errors.As(err, &be) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return
	}
	t.Fatalf("error is not a *FormatError: %T %v", err, err)
}

// FuzzReader mutates small real images: no panic, errors are
// *FormatError (or a refused charge, or the context's end), and a fixed
// budget of 16 MiB is never exceeded.
func FuzzReader(f *testing.F) {
	f.Add(smallImage(f))
	f.Add(smallImage(f, "-zlz4hc", "-C16384", "-Eztailpacking"))
	f.Add(smallImage(f, "-zlz4"))
	f.Add(smallImage(f, "--chunksize=8192"))
	f.Add(smallImage(f, "-zlz4", "-Elegacy-compress"))
	for _, fx := range fixtures {
		if !strings.HasSuffix(fx.name, "-b") {
			_, img := openFixture(f, fx.name)
			f.Add(img)
		}
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b := budget.New(16 << 20)
		err := exercise(ctx, bytes.NewReader(img), int64(len(img)), b, 1<<24)
		checkErr(t, err)
		if b.Peak() > b.Limit() {
			t.Fatalf("budget peak %d over %d", b.Peak(), b.Limit())
		}
	})
}

// TestCorruptions flips bytes all over the metadata of real images and
// cuts them short: every error is a *FormatError with an offset inside
// the image, nothing panics or hangs.
func TestCorruptions(t *testing.T) {
	type image struct {
		args []string
		img  []byte
	}
	var images []image
	for _, args := range [][]string{nil, {"-zlz4hc", "-C16384", "-Eztailpacking"}, {"--chunksize=4096", "-Eforce-chunk-indexes"}} {
		images = append(images, image{args, smallImage(t, args...)})
	}
	// Images of erofs-utils 1.9: lzma, zstd, fragments, dedupe.
	for _, name := range []string{"lzma-fragments-fedora", "zstd-dedupe-fragments-lorax", "lzma-tail-fragments", "zstd-dedupe"} {
		_, img := openFixture(t, name)
		images = append(images, image{[]string{name}, img})
	}
	for _, im := range images {
		args, img := im.args, im.img
		r, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		meta := r.nidOff(0)
		var failed, total int
		try := func(b []byte) {
			total++
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			bud := budget.New(16 << 20)
			err := exercise(ctx, bytes.NewReader(b), int64(len(b)), bud, 1<<22)
			checkErr(t, err)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("%v: %v", args, d)
			}
			var fe *FormatError
			if errors.As(err, &fe) {
				failed++
				if fe.Off < -1 || fe.Off > int64(len(img)) {
					t.Errorf("offset %d outside the image: %v", fe.Off, err)
				}
			}
		}
		// Bytes of the superblock and of the first 16 KiB of metadata,
		// flipped in turn (every 29th byte to keep it quick).
		for off := int64(SuperblockOffset); off < meta+16<<10 && off < int64(len(img)); off += 29 {
			if off >= SuperblockOffset+superblockSize && off < meta {
				continue
			}
			b := bytes.Clone(img)
			b[off] ^= 0xff
			try(b)
			b[off] ^= 0x7f // another value at the same place
			try(b)
		}
		for _, n := range []int{0, 1000, 1100, 4096, len(img) / 3, len(img) / 2, len(img) - 4096, len(img) - 1} {
			try(img[:n])
		}
		t.Logf("%v: %d of %d corrupt images refused", args, failed, total)
	}
}

// rawDirent is a directory entry as stored: its name, the image offset of
// its 12-byte dirent and that of its name.
type rawDirent struct {
	name       string
	at, nameAt int64
}

// rawDirents returns the stored entries of directory path of r, "." and
// ".." included, in on-disk order. The listing must be stored plainly.
func rawDirents(t *testing.T, r *Reader, path string) []rawDirent {
	t.Helper()
	var ents []rawDirent
	for e, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Path != path {
			continue
		}
		for x, err := range r.Extents(e) {
			if err != nil || x.Compressed {
				t.Fatalf("%s: %v %+v", path, err, x)
			}
			for off := int64(0); off < x.Len; off += r.bs {
				blk := make([]byte, min(r.bs, x.Len-off))
				if err := r.readAt(blk, x.Phys+off, "test"); err != nil {
					t.Fatal(err)
				}
				count := int(binary.LittleEndian.Uint16(blk[8:])) / 12
				for i := range count {
					start := int(binary.LittleEndian.Uint16(blk[12*i+8:]))
					end := len(blk)
					if i+1 < count {
						end = int(binary.LittleEndian.Uint16(blk[12*i+12+8:]))
					}
					name := strings.TrimRight(string(blk[start:end]), "\x00")
					ents = append(ents, rawDirent{name, x.Phys + off + int64(12*i), x.Phys + off + int64(start)})
				}
			}
		}
		return ents
	}
	t.Fatalf("no directory %s", path)
	return nil
}

// dirEntryAt finds the dirent of name in directory path of r and returns
// its image offset.
func dirEntryAt(t *testing.T, r *Reader, path, name string) int64 {
	t.Helper()
	for _, d := range rawDirents(t, r, path) {
		if d.name == name {
			return d.at
		}
	}
	t.Fatalf("no %s in %s", name, path)
	return 0
}

// TestUnsortedListing breaks the order of a two-block listing inside a
// block, across its blocks, and with a repeated name: each is damage named
// at the offending entry, by Walk and by the io/fs view alike. The kernel
// finds names by binary search over the sorted listing; a reader that
// sorted it instead listed names that Stat could not find.
func TestUnsortedListing(t *testing.T) {
	img := smallImage(t)
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	ents := rawDirents(t, r, "/d")
	firstOf1 := -1
	for i := 1; i < len(ents); i++ {
		if ents[i].at/r.bs != ents[i-1].at/r.bs {
			firstOf1 = i
			break
		}
	}
	if firstOf1 < 0 || !strings.HasPrefix(ents[firstOf1].name, "entry-") {
		t.Fatalf("/d's listing is not two blocks of entries: %d entries, second block at %d", len(ents), firstOf1)
	}
	name := func(i int) string { return ents[i].name }
	for _, c := range []struct {
		what string
		set  map[int]string // entry index -> name written over its own (same length)
		at   int            // the entry reported
		want string
	}{
		{"within a block", map[int]string{3: name(4), 4: name(3)}, 4,
			fmt.Sprintf("name %q listed after %q: the listing is not sorted", name(3), name(4))},
		{"across blocks", map[int]string{firstOf1 - 1: name(firstOf1), firstOf1: name(firstOf1 - 1)}, firstOf1,
			fmt.Sprintf("name %q listed after %q: the listing is not sorted", name(firstOf1-1), name(firstOf1))},
		{"repeated", map[int]string{4: name(3)}, 4, fmt.Sprintf("duplicate name %q", name(3))},
	} {
		t.Run(c.what, func(t *testing.T) {
			b := bytes.Clone(img)
			for i, n := range c.set {
				if len(n) != len(ents[i].name) {
					t.Fatalf("%q and %q differ in length", n, ents[i].name)
				}
				copy(b[ents[i].nameAt:], n)
			}
			rb, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			for what, err := range map[string]error{
				"walk":  exercise(context.Background(), bytes.NewReader(b), int64(len(b)), budget.New(16<<20), 1<<20),
				"io/fs": walkFS(rb),
			} {
				var fe *FormatError
				if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/d") {
					t.Errorf("%s: %v, want ErrCorrupt in /d: %s", what, err, c.want)
					continue
				}
				if fe.Off != ents[c.at].at {
					t.Errorf("%s: at offset %d, want the entry's at %d", what, fe.Off, ents[c.at].at)
				}
			}
		})
	}
}

// TestHostileDirectories points directory entries at the root (a cycle),
// at another directory (a directory reached twice) and at an inode of
// another type: each is a *FormatError naming the directory's inode.
func TestHostileDirectories(t *testing.T) {
	img := smallImage(t)
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	var bNid, smallNid uint64
	for e, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		switch e.Path {
		case "/a/b":
			bNid = e.Nid
		case "/small":
			smallNid = e.Nid
		}
	}
	for _, c := range []struct {
		name       string
		dir, entry string
		nid        uint64
		want       string
	}{
		{"cycle", "/a/b", "c", uint64(r.Super.RootNid), "reached twice"},
		{"shared", "/", "d", bNid, "reached twice"},
		{"type", "/", "link", smallNid, "directory entry says"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(img)
			at := dirEntryAt(t, r, c.dir, c.entry)
			binary.LittleEndian.PutUint64(b[at:], c.nid)
			err := exercise(context.Background(), bytes.NewReader(b), int64(len(b)), budget.New(16<<20), 1<<20)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || fe.Off <= 0 {
				t.Fatalf("got %v, want a FormatError saying %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

// TestBudget walks an image under a budget too small for its listings:
// a refused charge, as *budget.ExceededError, and nothing left held.
func TestBudget(t *testing.T) {
	img := smallImage(t, "-zlz4hc")
	b := budget.New(4 << 10)
	err := exercise(context.Background(), bytes.NewReader(img), int64(len(img)), b, 1<<20)
	var be *budget.ExceededError
	if !errors.As(err, &be) {
		t.Fatalf("got %v, want a refused charge", err)
	}
	if b.Peak() > b.Limit() {
		t.Fatalf("peak %d over %d", b.Peak(), b.Limit())
	}
	big := budget.New(64 << 20)
	if err := exercise(context.Background(), bytes.NewReader(img), int64(len(img)), big, 1<<20); err != nil {
		t.Fatal(err)
	}
	t.Logf("the whole walk and reads held at most %d bytes", big.Peak())
}

// TestCancel stops a walk with a cancelled context.
func TestCancel(t *testing.T) {
	img := smallImage(t, "-zlz4")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := exercise(ctx, bytes.NewReader(img), int64(len(img)), nil, 1<<20)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func setxattr(t testing.TB, p, key string, value []byte) {
	t.Helper()
	if err := syscall.Setxattr(p, key, value, 0); err != nil {
		t.Fatal(err)
	}
}

// TestDetect finds the magic of real images and not of other data.
func TestDetect(t *testing.T) {
	img := smallImage(t, "-zlz4")
	if !Detect(bytes.NewReader(img)) {
		t.Error("image not detected")
	}
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil || r.Size() != int64(len(img)) {
		t.Errorf("Size %d, image %d bytes: %v", r.Size(), len(img), err)
	}
	for _, b := range [][]byte{nil, make([]byte, 1027), make([]byte, 8192), []byte("hsqs")} {
		if Detect(bytes.NewReader(b)) {
			t.Errorf("detected in %d bytes", len(b))
		}
	}
}

// TestSparseChunks turns the zero chunks of a chunk-based file into holes
// (mkfs.erofs 1.5 points them at one shared zero block instead): the file
// reads the same, its holes are listed in pieces of at most 1 MiB, and the
// io/fs view agrees.
func TestSparseChunks(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	want := make([]byte, 5<<20+100)
	copy(want[3<<20:], "data in the middle")
	if err := os.WriteFile(filepath.Join(src, "sparse"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "img")
	makeImage(t, src, img, "--chunksize=2097152")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var e *Entry
	for x, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		if x.Path == "/sparse" {
			e = x
		}
	}
	m, err := r.newMapper(e)
	if err != nil || e.Layout != LayoutChunkBased || m.chunkUnit != 4 {
		t.Fatalf("%v %v", e.Layout, err)
	}
	for _, chunk := range []int64{0, 2} {
		binary.LittleEndian.PutUint32(b[m.chunkBase+4*chunk:], nullAddr)
	}
	r, err = Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	holes := 0
	for x, err := range r.Extents(e) {
		if err != nil {
			t.Fatal(err)
		}
		if x.Hole() {
			holes++
			if x.Len > 1<<20 || x.Off/(2<<20) == 1 {
				t.Errorf("hole %+v", x)
			}
		}
	}
	if holes != 4 { // each 2 MiB chunk as two pieces (the last one holds 1 MiB + 100 bytes)
		t.Errorf("%d holes, want 4", holes)
	}
	got, err := fs.ReadFile(r.FS(), "sparse")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %v, equal %v", err, bytes.Equal(got, want))
	}
}

// TestMutations runs what FuzzReader checks on 1,500 images with 1 to 8
// random bytes changed (most in the metadata), deterministically: the Go
// fuzzing engine is slow on inputs of this size, so this is the sweep every
// test run gets. Each input must finish within 2 s.
func TestMutations(t *testing.T) {
	seeds := [][]byte{smallImage(t), smallImage(t, "-zlz4hc", "-C16384", "-Eztailpacking"), smallImage(t, "--chunksize=8192"), smallImage(t, "-zlz4", "-Elegacy-compress")}
	for _, name := range []string{"lzma-fragments-fedora", "zstd-dedupe-fragments-lorax", "lzma-tail-fragments", "zstd-dedupe"} {
		_, img := openFixture(t, name)
		seeds = append(seeds, img)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var worst time.Duration
	refused := 0
	for i := range 1500 {
		b := bytes.Clone(seeds[i%len(seeds)])
		for range 1 + rng.IntN(8) {
			off := rng.IntN(len(b))
			if rng.IntN(4) > 0 {
				off = SuperblockOffset + rng.IntN(min(len(b)-SuperblockOffset, 40000))
			}
			b[off] = byte(rng.Uint32())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		bud := budget.New(16 << 20)
		err := exercise(ctx, bytes.NewReader(b), int64(len(b)), bud, 1<<24)
		cancel()
		checkErr(t, err)
		if err != nil {
			refused++
		}
		worst = max(worst, time.Since(start))
		if bud.Peak() > bud.Limit() {
			t.Fatalf("budget peak %d over %d", bud.Peak(), bud.Limit())
		}
	}
	if worst > 2*time.Second {
		t.Errorf("slowest input took %v", worst)
	}
	t.Logf("1500 mutated images, %d refused, slowest %v", refused, worst)
}
