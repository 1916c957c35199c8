package erofs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/tree"
)

// newTools returns the directory holding mkfs.erofs, fsck.erofs and
// dump.erofs of erofs-utils 1.9 or later (the environment variable
// EROFS_UTILS_BIN), which write what 1.5 cannot: lzma, deflate and zstd
// pclusters, fragments and dedupe. It skips the test when unset or
// missing.
func newTools(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EROFS_UTILS_BIN")
	if dir == "" {
		t.Skip("EROFS_UTILS_BIN not set (a directory with mkfs.erofs, fsck.erofs and dump.erofs of erofs-utils >= 1.9)")
	}
	for _, tool := range []string{"mkfs.erofs", "fsck.erofs", "dump.erofs"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			t.Skipf("EROFS_UTILS_BIN: %v", err)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "mkfs.erofs"), "--help").CombinedOutput()
	if err != nil && len(out) == 0 {
		t.Skipf("EROFS_UTILS_BIN: mkfs.erofs --help: %v", err)
	}
	for _, alg := range []string{"lzma", "deflate", "zstd"} {
		if !bytes.Contains(out, []byte(alg)) {
			t.Skipf("EROFS_UTILS_BIN: mkfs.erofs lists no %s", alg)
		}
	}
	if _, err := exec.LookPath("getfattr"); err != nil {
		t.Skip("getfattr not installed")
	}
	return dir
}

// newConfigs are the mkfs.erofs (1.9) invocations of TestOracleNew: the
// options of Fedora 42 / Fedora CoreOS (lzma, level 6, all-fragments with
// fragdedupe=inode, 1 MiB pclusters; and 512 KiB pclusters with a 512 KiB
// dictionary), of lorax (zstd level 8, dedupe and all-fragments, 64 KiB
// pclusters), and each new codec and layout on its own.
var newConfigs = []struct {
	name string
	args []string
}{
	{"lzma", []string{"-zlzma"}},
	{"lzma-fragments-fedora", []string{"-zlzma,level=6", "-Eall-fragments,fragdedupe=inode", "-C1048576"}},
	{"lzma-dict-coreos", []string{"-C524288", "-zlzma,level=6,dictsize=524288"}},
	{"deflate", []string{"-zdeflate"}},
	{"zstd", []string{"-zzstd"}},
	{"zstd-dedupe-fragments-lorax", []string{"-zzstd,8", "-Ededupe,all-fragments", "-C65536"}},
	{"lz4hc-fragments", []string{"-zlz4hc", "-Eall-fragments"}},
	{"lzma-tail-fragments", []string{"-zlzma", "-Efragments", "-C65536"}},
	{"deflate-ztailpacking", []string{"-zdeflate", "-Eztailpacking", "-C16384"}},
	{"lz4-dedupe", []string{"-zlz4hc", "-Ededupe", "-C16384"}},
	{"lzma-dedupe", []string{"-zlzma", "-Ededupe", "-C16384"}},
	{"zstd-dedupe", []string{"-zzstd", "-Ededupe", "-C16384"}},
	{"deflate-dedupe-fragments", []string{"-zdeflate", "-Ededupe,fragments", "-C32768"}},
}

// addSharedContent adds files that share content with each other (whole
// copies, a shared prefix, a shared tail), for dedupe and fragdedupe.
func addSharedContent(t testing.TB, root string) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(root, "big/text"))
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := os.ReadFile(filepath.Join(root, "big/mixed"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"shared/copy-of-text":   text,
		"shared/copy-of-mixed":  mixed,
		"shared/prefix-of-text": text[:len(text)/2+777],
		"shared/text-and-more":  append(slices.Clone(text), []byte("and a different tail\n")...),
		"shared/tail-of-mixed":  mixed[len(mixed)/3:],
		"shared/small-copy":     []byte("hello\n"),
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ts := time.Date(2022, 1, 2, 3, 4, 5, 6, time.UTC)
		if err := os.Chtimes(p, ts, ts); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOracleNew builds the tree of TestOracle (plus files sharing
// content) with mkfs.erofs 1.9 for each of newConfigs and compares the
// reader with fsck.erofs --extract and dump.erofs of the same version:
// types, modes, owners, sizes, mtimes, link targets, device numbers and
// every file's SHA-256; the superblock; each inode's nid, link count,
// layout and xattr area; each file's extents; xattrs with getfattr on the
// source.
func TestOracleNew(t *testing.T) {
	bin := newTools(t)
	if os.Getuid() != 0 {
		t.Skip("needs root for devices and owners")
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	buildTree(t, src, 1<<20+300<<10)
	addSharedContent(t, src)
	srcX := sourceXattrs(t, src)
	for _, c := range newConfigs {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, c.name+".erofs")
			makeImage(t, src, img, c.args...)
			out := filepath.Join(dir, c.name+".out")
			// fsck.erofs 1.9.3 --extract with fragments extracts the
			// packed inode to the target path first (erofs_is_packed_inode
			// only knows mkfs's in-memory inode): check the image whole
			// first, then extract from --path=/, which skips that.
			run(t, "fsck.erofs", img)
			run(t, "fsck.erofs", "--path=/", "--extract="+out, "--preserve", img)
			r := openImageFile(t, img)
			checkSuperblockNew(t, r, img)
			ents := walkAll(t, r)
			checkExtraction(t, r, ents, out, src)
			checkDumpNew(t, r, ents, img)
			for _, e := range ents {
				want := srcX[e.Path]
				if !slices.EqualFunc(e.Xattrs, want, func(a, b tree.Xattr) bool { return a.Name == b.Name && a.SameValue(b) }) {
					t.Errorf("%s: xattrs %v, getfattr says %v", e.Path, names(e.Xattrs), names(want))
				}
			}
			ns := newLayoutStats(t, r, ents)
			checkNewStats(t, c.name, c.args, ns)
			t.Logf("%d nodes, %+v", len(ents), ns)
		})
	}
}

// newStats counts what a walk met of the new formats.
type newStats struct {
	Algorithms         map[Algorithm]int // compressed extents by algorithm
	FragmentFiles      int               // files with a fragment
	WholeFragmentFiles int               // files all in the packed inode
	FragmentPieces     int
	PartialRefs        int // deduplicated partial references
	SharedPclusters    int // pclusters referenced by more than one extent
	BigPclusters       int
	InlinePclusters    int
	PackedInodeDecodes int64
	PackedInodeSize    int64
	PackedInodeExtents int
	Interlaced         int // uncompressed interlaced pclusters (in the packed inode)
}

func newLayoutStats(t *testing.T, r *Reader, ents []*Entry) newStats {
	st := newStats{Algorithms: map[Algorithm]int{}}
	refs := map[int64]int{}
	for _, e := range ents {
		if !e.IsRegular() || e.Size == 0 || !e.Layout.Compressed() {
			continue
		}
		frag, whole := false, true
		for x, err := range r.Extents(e) {
			if err != nil {
				t.Fatalf("%s: %v", e.Path, err)
			}
			if x.Fragment {
				frag = true
				st.FragmentPieces++
				continue
			}
			whole = false
			if x.Compressed {
				st.Algorithms[x.Algorithm]++
				if x.Stored > r.Super.BlockSize() {
					st.BigPclusters++
				}
			}
			if x.Partial {
				st.PartialRefs++
			}
			if x.Inline {
				st.InlinePclusters++
			} else {
				refs[x.Phys]++
			}
		}
		if frag {
			st.FragmentFiles++
			if whole {
				st.WholeFragmentFiles++
			}
		}
	}
	for _, n := range refs {
		if n > 1 {
			st.SharedPclusters++
		}
	}
	if p := r.packed.entry; p != nil {
		st.PackedInodeSize = p.Size
		for x, err := range r.Extents(p) {
			if err != nil {
				t.Fatalf("packed inode: %v", err)
			}
			st.PackedInodeExtents++
			if x.Compressed {
				st.Algorithms[x.Algorithm]++
			}
			if x.Interlaced {
				st.Interlaced++
			}
		}
	}
	st.PackedInodeDecodes = r.packed.decodes.Load()
	return st
}

// checkNewStats requires each configuration to exercise what it is there
// for.
func checkNewStats(t *testing.T, name string, args []string, st newStats) {
	t.Helper()
	want := func(what string, n int) {
		t.Helper()
		if n == 0 {
			t.Errorf("%s: no %s (%+v)", name, what, st)
		}
	}
	a := strings.Join(args, " ")
	for alg, s := range map[Algorithm]string{LZMA: "-zlzma", Deflate: "-zdeflate", Zstd: "-zzstd"} {
		if strings.Contains(a, s) {
			want(alg.String()+" pclusters", st.Algorithms[alg])
		}
	}
	if strings.Contains(a, "-zlz4") {
		want("lz4 pclusters", st.Algorithms[LZ4])
	}
	if strings.Contains(a, "fragments") {
		want("files with fragments", st.FragmentFiles)
		want("packed inode extents", st.PackedInodeExtents)
	}
	if strings.Contains(a, "all-fragments") {
		want("files wholly in fragments", st.WholeFragmentFiles)
	}
	if strings.Contains(a, "-Efragments") || strings.Contains(a, "dedupe,fragments") {
		if st.FragmentFiles == st.WholeFragmentFiles {
			t.Errorf("%s: no file with only its tail in a fragment (%+v)", name, st)
		}
	}
	if strings.Contains(a, "dedupe") && !strings.Contains(a, "all-fragments") {
		want("pclusters shared by two extents", st.SharedPclusters)
	}
	if strings.Contains(a, "ztailpacking") {
		want("inline pclusters", st.InlinePclusters)
	}
	if strings.Contains(a, "-C") && !strings.Contains(a, "all-fragments") {
		want("big pclusters", st.BigPclusters)
	}
}

// checkSuperblockNew compares the superblock with dump.erofs -s of 1.9.
func checkSuperblockNew(t *testing.T, r *Reader, img string) {
	t.Helper()
	compareSuperblockDump(t, r, run(t, "dump.erofs", "-s", img))
}

// compareSuperblockDump compares the superblock with out, the output of
// dump.erofs -s of erofs-utils 1.9.
func compareSuperblockDump(t *testing.T, r *Reader, out string) {
	t.Helper()
	s := &r.Super
	for _, want := range []string{
		fmt.Sprintf("Filesystem magic number:                      0x%X", s.Magic),
		fmt.Sprintf("Filesystem blocksize:                         %d", s.BlockSize()),
		fmt.Sprintf("Filesystem blocks:                            %d", s.Blocks),
		fmt.Sprintf("Filesystem inode metadata start block:        %d", s.MetaBlkAddr),
		fmt.Sprintf("Filesystem shared xattr metadata start block: %d", s.XattrBlkAddr),
		fmt.Sprintf("Filesystem root nid:                          %d", s.RootNid),
		fmt.Sprintf("Filesystem sb_size:                           %d", superblockSize+16*int(s.SbExtSlots)),
		fmt.Sprintf("Filesystem inode count:                       %d", s.Inos),
		"Filesystem UUID:                              " + uuidString(s.UUID),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("superblock: want %q in\n%s", want, out)
		}
	}
	if s.FeatureIncompat&FeatureFragments != 0 && s.PackedNid != 0 {
		if want := fmt.Sprintf("Filesystem packed nid:                        %d\n", s.PackedNid); !strings.Contains(out, want) {
			t.Errorf("superblock: want %q in\n%s", want, out)
		}
	}
	if !s.ChecksumOK {
		t.Errorf("superblock checksum %#x does not match", s.Checksum)
	}
	if s.FeatureIncompat&FeatureComprCfgs != 0 {
		var algs []string
		for a := Algorithm(0); a < 4; a++ {
			if s.ComprAlgs&(1<<a) != 0 {
				algs = append(algs, a.String())
			}
		}
		m := regexp.MustCompile(`Filesystem compr_algs:\s+(.*)`).FindStringSubmatch(out)
		if m == nil || strings.Join(strings.Fields(strings.ReplaceAll(m[1], ",", " ")), " ") != strings.Join(algs, " ") {
			t.Errorf("compression algorithms %v, dump.erofs %q", algs, m)
		}
		for _, a := range algs {
			if !s.Configs.Has(map[string]Algorithm{"lz4": LZ4, "lzma": LZMA, "deflate": Deflate, "zstd": Zstd}[a]) {
				t.Errorf("no configuration read for %s", a)
			}
		}
	}
	var feats []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{FeatureZeroPadding, "lz4_0padding"}, {FeatureComprCfgs, "compr_cfgs"}, {FeatureBigPcluster, "big_pcluster"}, {FeatureChunkedFile, "chunked_file"}, {FeatureDeviceTable, "device_table"}, {FeatureZtailpacking, "ztailpacking"}, {FeatureFragments, "fragments"}, {FeatureFragments, "dedupe"}} {
		if s.FeatureIncompat&f.bit != 0 {
			feats = append(feats, f.name)
		}
	}
	m := regexp.MustCompile(`Filesystem incompatible features:\s+(.*)`).FindStringSubmatch(out)
	if m == nil || strings.Join(strings.Fields(m[1]), " ") != strings.Join(feats, " ") {
		t.Errorf("incompatible features %v, dump.erofs %q", feats, m)
	}
}

// checkDumpNew compares each inode with dump.erofs --path, and each
// regular file's extents with dump.erofs -e. dump.erofs lists a fragment
// as one extent at physical offset 0 of length 0, from the fragment's
// start to the end of the file: the fragment pieces are merged so.
func checkDumpNew(t *testing.T, r *Reader, ents []*Entry, img string) {
	t.Helper()
	for _, e := range ents {
		args := []string{"--path=" + e.Path, img}
		if strings.Contains(e.Path, "\n") {
			args[0] = fmt.Sprintf("--nid=%d", e.Nid)
		}
		if e.IsRegular() {
			args = append([]string{"-e"}, args...)
		}
		compareEntryDump(t, r, e, run(t, "dump.erofs", args...))
	}
}

// compareEntryDump compares e with out, the output of dump.erofs --path
// (-e for a regular file) of erofs-utils 1.5 or 1.9.
func compareEntryDump(t *testing.T, r *Reader, e *Entry, out string) {
	t.Helper()
	want := fmt.Sprintf("NID: %d   Links: %d   Layout: %d", e.Nid, e.Nlink, e.Layout)
	if !strings.Contains(out, want) {
		t.Errorf("%s: want %q in\n%s", e.Path, want, out)
	}
	if !strings.Contains(out, fmt.Sprintf("Xattr size: %d\n", e.xsize)) {
		t.Errorf("%s: xattr area %d bytes, dump.erofs:\n%s", e.Path, e.xsize, out)
	}
	if !e.IsRegular() || e.Size == 0 {
		return
	}
	var dumped [][4]int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := dumpLine.FindStringSubmatch(sc.Text()); m != nil {
			var v [4]int64
			for i, k := range []int{2, 4, 5, 7} {
				v[i], _ = strconv.ParseInt(m[k], 10, 64)
			}
			dumped = append(dumped, v)
		}
	}
	var mine [][4]int64
	for x, err := range r.Extents(e) {
		if err != nil {
			t.Fatalf("%s: extents: %v", e.Path, err)
		}
		if x.Hole() {
			continue
		}
		v := [4]int64{x.Off, x.Len, x.Phys, x.Stored}
		if x.Fragment {
			v[2] = 0
			if n := len(mine); n > 0 && mine[n-1][2] == 0 && mine[n-1][3] == 0 && mine[n-1][0]+mine[n-1][1] == x.Off {
				mine[n-1][1] += x.Len
				continue
			}
		} else if !x.Inline && !e.Layout.Compressed() {
			bs := r.Super.BlockSize()
			v[1], v[3] = align(v[1], bs), align(v[3], bs)
		}
		if n := len(mine); n > 0 && (e.Layout == LayoutFlatPlain || e.Layout == LayoutFlatInline) && mine[n-1][0]+mine[n-1][1] == x.Off && mine[n-1][2]+mine[n-1][3] == x.Phys {
			mine[n-1][1] += v[1]
			mine[n-1][3] += v[3]
			continue
		}
		mine = append(mine, v)
	}
	if !slices.Equal(mine, dumped) {
		t.Errorf("%s (%s): extents %v, dump.erofs %v", e.Path, e.Layout, mine, dumped)
	}
}
