package erofs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/isodiff/isodiff/tree"
)

// needTools skips the test when erofs-utils is missing (scripts/test.sh
// installs it).
func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"mkfs.erofs", "dump.erofs", "fsck.erofs", "getfattr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/test.sh installs it)", tool)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// encodeDev is the kernel's new_encode_dev.
func encodeDev(major, minor uint32) int {
	return int(minor&0xff | major<<8 | (minor&^0xff)<<12)
}

// buildTree writes a tree with every file type and layout a live root
// filesystem has, plus the odd cases: empty, sparse and multi-cluster
// files, a directory of many entries, short and long symlinks, hard
// links, devices, a fifo and a socket, setuid/setgid/sticky, xattrs
// (long ones, and one shared by many files), odd names, owners past
// 16 bits and nanosecond mtimes.
func buildTree(t testing.TB, root string, big int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, b []byte, mode fs.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, b, mode))
		must(os.Chmod(p, mode))
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "line %d of a compressible file %x\n", i, rng.Uint32()%7)
		}
		return b.Bytes()[:n]
	}
	must(os.MkdirAll(root, 0o755))
	write("empty", nil, 0o644)
	write("small", []byte("hello\n"), 0o644)
	for _, n := range []int{4095, 4096, 4097, 8191, 65536 + 100} {
		write(fmt.Sprintf("sizes/text%d", n), text(n), 0o644)
		write(fmt.Sprintf("sizes/rand%d", n), random(n), 0o600)
	}
	write("big/text", text(big), 0o644)
	write("big/random", random(big/2), 0o644)
	mixed := append(text(big/4), random(big/4)...)
	mixed = append(mixed, text(big/4+123)...)
	write("big/mixed", mixed, 0o755)
	// Sparse: a hole, data, a hole at the end.
	sp := filepath.Join(root, "big/sparse")
	f, err := os.Create(sp)
	must(err)
	_, err = f.WriteAt(text(5000), 3<<20)
	must(err)
	must(f.Truncate(5 << 20))
	must(f.Close())
	for i := range 300 {
		write(fmt.Sprintf("many/entry-%04d", i), []byte(strconv.Itoa(i)), 0o644)
	}
	write("modes/setuid", []byte("u"), fs.ModeSetuid|0o755)
	write("modes/setgid", []byte("g"), fs.ModeSetgid|0o711)
	write("modes/all", []byte("g"), fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o700)
	must(os.MkdirAll(filepath.Join(root, "modes/sticky"), 0o755))
	must(os.Chmod(filepath.Join(root, "modes/sticky"), fs.ModeSticky|0o777))
	write("modes/none", []byte("n"), 0)
	must(os.Symlink("small", filepath.Join(root, "link-short")))
	must(os.Symlink(strings.Repeat("long/target/", 300)+"end", filepath.Join(root, "link-long")))
	must(os.Symlink("/nowhere", filepath.Join(root, "modes/dangling")))
	must(os.Link(filepath.Join(root, "small"), filepath.Join(root, "hard1")))
	must(os.Link(filepath.Join(root, "small"), filepath.Join(root, "many/hard2")))
	must(os.MkdirAll(filepath.Join(root, "dev"), 0o755))
	must(syscall.Mknod(filepath.Join(root, "dev/char"), syscall.S_IFCHR|0o620, encodeDev(300, 70000)))
	must(syscall.Mknod(filepath.Join(root, "dev/block"), syscall.S_IFBLK|0o660, encodeDev(8, 1)))
	must(syscall.Mkfifo(filepath.Join(root, "dev/fifo"), 0o644))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(root, "dev/socket"), Net: "unix"})
	must(err)
	l.SetUnlinkOnClose(false)
	must(l.Close())
	for _, name := range []string{"odd/with space", "odd/new\nline", "odd/ünïcødé", "odd/" + strings.Repeat("n", 200), "odd/-dash", "odd/a.c", "odd/a", "odd/B"} {
		write(name, []byte(name), 0o644)
	}
	must(os.MkdirAll(filepath.Join(root, "odd/a.d"), 0o755))
	write("odd/a.d/inner", []byte("x"), 0o644)
	// Owners, one past 16 bits.
	must(os.Lchown(filepath.Join(root, "sizes/text4096"), 1234, 5678))
	must(os.Lchown(filepath.Join(root, "sizes/rand4096"), 100000, 200000))
	must(os.Lchown(filepath.Join(root, "link-short"), 42, 43))
	// Xattrs: short, long, binary; one shared by several files.
	setx := func(name, key string, value []byte) {
		t.Helper()
		must(syscall.Setxattr(filepath.Join(root, name), key, value, 0))
	}
	setx("small", "user.short", []byte("v"))
	setx("small", "user.long", bytes.Repeat([]byte("0123456789"), 300))
	setx("small", "trusted.bin", []byte{0, 1, 2, 255})
	setx("many", "user.dir", []byte("on a directory"))
	for _, n := range []string{"sizes/text4095", "sizes/text4096", "sizes/text4097", "big/text"} {
		setx(n, "user.shared", []byte("the same value on every file"))
	}
	setx("big/mixed", "security.capability", []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	// Mtimes with nanoseconds, one before the epoch; directories last.
	base := time.Date(2021, 5, 6, 7, 8, 9, 123456789, time.UTC)
	i := 0
	var dirs []string
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		i++
		ts := []syscall.Timespec{syscall.NsecToTimespec(base.Add(time.Duration(i) * 1001 * time.Millisecond).UnixNano()), {}}
		ts[1] = ts[0]
		return utimes(p, ts)
	}))
	must(utimes(filepath.Join(root, "modes/none"), []syscall.Timespec{{Sec: -86400 * 3}, {Sec: -86400 * 3, Nsec: 5}}))
	slices.Reverse(dirs)
	for _, d := range dirs {
		must(os.Chtimes(d, base, base.Add(-time.Hour)))
	}
}

// utimes sets the times of p without following a symlink (utimensat
// with AT_SYMLINK_NOFOLLOW).
func utimes(p string, ts []syscall.Timespec) error {
	b, err := syscall.BytePtrFromString(p)
	if err != nil {
		return err
	}
	const atFDCWD, atSymlinkNofollow = -100, 0x100
	fd := atFDCWD
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&ts[0])), atSymlinkNofollow, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// configs are the mkfs.erofs invocations the oracle tests cover: every
// layout erofs-utils 1.5 writes.
var configs = []struct {
	name string
	args []string
}{
	{"plain", nil},
	{"noinline", []string{"-Enoinline_data"}},
	{"chunked", []string{"--chunksize=8192"}},
	{"chunk-indexes", []string{"--chunksize=4096", "-Eforce-chunk-indexes"}},
	{"blockmap", []string{"--chunksize=16384", "-Eforce-inode-blockmap"}},
	{"lz4", []string{"-zlz4"}},
	{"lz4hc", []string{"-zlz4hc,12"}},
	{"lz4hc-bigpcluster", []string{"-zlz4hc", "-C65536"}},
	{"lz4-ztailpacking", []string{"-zlz4", "-Eztailpacking"}},
	{"lz4hc-big-ztail", []string{"-zlz4hc", "-C32768", "-Eztailpacking"}},
	{"lz4-legacy", []string{"-zlz4", "-Elegacy-compress"}},
	{"lz4-compact-inodes", []string{"-zlz4", "-Eforce-inode-compact", "--all-root"}},
	{"lz4-extended-inodes", []string{"-zlz4", "-Eforce-inode-extended", "--max-extent-bytes=16384"}},
}

// makeImage builds an image of src with mkfs.erofs and args.
func makeImage(t testing.TB, src, img string, args ...string) {
	t.Helper()
	run(t, "mkfs.erofs", append(append([]string{"--quiet", "-Uc0ffee00-1234-5678-9abc-def012345678"}, args...), img, src)...)
}

// walkAll walks r, checking the order, and returns the entries.
func walkAll(t testing.TB, r *Reader) []*Entry {
	t.Helper()
	var out []*Entry
	for e, err := range r.All() {
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		if n := len(out); n > 0 && tree.Compare(out[n-1].Path, e.Path) >= 0 {
			t.Fatalf("walk order: %q then %q", out[n-1].Path, e.Path)
		}
		out = append(out, e)
	}
	return out
}

func sha(t testing.TB, r io.Reader) string {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestOracle builds the tree with every config and compares the walk
// with fsck.erofs --extract (types, modes, owners, sizes, mtimes, link
// targets, device numbers, every file's SHA-256), dump.erofs (superblock,
// each inode's nid, link count, layout and xattr area size, each file's
// extents) and getfattr on the source tree (fsck.erofs 1.5 extracts no
// xattrs and no hard links).
func TestOracle(t *testing.T) {
	needTools(t)
	if os.Getuid() != 0 {
		t.Skip("needs root for devices and owners")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	buildTree(t, src, 300<<10)
	srcX := sourceXattrs(t, src)
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, c.name+".erofs")
			makeImage(t, src, img, c.args...)
			out := filepath.Join(dir, c.name+".out")
			run(t, "fsck.erofs", "--extract="+out, img)
			r := openImageFile(t, img)
			checkSuperblock(t, r, img)
			ents := walkAll(t, r)
			checkExtraction(t, r, ents, out, src)
			checkDump(t, r, ents, img)
			for _, e := range ents {
				want := srcX[e.Path]
				if !slices.EqualFunc(e.Xattrs, want, func(a, b tree.Xattr) bool { return a.Name == b.Name && a.SameValue(b) }) {
					t.Errorf("%s: xattrs %v, getfattr says %v", e.Path, names(e.Xattrs), names(want))
				}
			}
			layouts := map[Layout]int{}
			for _, e := range ents {
				if e.IsRegular() {
					layouts[e.Layout]++
				}
			}
			ls := layoutStats(t, r, ents)
			checkLayoutStats(t, c.name, ls)
			t.Logf("%d nodes, regular files by layout %v; %+v", len(ents), layouts, ls)
		})
	}
}

// stats counts what the walk met, so each configuration can be shown to
// exercise the layout it is there for.
type stats struct {
	FlatPlain, FlatInline, Chunked, Compressed int // regular files by layout
	ChunkIndexes, BlockMap                     int // chunk-based files by index format
	Compact2B, FullIndexes                     int // compressed files with 2-byte compact indexes, full indexes
	LZ4, PlainPclusters, BigPclusters          int // compressed extents: lz4, stored uncompressed, over one block
	InlinePclusters, InlineTails               int // ztailpacking tails; flat inline tails
	Setuid, Sticky, Devices, Shared            int
}

func layoutStats(t *testing.T, r *Reader, ents []*Entry) stats {
	var st stats
	for _, e := range ents {
		if e.Mode&fs.ModeSetuid != 0 {
			st.Setuid++
		}
		if e.Mode&fs.ModeSticky != 0 {
			st.Sticky++
		}
		if e.Mode&fs.ModeDevice != 0 {
			st.Devices++
		}
		for _, x := range e.Xattrs {
			if x.Name == "user.shared" {
				st.Shared++
			}
		}
		if !e.IsRegular() {
			continue
		}
		switch e.Layout {
		case LayoutFlatPlain:
			st.FlatPlain++
		case LayoutFlatInline:
			st.FlatInline++
		case LayoutChunkBased:
			st.Chunked++
		default:
			st.Compressed++
		}
		if e.Size == 0 {
			continue
		}
		m, err := r.newMapper(e)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Layout == LayoutChunkBased && m.chunkUnit == 8:
			st.ChunkIndexes++
		case e.Layout == LayoutChunkBased:
			st.BlockMap++
		case e.Layout == LayoutCompressedCompact && m.c2 > 0:
			st.Compact2B++
		case e.Layout == LayoutCompressedFull:
			st.FullIndexes++
		}
		for x, err := range r.Extents(e) {
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case x.Compressed && x.Algorithm == LZ4:
				st.LZ4++
			case !x.Compressed && e.Layout.Compressed():
				st.PlainPclusters++
			}
			if x.Compressed && x.Stored > r.Super.BlockSize() {
				st.BigPclusters++
			}
			if x.Inline && e.Layout.Compressed() {
				st.InlinePclusters++
			}
			if x.Inline && e.Layout == LayoutFlatInline {
				st.InlineTails++
			}
		}
	}
	return st
}

// checkLayoutStats requires each configuration to exercise its layout.
func checkLayoutStats(t *testing.T, name string, st stats) {
	t.Helper()
	want := func(what string, n int) {
		if n == 0 {
			t.Errorf("%s: no %s (%+v)", name, what, st)
		}
	}
	want("setuid", st.Setuid)
	want("sticky", st.Sticky)
	want("devices", st.Devices)
	want("shared xattrs", st.Shared)
	switch {
	case name == "plain":
		want("flat plain", st.FlatPlain)
		want("inline tails", st.InlineTails)
	case name == "noinline":
		want("flat plain", st.FlatPlain)
		if st.InlineTails > 0 {
			t.Errorf("noinline: %d inline tails", st.InlineTails)
		}
	case name == "chunk-indexes":
		want("chunk indexes", st.ChunkIndexes)
	case strings.HasPrefix(name, "chunk"), name == "blockmap":
		want("block maps", st.BlockMap)
	case name == "lz4-legacy":
		want("lz4 pclusters", st.LZ4)
		want("full indexes", st.FullIndexes)
		want("uncompressed pclusters", st.PlainPclusters)
	case strings.HasPrefix(name, "lz4"):
		want("lz4 pclusters", st.LZ4)
		want("2-byte compact indexes", st.Compact2B)
		if !strings.Contains(name, "big") {
			want("uncompressed pclusters", st.PlainPclusters)
		}
	}
	if strings.Contains(name, "big") {
		want("big pclusters", st.BigPclusters)
	}
	if strings.Contains(name, "ztail") {
		want("inline pclusters", st.InlinePclusters)
	}
}

func names(xs []tree.Xattr) []string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%s(%d)", x.Name, x.Size))
	}
	return s
}

// sourceXattrs reads every node's xattrs of the source tree with getfattr.
func sourceXattrs(t testing.TB, src string) map[string][]tree.Xattr {
	out := run(t, "getfattr", "-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", src)
	m := map[string][]tree.Xattr{}
	var cur string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "# file: "):
			p := strings.TrimPrefix(line, "# file: ")
			p = unescapeGetfattr(p)
			cur = "/" + strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
			if p == src {
				cur = "/"
			}
		case strings.Contains(line, "=0x"):
			k, v, _ := strings.Cut(line, "=0x")
			b := make([]byte, len(v)/2)
			for i := range b {
				n, _ := strconv.ParseUint(v[2*i:2*i+2], 16, 8)
				b[i] = byte(n)
			}
			m[cur] = append(m[cur], tree.NewXattr(k, b))
		}
	}
	for k := range m {
		slices.SortFunc(m[k], func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	}
	return m
}

// unescapeGetfattr undoes getfattr's octal escapes (\012 for a newline).
func unescapeGetfattr(s string) string {
	re := regexp.MustCompile(`\\[0-7]{3}`)
	return re.ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.ParseUint(e[1:], 8, 8)
		return string([]byte{byte(n)})
	})
}

// checkExtraction compares each entry with its extracted copy. fsck.erofs
// 1.5 (and dump.erofs) drop setuid, setgid and sticky, so those three bits
// are compared with the source tree mkfs.erofs read, and the rest of the
// mode with the extraction.
func checkExtraction(t *testing.T, r *Reader, ents []*Entry, out, src string) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range ents {
		p := filepath.Join(out, e.Path)
		seen[e.Path] = true
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Errorf("%s: not extracted: %v", e.Path, err)
			continue
		}
		var sst syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(src, e.Path), &sst); err != nil {
			t.Fatal(err)
		}
		const special = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
		wantMode := goMode(uint16(st.Mode))&^special | goMode(uint16(sst.Mode))&special
		if e.Mode != wantMode {
			t.Errorf("%s: mode %v, extraction %v", e.Path, e.Mode, wantMode)
		}
		if e.UID != st.Uid || e.GID != st.Gid {
			t.Errorf("%s: owner %d:%d, extraction %d:%d", e.Path, e.UID, e.GID, st.Uid, st.Gid)
		}
		if !e.Mode.IsDir() && e.Size != st.Size {
			t.Errorf("%s: size %d, extraction %d", e.Path, e.Size, st.Size)
		}
		if e.Mode&fs.ModeSymlink == 0 && e.Path != "/" {
			if mt := time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(); !e.ModTime.Equal(mt) {
				t.Errorf("%s: mtime %v, extraction %v", e.Path, e.ModTime, mt)
			}
		}
		if e.Mode&fs.ModeDevice != 0 {
			maj, mnr := decodeDev(uint32(st.Rdev))
			if e.DevMajor != maj || e.DevMinor != mnr {
				t.Errorf("%s: device %d,%d, extraction %d,%d", e.Path, e.DevMajor, e.DevMinor, maj, mnr)
			}
		}
		if e.Mode&fs.ModeSymlink != 0 {
			if target, _ := os.Readlink(p); target != e.Link {
				t.Errorf("%s: target %q, extraction %q", e.Path, e.Link, target)
			}
		}
		if e.IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			want := sha(t, f)
			f.Close()
			rd, err := r.Open(e)
			if err != nil {
				t.Errorf("%s: %v", e.Path, err)
				continue
			}
			if got := sha(t, rd); got != want {
				t.Errorf("%s: sha256 %s, extraction %s", e.Path, got, want)
			}
		}
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, out), "/")
		if !seen[rel] {
			t.Errorf("%s extracted but not walked", rel)
		}
		return nil
	})
}

var dumpLine = regexp.MustCompile(`^\s*(\d+):\s+(\d+)\.\.\s*(\d+) \|\s+(\d+) :\s+(\d+)\.\.\s*(\d+) \|\s+(\d+)$`)

// checkDump compares each inode with dump.erofs --path, and each regular
// file's extents with dump.erofs -e.
func checkDump(t *testing.T, r *Reader, ents []*Entry, img string) {
	t.Helper()
	for _, e := range ents {
		args := []string{"--path=" + e.Path, img}
		if strings.Contains(e.Path, "\n") {
			args[0] = fmt.Sprintf("--nid=%d", e.Nid) // a name --path cannot take
		}
		if e.IsRegular() {
			args = append([]string{"-e"}, args...)
		}
		compareEntryDump(t, r, e, run(t, "dump.erofs", args...))
	}
}

func checkSuperblock(t *testing.T, r *Reader, img string) {
	t.Helper()
	out := run(t, "dump.erofs", "-s", img)
	s := &r.Super
	for _, want := range []string{
		fmt.Sprintf("Filesystem magic number:                      0x%X", s.Magic),
		fmt.Sprintf("Filesystem blocks:                            %d", s.Blocks),
		fmt.Sprintf("Filesystem inode metadata start block:        %d", s.MetaBlkAddr),
		fmt.Sprintf("Filesystem shared xattr metadata start block: %d", s.XattrBlkAddr),
		fmt.Sprintf("Filesystem root nid:                          %d", s.RootNid),
		fmt.Sprintf("Filesystem inode count:                       %d", s.Inos),
		"Filesystem UUID:                              " + uuidString(s.UUID),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("superblock: want %q in\n%s", want, out)
		}
	}
	if d := time.Since(s.MkfsTime()); d < 0 || d > time.Hour {
		t.Errorf("build time %v, not about now", s.MkfsTime())
	}
	if !s.ChecksumOK {
		t.Errorf("superblock checksum %#x does not match", s.Checksum)
	}
	// dump.erofs 1.5 does not name ztailpacking; TestLayouts checks it.
	var feats []string
	for _, f := range []struct {
		bit  uint32
		inc  bool
		name string
	}{{FeatureCompatSBChecksum, false, "sb_csum"}, {FeatureCompatMtime, false, "mtime"}, {FeatureZeroPadding, true, "0padding"}, {FeatureBigPcluster, true, "big_pcluster"}, {FeatureChunkedFile, true, "chunked_file"}, {FeatureDeviceTable, true, "device_table"}} {
		v := s.FeatureCompat
		if f.inc {
			v = s.FeatureIncompat
		}
		if v&f.bit != 0 {
			feats = append(feats, f.name)
		}
	}
	m := regexp.MustCompile(`Filesystem features:\s+(.*)`).FindStringSubmatch(out)
	if m == nil || strings.Join(strings.Fields(m[1]), " ") != strings.Join(feats, " ") {
		t.Errorf("features %v, dump.erofs %q", feats, m)
	}
}

var _ = errors.New
