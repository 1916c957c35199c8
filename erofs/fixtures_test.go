package erofs

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixtureDir holds images written by erofs-utils 1.9.3 and its answers
// about them (testdata/erofs/make.sh), so that CI, which has erofs-utils
// 1.5, checks what 1.5 cannot write.
const fixtureDir = "../testdata/erofs"

// fixtures are the committed images with the mkfs.erofs options
// make.sh gave them.
var fixtures = []struct {
	name string
	args []string
}{
	{"lzma", []string{"-zlzma"}},
	{"lzma-fragments-fedora", []string{"-zlzma,level=6", "-Eall-fragments,fragdedupe=inode", "-C1048576"}},
	{"lzma-fragments-fedora-b", []string{"-zlzma,level=6", "-Eall-fragments,fragdedupe=inode", "-C1048576"}},
	{"lzma-dict-coreos", []string{"-C524288", "-zlzma,level=6,dictsize=524288"}},
	{"deflate", []string{"-zdeflate"}},
	{"zstd", []string{"-zzstd"}},
	{"zstd-dedupe-fragments-lorax", []string{"-zzstd,8", "-Ededupe,all-fragments", "-C65536"}},
	{"lz4hc-fragments", []string{"-zlz4hc", "-Eall-fragments"}},
	{"lzma-tail-fragments", []string{"-zlzma", "-Efragments", "-C16384"}},
	{"zstd-dedupe", []string{"-zzstd", "-Ededupe", "-C16384"}},
}

func openFixture(t testing.TB, name string) (*Reader, []byte) {
	t.Helper()
	img, err := os.ReadFile(filepath.Join(fixtureDir, name+".erofs"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r, img
}

// TestFixtures compares the reader with what fsck.erofs --extract (plus
// stat and sha256sum) and dump.erofs of erofs-utils 1.9.3 said about each
// committed image: every path, its type, mode (with setuid and sticky),
// owner, size, mtime, device number, link target and SHA-256; the
// superblock; each node's nid, link count, layout, xattr area and extents.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			r, _ := openFixture(t, fx.name)
			ents := walkAll(t, r)
			byPath := map[string]*Entry{}
			for _, e := range ents {
				byPath[e.Path] = e
			}
			extract, err := os.ReadFile(filepath.Join(fixtureDir, fx.name+".extract.txt"))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, line := range strings.Split(strings.TrimRight(string(extract), "\n"), "\n") {
				f := strings.Split(line, "|")
				if len(f) != 10 {
					t.Fatalf("extract line %q", line)
				}
				e := byPath[f[0]]
				if e == nil {
					t.Errorf("%s: extracted, not walked", f[0])
					continue
				}
				seen[f[0]] = true
				compareExtracted(t, r, e, f)
			}
			for _, e := range ents {
				if !seen[e.Path] {
					t.Errorf("%s: walked, not extracted", e.Path)
				}
			}
			dump, err := os.ReadFile(filepath.Join(fixtureDir, fx.name+".dump.txt"))
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(string(dump), "\n=== ")
			compareSuperblockDump(t, r, parts[0]+"\n")
			if len(parts)-1 != len(ents) {
				t.Errorf("dump.erofs lists %d paths, the walk %d", len(parts)-1, len(ents))
			}
			for _, p := range parts[1:] {
				path, out, _ := strings.Cut(p, "\n")
				e := byPath[path]
				if e == nil {
					t.Errorf("%s: dumped, not walked", path)
					continue
				}
				compareEntryDump(t, r, e, out+"\n")
			}
			st := newLayoutStats(t, r, ents)
			checkNewStats(t, fx.name, fx.args, st)
			t.Logf("%d nodes, %+v", len(ents), st)
		})
	}
}

// compareExtracted compares e with one line of NAME.extract.txt:
// path|type|mode|uid|gid|size|major:minor (hex)|mtime|link target|sha256.
func compareExtracted(t *testing.T, r *Reader, e *Entry, f []string) {
	t.Helper()
	types := map[string]fs.FileMode{"directory": fs.ModeDir, "regular_file": 0, "regular_empty_file": 0, "symbolic_link": fs.ModeSymlink,
		"character_special_file": fs.ModeDevice | fs.ModeCharDevice, "block_special_file": fs.ModeDevice,
		"fifo": fs.ModeNamedPipe, "socket": fs.ModeSocket}
	typ, ok := types[f[1]]
	if !ok {
		t.Fatalf("%s: type %q", e.Path, f[1])
	}
	if e.Mode.Type() != typ {
		t.Errorf("%s: type %v, extraction %s", e.Path, e.Mode.Type(), f[1])
	}
	perm := uint64(e.Mode.Perm())
	for bit, v := range map[fs.FileMode]uint64{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if e.Mode&bit != 0 {
			perm |= v
		}
	}
	if want, _ := strconv.ParseUint(f[2], 8, 32); perm != want {
		t.Errorf("%s: mode %o, extraction %s", e.Path, perm, f[2])
	}
	if got := fmt.Sprintf("%d|%d", e.UID, e.GID); got != f[3]+"|"+f[4] {
		t.Errorf("%s: owner %s, extraction %s:%s", e.Path, got, f[3], f[4])
	}
	if !e.Mode.IsDir() && strconv.FormatInt(e.Size, 10) != f[5] {
		t.Errorf("%s: size %d, extraction %s", e.Path, e.Size, f[5])
	}
	if e.Mode&fs.ModeDevice != 0 {
		if got := fmt.Sprintf("%x:%x", e.DevMajor, e.DevMinor); got != f[6] {
			t.Errorf("%s: device %s, extraction %s", e.Path, got, f[6])
		}
	}
	sec, nsec, _ := strings.Cut(f[7], ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	ns, _ := strconv.ParseInt(nsec, 10, 64)
	if mt := time.Unix(s, ns).UTC(); !e.ModTime.Equal(mt) {
		t.Errorf("%s: mtime %v, extraction %v", e.Path, e.ModTime, mt)
	}
	if e.Mode&fs.ModeSymlink != 0 && e.Link != f[8] {
		t.Errorf("%s: target %q, extraction %q", e.Path, e.Link, f[8])
	}
	if e.IsRegular() {
		rd, err := r.Open(e)
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
			return
		}
		if got := sha(t, rd); got != f[9] {
			t.Errorf("%s: sha256 %s, extraction %s", e.Path, got, f[9])
		}
		// Random access agrees with the stream, across extent boundaries.
		fr, err := r.OpenFile(e)
		if err != nil {
			t.Fatal(err)
		}
		whole := make([]byte, e.Size)
		if _, err := fr.ReadAt(whole, 0); err != nil && e.Size > 0 {
			t.Fatalf("%s: %v", e.Path, err)
		}
		for x, err := range r.Extents(e) {
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{x.Off - 3, x.Off + x.Len - 5} {
				if off < 0 || off >= e.Size {
					continue
				}
				p := make([]byte, min(11, e.Size-off))
				if _, err := fr.ReadAt(p, off); err != nil {
					t.Fatalf("%s at %d: %v", e.Path, off, err)
				}
				if !bytes.Equal(p, whole[off:off+int64(len(p))]) {
					t.Errorf("%s: ReadAt(%d) differs from the whole read", e.Path, off)
				}
			}
			d, err := r.ReadExtent(nil, x)
			if err != nil {
				t.Fatalf("%s: ReadExtent %+v: %v", e.Path, x, err)
			}
			if !bytes.Equal(d, whole[x.Off:x.Off+x.Len]) {
				t.Errorf("%s: extent %+v decodes differently", e.Path, x)
			}
		}
	}
}
