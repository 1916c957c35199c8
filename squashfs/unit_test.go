package squashfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func TestDecodeDev(t *testing.T) {
	for _, c := range [][2]uint32{{8, 1}, {300, 70000}, {4095, 1<<20 - 1}, {0, 0}, {259, 256}} {
		major, minor := c[0], c[1]
		dev := minor&0xff | major<<8 | (minor&^0xff)<<12 // the kernel's new_encode_dev
		if gotMaj, gotMin := decodeDev(dev); gotMaj != major || gotMin != minor {
			t.Errorf("decodeDev(%#x) = %d,%d, want %d,%d", dev, gotMaj, gotMin, major, minor)
		}
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[Flags]string{
		FlagNoFragments | FlagDuplicates | FlagExportable: "NO_FRAGMENTS|DUPLICATES|EXPORTABLE",
		0:                              "0",
		FlagCompressorOptions | 0x8000: "COMPRESSOR_OPTIONS|0x8000",
		FlagUncompressedInodes | FlagUncompressedIDs: "UNCOMPRESSED_INODES|UNCOMPRESSED_IDS",
	} {
		if got := f.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint16(f), got, want)
		}
	}
	if Compression(4).String() != "xz" || Compression(9).String() != "compression(9)" {
		t.Error("Compression.String")
	}
}

func TestSuperblockFields(t *testing.T) {
	img := smallImage(t, "-mkfs-time", "1600000000", "-comp", "xz", "-Xbcj", "x86,arm")
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var names []string
	for _, f := range r.Super.Fields() {
		got[f.Name] = f.Value
		names = append(names, f.Name)
	}
	want := "magic inode_count mkfs_time block_size fragment_count compression block_log flags id_count version_major version_minor root_inode bytes_used id_table_start xattr_table_start inode_table_start dir_table_start frag_table_start export_table_start"
	if strings.Join(names, " ") != want {
		t.Errorf("fields %v", names)
	}
	for k, v := range map[string]string{
		"mkfs_time": "2020-09-13T12:26:40Z (1600000000)", "compression": "xz", "block_size": "4096",
		"flags": "DUPLICATES|EXPORTABLE|COMPRESSOR_OPTIONS", "magic": "0x73717368", "version_major": "4",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	opts := map[string]string{}
	for _, f := range r.Options.Fields() {
		opts[f.Name] = f.Value
	}
	if opts["xz_filters"] != "x86,arm" || opts["xz_dict_size"] != "4096" && opts["xz_dict_size"] != "8192" {
		t.Errorf("xz options %v", opts)
	}
	if f := (CompressorOptions{Compression: Gzip, Level: 9, WindowSize: 15, Strategies: GzipStrategyDefault | GzipStrategyRLE}).Fields(); f[2].Value != "default,run_length_encoded" {
		t.Errorf("gzip strategies %v", f)
	}
	if (CompressorOptions{}).Fields() != nil {
		t.Error("absent options have fields")
	}
}

// TestDecompressBounded checks that no codec writes past the block: data
// that decodes to one byte more than dst holds is an error.
func TestDecompressBounded(t *testing.T) {
	plain := bytes.Repeat([]byte("squashfs "), 1000) // 9000 bytes
	enc := map[Compression]func() []byte{
		Gzip: func() []byte {
			var b bytes.Buffer
			w := zlib.NewWriter(&b)
			w.Write(plain)
			w.Close()
			return b.Bytes()
		},
		Zstd: func() []byte {
			e, _ := zstd.NewWriter(nil)
			return e.EncodeAll(plain, nil)
		},
		LZ4: func() []byte {
			dst := make([]byte, lz4.CompressBlockBound(len(plain)))
			n, err := lz4.CompressBlock(plain, dst, nil)
			if err != nil {
				t.Fatal(err)
			}
			return dst[:n]
		},
		XZ: func() []byte {
			var b bytes.Buffer
			w, _ := xz.WriterConfig{DictCap: 1 << 16}.NewWriter(&b)
			w.Write(plain)
			w.Close()
			return b.Bytes()
		},
		LZMA: func() []byte { // lzma alone, with the size in the header like mksquashfs
			var b bytes.Buffer
			w, _ := lzma.WriterConfig{DictCap: 1 << 16, Size: int64(len(plain)), SizeInHeader: true}.NewWriter(&b)
			w.Write(plain)
			w.Close()
			return b.Bytes()
		},
	}
	for c, f := range enc {
		d, err := newDecompressor(c)
		if err != nil {
			t.Fatal(err)
		}
		src := f()
		dst := make([]byte, len(plain))
		if n, err := d.decode(dst, src); err != nil || !bytes.Equal(dst[:n], plain) {
			t.Errorf("%s: exact fit: %d bytes, %v", c, n, err)
		}
		if _, err := d.decode(make([]byte, len(plain)-1), src); err == nil {
			t.Errorf("%s: no error for output larger than the block", c)
		}
		if _, err := d.decode(dst, src[:len(src)/2]); err == nil {
			t.Errorf("%s: no error for truncated input", c)
		}
	}
	if _, err := (lzmaDec{}).decode(make([]byte, 10), []byte("short")); err == nil {
		t.Error("lzma: short header accepted")
	}
	_ = errors.New
}

// TestBlockAccess rebuilds every file from Blocks/ReadBlock and ReadTail
// and compares it with Open's stream.
func TestBlockAccess(t *testing.T) {
	for _, args := range [][]string{nil, {"-always-use-fragments", "-comp", "lz4"}, {"-noD", "-noF"}} {
		img := smallImage(t, args...)
		r, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range walkAll(t, r) {
			if !e.IsRegular() {
				continue
			}
			var got []byte
			for b := range r.Blocks(e) {
				d, err := r.ReadBlock(nil, b)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d...)
			}
			tail, err := r.ReadTail(nil, e)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, tail...)
			if e.Fragment != NoFragment {
				frag, err := r.FragmentData(e.Fragment)
				if err != nil || !bytes.Equal(frag[e.FragOffset:int(e.FragOffset)+len(tail)], tail) {
					t.Errorf("%s: FragmentData disagrees with ReadTail: %v", e.Path, err)
				}
			}
			f, _ := r.Open(e)
			var want bytes.Buffer
			if _, err := want.ReadFrom(f); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%v %s: blocks+tail (%d bytes) differ from Open (%d bytes)", args, e.Path, len(got), want.Len())
			}
		}
	}
}

// TestMetaReaderOffset: a metadata reader reports the image offset of the
// block it is in, for compressed blocks too (it once derived it from the
// decoded length, so errors named wrong, even negative, offsets), and the
// directory index it finds through that offset works.
func TestMetaReaderOffset(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 1000 {
		files[fmt.Sprintf("d/f%04d", i)] = ""
	}
	testimg.WriteFiles(t, filepath.Join(dir, "src"), files)
	img := filepath.Join(dir, "img")
	testimg.MakeSquashfs(t, filepath.Join(dir, "src"), img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	start := int64(r.Super.InodeTableStart)
	m, err := r.metaAt(start, 0, int64(r.Super.DirTableStart))
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.LittleEndian.Uint16(b[start:])
	if hdr&0x8000 != 0 {
		t.Fatal("the inode table's first block is not compressed")
	}
	second := start + 2 + int64(hdr&0x7fff)
	if m.offset() != start {
		t.Errorf("offset %d in the first block, at %d", m.offset(), start)
	}
	if _, err := m.read(metaSize + 10); err != nil {
		t.Fatal(err)
	}
	if m.offset() != second {
		t.Errorf("offset %d in the second block, at %d", m.offset(), second)
	}
}
