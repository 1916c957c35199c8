package squashfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/tree"
)

// pseudo are mksquashfs pseudo definitions every test image gets: devices
// (one whose numbers need the kernel's large encoding), a socket and a
// pseudo fifo with fixed ownership and time.
var pseudo = []string{
	"-p", "cdev c 644 0 0 300 70000",
	"-p", "bdev b 600 1 2 8 1",
	"-p", "sock i 755 5 6 s",
	"-p", "pfifo I 1234567890 640 7 8 f",
}

// fill returns n bytes of deterministic data over a small alphabet, so it
// compresses somewhat but never to nothing.
func fill(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 99))
	const alphabet = "squashfs blocks\n"
	b := make([]byte, n)
	for i := 0; i < n; i += 16 {
		v := rng.Uint64()
		for j := i; j < min(i+16, n); j++ {
			b[j] = alphabet[v&15]
			v >>= 4
		}
	}
	return b
}

// buildTree makes a source tree that exercises every inode and listing
// feature, with file sizes chosen around the block size bs.
func buildTree(t testing.TB, root string, bs int, big bool) {
	t.Helper()
	w := func(rel string, data []byte) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zero := make([]byte, bs)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	w("small", []byte("hello\n"))
	w("empty", nil)
	w("blocks/one", fill(1, bs))
	w("blocks/two", fill(2, 2*bs))
	w("blocks/two+tail", fill(3, 2*bs+100))
	w("blocks/under", fill(4, bs-1))
	w("sparse/middle", cat(fill(5, bs), zero, fill(6, 100)))
	w("sparse/last", cat(fill(7, bs), zero))
	w("sparse/all", cat(zero, zero))
	w("sparse/lead-tail", cat(zero, fill(8, 10)))
	w("dup/a", fill(9, bs+7)) // duplicates, stored once
	w("dup/b", fill(9, bs+7))
	w("links/orig", fill(10, 3000))
	for _, l := range []string{"links/hard1", "links/sub/hard2"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, l)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(root, "links/orig"), filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	w("modes/suid", []byte("#!/bin/sh\n"))
	w("modes/sgid-noexec", []byte("x"))
	w("modes/dir-sgid/f", []byte("y"))
	w("modes/sticky/f", []byte("z"))
	chmod := map[string]os.FileMode{
		"modes/suid":        0o4755 | os.ModeSetuid,
		"modes/sgid-noexec": 0o640 | os.ModeSetgid,
		"modes/dir-sgid":    0o2775 | os.ModeSetgid,
		"modes/sticky":      0o1777 | os.ModeSticky,
	}
	for rel, m := range chmod {
		if err := os.Chmod(filepath.Join(root, rel), m); err != nil {
			t.Fatal(err)
		}
	}
	w("ids/big", []byte("owned"))
	if err := os.Chown(filepath.Join(root, "ids/big"), 70000, 4000000000); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"../small", "symlinks/rel"}, {"/etc/passwd", "symlinks/abs"},
		{strings.Repeat("long/", 800), "symlinks/long"}, {"dangling", "symlinks/dangling"}} {
		if err := os.MkdirAll(filepath.Join(root, "symlinks"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	w("names/"+strings.Repeat("n", 255), []byte("long name"))
	w("names/with space", nil)
	w("names/é-utf8", nil)
	w("names/a.c", nil) // tree.Compare puts "a/b" before "a.c"
	w("names/a/b", nil)
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	deep := root
	for i := range 40 {
		deep = filepath.Join(deep, fmt.Sprintf("d%d", i))
	}
	w(filepath.Join(deep[len(root):], "leaf"), []byte("deep"))
	os.MkdirAll(filepath.Join(root, "emptydir"), 0o700)

	xattr := func(rel, name, value string) {
		testimg.Run(t, root, "setfattr", "-h", "-n", name, "-v", value, rel)
	}
	shared := "0x" + strings.Repeat("ab", 200) // repeated values are stored out of line
	xattr("small", "user.comment", "hello")
	xattr("small", "user.shared", shared)
	xattr("small", "trusted.t", "0x00ff")
	xattr("empty", "user.shared", shared)
	xattr("blocks", "user.dir", "on a directory")
	xattr("links/orig", "user.shared", shared)
	xattr("symlinks/rel", "trusted.onlink", "x")
	// vfs_cap_data revision 2: permitted cap_net_raw
	xattr("modes/suid", "security.capability", "0x0000000200200000000000000000000000000000")

	if big {
		// 3000 entries: many directory headers and a directory index;
		// 2100 distinct owners: an id table of two metadata blocks.
		dir := filepath.Join(root, "big")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 3000 {
			p := filepath.Join(dir, fmt.Sprintf("entry-%05d-%s", (i*7919)%3000, strings.Repeat("x", i%40)))
			if err := os.WriteFile(p, []byte(p[len(dir):]), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(p, 1000+i%2100, 1000+i%1500); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type variant struct {
	name string
	bs   int
	args []string
	big  bool
	elf  bool // add real ELF binaries (for xz BCJ)
}

var variants = []variant{
	{name: "gzip", bs: 128 << 10, big: true, args: []string{"-root-mode", "0750"}},
	{name: "gzip-4K", bs: 4 << 10, args: []string{"-b", "4K", "-Xcompression-level", "6", "-Xwindow-size", "12", "-Xstrategy", "default,filtered,huffman_only"}},
	{name: "gzip-1M", bs: 1 << 20, args: []string{"-b", "1M", "-all-time", "1700000000", "-mkfs-time", "1600000000"}},
	{name: "xz", bs: 128 << 10, args: []string{"-comp", "xz"}},
	{name: "xz-bcj", bs: 128 << 10, elf: true, args: []string{"-comp", "xz", "-Xbcj", "x86", "-Xdict-size", "50%"}},
	{name: "lzma", bs: 64 << 10, args: []string{"-comp", "lzma", "-b", "64K"}},
	{name: "lzo", bs: 128 << 10, args: []string{"-comp", "lzo"}},
	{name: "lzo1x_1", bs: 128 << 10, args: []string{"-comp", "lzo", "-Xalgorithm", "lzo1x_1"}},
	{name: "lz4", bs: 128 << 10, args: []string{"-comp", "lz4"}},
	{name: "lz4hc", bs: 128 << 10, args: []string{"-comp", "lz4", "-Xhc"}},
	{name: "zstd", bs: 128 << 10, args: []string{"-comp", "zstd", "-Xcompression-level", "3"}},
	{name: "no-fragments", bs: 4 << 10, args: []string{"-b", "4K", "-no-fragments"}},
	{name: "always-fragments", bs: 4 << 10, args: []string{"-b", "4K", "-always-use-fragments"}},
	{name: "uncompressed", bs: 128 << 10, args: []string{"-noI", "-noD", "-noF", "-noX", "-no-exports"}},
	{name: "no-xattrs-no-dups", bs: 128 << 10, args: []string{"-no-xattrs", "-no-duplicates", "-no-sparse"}},
}

// TestOracle builds one image per variant and checks the reader against
// unsquashfs: its listing (node set, types, permissions, ids, sizes, device
// numbers, times, link targets) and its extraction (exact times, link
// counts, device numbers, xattrs and every file's contents).
func TestOracle(t *testing.T) {
	testimg.Need(t, "mksquashfs", "unsquashfs", "setfattr", "getfattr")
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			buildTree(t, src, v.bs, v.big)
			if v.elf {
				copyELF(t, filepath.Join(src, "bin"))
			}
			img := filepath.Join(dir, "img")
			testimg.MakeSquashfs(t, src, img, append(append([]string{}, v.args...), pseudo...)...)
			x := filepath.Join(dir, "x")
			testimg.ExtractSquashfs(t, img, x)
			r := openImage(t, img)
			if int(r.Super.BlockSize) != v.bs {
				t.Fatalf("block size %d, want %d", r.Super.BlockSize, v.bs)
			}
			checkListing(t, r, testimg.ListSquashfs(t, img), x)
			checkXattrs(t, r, x, !strings.Contains(v.name, "no-xattrs"))
			checkOptions(t, r, v)
			checkKnown(t, r, v)
		})
	}
}

// copyELF copies a few real x86 executables into dir.
func copyELF(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range []string{"ls", "sed", "grep", "find", "tar", "bash"} {
		b, err := os.ReadFile(filepath.Join("/usr/bin", name))
		if err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n < 2 {
		t.Fatal("no ELF binaries found in /usr/bin")
	}
}

func openImage(t testing.TB, img string) *Reader {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// walkAll returns every entry, checking that the walk is in tree.Compare order.
func walkAll(t testing.TB, r *Reader) []*Entry {
	t.Helper()
	var all []*Entry
	w := r.Walk()
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(all); n > 0 && tree.Compare(all[n-1].Path, e.Path) >= 0 {
			t.Fatalf("walk order: %q then %q", all[n-1].Path, e.Path)
		}
		all = append(all, e)
	}
	if len(all) == 0 || all[0].Path != "/" {
		t.Fatal("walk does not start at the root")
	}
	return all
}

func checkListing(t *testing.T, r *Reader, list []testimg.SquashfsListing, x string) {
	all := walkAll(t, r)
	want := make(map[string]testimg.SquashfsListing, len(list))
	for _, l := range list {
		want[l.Path] = l
	}
	if len(all) != len(want) || len(list) != len(want) {
		t.Errorf("walk has %d nodes, unsquashfs lists %d (%d distinct)", len(all), len(list), len(want))
	}
	for _, e := range all {
		l, ok := want[e.Path]
		if !ok {
			t.Errorf("%s: not listed by unsquashfs", e.Path)
			continue
		}
		delete(want, e.Path)
		got := testimg.SquashfsListing{Path: e.Path, Type: e.TypeString(), Perm: tree.PermString(e.Mode),
			UID: e.UID, GID: e.GID, MTime: e.ModTime.Format("2006-01-02 15:04"), Link: e.Link}
		if e.Mode&os.ModeDevice != 0 {
			got.Major, got.Minor = testimg.UnsquashfsDev(e.DevMajor, e.DevMinor)
		} else {
			got.Size = e.Size
		}
		if got != l {
			t.Errorf("%s:\n got %+v\nwant %+v", e.Path, got, l)
		}
		checkExtracted(t, r, e, filepath.Join(x, filepath.FromSlash(e.Path)))
	}
	for p := range want {
		t.Errorf("%s: listed by unsquashfs, not walked", p)
	}
}

// checkExtracted compares e with the node unsquashfs extracted at p.
func checkExtracted(t *testing.T, r *Reader, e *Entry, p string) {
	fi, err := os.Lstat(p)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if uint32(st.Nlink) != e.Nlink {
		t.Errorf("%s: nlink %d, extraction has %d", e.Path, e.Nlink, st.Nlink)
	}
	if mt := fi.ModTime(); !mt.Equal(e.ModTime) {
		t.Errorf("%s: mtime %v, extraction has %v", e.Path, e.ModTime, mt.UTC())
	}
	if fi.Mode() != e.Mode {
		t.Errorf("%s: mode %v, extraction has %v", e.Path, e.Mode, fi.Mode())
	}
	if e.Mode&os.ModeDevice != 0 {
		major, minor := (st.Rdev>>8)&0xfff|(st.Rdev>>32)&^0xfff, st.Rdev&0xff|(st.Rdev>>12)&^0xff
		if uint32(major) != e.DevMajor || uint32(minor) != e.DevMinor {
			t.Errorf("%s: device %d,%d, extraction has %d,%d", e.Path, e.DevMajor, e.DevMinor, major, minor)
		}
	}
	if !e.IsRegular() {
		return
	}
	rc, err := r.Open(e)
	if err != nil {
		t.Error(err)
		return
	}
	h := sha256.New()
	if n, err := io.Copy(h, rc); err != nil || n != e.Size {
		t.Errorf("%s: read %d of %d bytes: %v", e.Path, n, e.Size, err)
		return
	}
	wantSum := fileSum(t, p)
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSum {
		t.Errorf("%s: sha256 %s, extraction has %s", e.Path, got, wantSum)
	}
	checkFileAt(t, r, e, p)
}

// checkFileAt reads e through OpenFile at offsets that start, straddle and
// end blocks and the tail, and checks the bytes against the extraction.
func checkFileAt(t *testing.T, r *Reader, e *Entry, p string) {
	want, err := os.ReadFile(p)
	if err != nil {
		t.Error(err)
		return
	}
	f, err := r.OpenFile(e)
	if err != nil {
		t.Errorf("%s: OpenFile: %v", e.Path, err)
		return
	}
	bs := int64(r.Super.BlockSize)
	size := int64(len(want))
	for _, off := range []int64{0, 1, bs - 1, bs, bs + 1, 2*bs - 3, size / 2, size - 1, size} {
		for _, n := range []int64{1, 7, bs, 2*bs + 5, size} {
			if off < 0 || off > size {
				continue
			}
			buf := make([]byte, n)
			k, err := f.ReadAt(buf, off)
			wantN := min(n, size-off)
			if int64(k) != wantN || !bytes.Equal(buf[:k], want[off:off+wantN]) {
				t.Errorf("%s: ReadAt(%d bytes at %d) = %d bytes (%v), want %d matching the extraction", e.Path, n, off, k, err, wantN)
				return
			}
			if wantN < n && err != io.EOF || wantN == n && err != nil {
				t.Errorf("%s: ReadAt(%d bytes at %d): error %v", e.Path, n, off, err)
			}
		}
	}
}

func fileSum(t *testing.T, p string) string {
	f, err := os.Open(p)
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

func xattrLine(x tree.Xattr) string {
	return fmt.Sprintf("%s=0x%s size %d sum %x\n", x.Name, hex.EncodeToString(x.Value), x.Size, x.Sum)
}

// checkXattrs compares every node's xattrs with getfattr on the extraction.
func checkXattrs(t *testing.T, r *Reader, x string, expect bool) {
	out := testimg.Run(t, x, "getfattr", "-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", x)
	want := map[string]string{} // path -> "name=0xvalue\n..." sorted
	var cur string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# file: "):
			cur = strings.TrimPrefix(strings.TrimPrefix(line, "# file: "), x)
			if cur == "" {
				cur = "/"
			}
		case line != "":
			// Values longer than tree.XattrExcerpt are held as an excerpt,
			// a length and a SHA-256: render the oracle's value that way.
			name, val, _ := strings.Cut(line, "=0x")
			v, err := hex.DecodeString(val)
			if err != nil {
				t.Fatalf("getfattr line %q: %v", line, err)
			}
			want[cur] += xattrLine(tree.NewXattr(name, v))
			if x := tree.NewXattr(name, v); len(v) > tree.XattrExcerpt && (!x.Excerpted() || x.Size != len(v) || !bytes.Equal(x.Value, v[:tree.XattrExcerpt])) {
				t.Fatalf("excerpt of %d bytes: %+v", len(v), x)
			}
		}
	}
	got := map[string]string{}
	for _, e := range walkAll(t, r) {
		for _, a := range e.Xattrs {
			got[e.Path] += xattrLine(a)
		}
	}
	for p, g := range got {
		if want[p] != g {
			t.Errorf("%s xattrs:\n got %q\nwant %q", p, g, want[p])
		}
	}
	for p, w := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("%s: xattrs %q not read", p, w)
		}
	}
	if expect != (len(got) > 0) {
		t.Errorf("%d nodes with xattrs, expected some: %v", len(got), expect)
	}
}

// checkOptions checks the decoded compressor options, and for xz with BCJ
// that some data block really uses the x86 filter.
func checkOptions(t *testing.T, r *Reader, v variant) {
	o := r.Options
	switch v.name {
	case "gzip-4K":
		if o.Compression != Gzip || o.Level != 6 || o.WindowSize != 12 ||
			o.Strategies != GzipStrategyDefault|GzipStrategyFiltered|GzipStrategyHuffmanOnly {
			t.Errorf("gzip options %+v", o)
		}
	case "xz-bcj":
		if o.Compression != XZ || o.Filters != XZFilterX86 || o.DictSize != 64<<10 {
			t.Errorf("xz options %+v", o)
		}
		if !usesBCJ(t, r) {
			t.Error("no data block uses a BCJ filter")
		}
	case "lz4", "lz4hc":
		flags := uint32(0)
		if v.name == "lz4hc" {
			flags = LZ4HighCompression
		}
		if o.Compression != LZ4 || o.Version != 1 || o.LZ4Flags != flags {
			t.Errorf("lz4 options %+v", o)
		}
	case "zstd":
		if o.Compression != Zstd || o.Level != 3 {
			t.Errorf("zstd options %+v", o)
		}
	case "lzo1x_1":
		if o.Compression != LZO || o.Algorithm != LZO1X_1 {
			t.Errorf("lzo options %+v", o)
		}
	default:
		if o != (CompressorOptions{}) {
			t.Errorf("options %+v, want none", o)
		}
	}
	if strings.HasPrefix(v.name, "gzip-1M") && r.Super.MkfsTime != 1600000000 {
		t.Errorf("mkfs_time %d", r.Super.MkfsTime)
	}
}

// usesBCJ reports whether some data block is an xz stream whose block
// header lists more than one filter (a BCJ filter before LZMA2).
func usesBCJ(t *testing.T, r *Reader) bool {
	all := walkAll(t, r)
	for _, e := range all {
		if !e.IsRegular() || !strings.HasPrefix(e.Path, "/bin/") {
			continue
		}
		for b := range r.Blocks(e) {
			if !b.Compressed || b.Size < 14 {
				continue
			}
			hdr := make([]byte, 14)
			if _, err := r.Raw().ReadAt(hdr, b.Off); err != nil {
				t.Fatal(err)
			}
			// 12-byte stream header, then the block header size and flags;
			// flags&3 is the filter count minus one.
			if hdr[13]&3 > 0 {
				return true
			}
		}
	}
	return false
}

func TestFormatErrorString(t *testing.T) {
	err := error(&FormatError{Off: 96, What: "inode", Err: ErrCorrupt})
	if got := err.Error(); got != "squashfs: inode at offset 96: corrupt data" {
		t.Errorf("Error() = %q", got)
	}
	var fe *FormatError
	if !errors.As(fmt.Errorf("img.iso: squashfs: %w", err), &fe) || !errors.Is(err, ErrCorrupt) {
		t.Error("FormatError does not unwrap")
	}
}

// checkKnown checks what the tree was built to contain, so that a reader
// and an oracle that both dropped a feature cannot agree silently.
func checkKnown(t *testing.T, r *Reader, v variant) {
	byPath := map[string]*Entry{}
	for _, e := range walkAll(t, r) {
		byPath[e.Path] = e
	}
	get := func(p string) *Entry {
		e := byPath[p]
		if e == nil {
			t.Fatalf("%s missing", p)
		}
		return e
	}
	if e := get("/cdev"); e.Mode.Type() != os.ModeDevice|os.ModeCharDevice || e.DevMajor != 300 || e.DevMinor != 70000 {
		t.Errorf("/cdev: %v %d,%d", e.Mode, e.DevMajor, e.DevMinor)
	}
	if e := get("/bdev"); e.Mode != os.ModeDevice|0o600 || e.DevMajor != 8 || e.DevMinor != 1 || e.UID != 1 || e.GID != 2 {
		t.Errorf("/bdev: %v %d,%d %d/%d", e.Mode, e.DevMajor, e.DevMinor, e.UID, e.GID)
	}
	if e := get("/sock"); e.Mode != os.ModeSocket|0o755 {
		t.Errorf("/sock: %v", e.Mode)
	}
	if e := get("/pfifo"); e.Mode != os.ModeNamedPipe|0o640 || e.ModTime.Unix() != 1234567890 && v.name != "gzip-1M" {
		t.Errorf("/pfifo: %v %v", e.Mode, e.ModTime)
	}
	if e := get("/modes/suid"); e.Mode != os.ModeSetuid|0o755 {
		t.Errorf("/modes/suid: %v", e.Mode)
	}
	if e := get("/modes/sticky"); e.Mode != os.ModeDir|os.ModeSticky|0o777 {
		t.Errorf("/modes/sticky: %v", e.Mode)
	}
	if e := get("/ids/big"); e.UID != 70000 || e.GID != 4000000000 {
		t.Errorf("/ids/big: %d/%d", e.UID, e.GID)
	}
	if e := get("/links/sub/hard2"); e.Nlink != 3 || e.Inode != get("/links/orig").Inode {
		t.Errorf("hard links: nlink %d, inodes %d %d", e.Nlink, e.Inode, get("/links/orig").Inode)
	}
	if e := get("/symlinks/long"); len(e.Link) != 4000 || e.Size != 4000 {
		t.Errorf("/symlinks/long: %d bytes", len(e.Link))
	}
	if e := get("/sparse/last"); !v.has("-no-sparse") && (len(e.BlockSizes) != 2 || e.BlockSizes[1] != 0) {
		t.Errorf("/sparse/last: blocks %x", e.BlockSizes)
	}
	if e := get("/"); v.has("-root-mode") && e.Mode != os.ModeDir|0o750 {
		t.Errorf("/: mode %v", e.Mode)
	}
	frag := get("/small").Fragment != noFragment
	if want := !v.has("-no-fragments"); frag != want {
		t.Errorf("/small in a fragment: %v", frag)
	}
	frag = get("/blocks/two+tail").Fragment != noFragment
	if want := v.has("-always-use-fragments"); frag != want {
		t.Errorf("/blocks/two+tail tail in a fragment: %v", frag)
	}
	if v.big {
		n, dirs := 0, 0
		for p := range byPath {
			if strings.HasPrefix(p, "/big/") {
				n++
			}
			if byPath[p].Mode.IsDir() {
				dirs++
			}
		}
		if n != 3000 || get("/big").InodeType != TypeExtDir || r.Super.IDCount < 2100 {
			t.Errorf("/big: %d entries, inode type %d, %d ids", n, get("/big").InodeType, r.Super.IDCount)
		}
		if dirs < 50 {
			t.Errorf("only %d directories", dirs)
		}
	}
}

func (v variant) has(arg string) bool {
	for _, a := range v.args {
		if a == arg {
			return true
		}
	}
	return false
}
