package squashfs_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/squashfs"
)

// The images TestMain builds with mksquashfs for the examples.
var (
	// exampleImage holds /etc/hostname, /usr/bin/tool (setuid) and
	// /usr/lib/libx.so (a symlink), owned by root, all dated 2023-11-14.
	exampleImage string
	// blocksImage holds /a.bin and /b.bin, two files of two 4 KiB blocks
	// whose first blocks are equal and whose second blocks differ from
	// byte 100 on.
	blocksImage string
)

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		log.Fatal("the examples need mksquashfs (run scripts/test.sh, which installs it)")
	}
	dir, err := os.MkdirTemp("", "squashfs-example")
	if err != nil {
		log.Fatal(err)
	}
	mksquashfs := func(src, img string, args ...string) {
		base := []string{src, img, "-noappend", "-quiet", "-no-progress", "-processors", "1",
			"-all-root", "-all-time", "1700000000", "-mkfs-time", "1700000000"}
		if out, err := exec.Command("mksquashfs", append(base, args...)...).CombinedOutput(); err != nil {
			log.Fatalf("mksquashfs: %v\n%s", err, out)
		}
	}
	write := func(name, data string, mode fs.FileMode) {
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			log.Fatal(err)
		}
		os.Chmod(name, mode)
	}

	src := filepath.Join(dir, "src")
	write(filepath.Join(src, "etc/hostname"), "live\n", 0o644)
	write(filepath.Join(src, "usr/bin/tool"), "#!/bin/sh\necho tool\n", fs.ModeSetuid|0o755)
	os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755)
	os.Symlink("libx.so.1", filepath.Join(src, "usr/lib/libx.so"))
	exampleImage = filepath.Join(dir, "root.squashfs")
	mksquashfs(src, exampleImage, "-comp", "zstd")

	blocks := filepath.Join(dir, "blocks")
	first := bytes.Repeat([]byte("first block "), 4096/12+1)[:4096]
	second := bytes.Repeat([]byte("second block "), 4096/13+1)[:4096]
	changed := bytes.Clone(second)
	copy(changed[100:], "CHANGED")
	write(filepath.Join(blocks, "a.bin"), string(first)+string(second), 0o644)
	write(filepath.Join(blocks, "b.bin"), string(first)+string(changed), 0o644)
	blocksImage = filepath.Join(dir, "blocks.squashfs")
	mksquashfs(blocks, blocksImage, "-b", "4K")

	code := m.Run()
	os.RemoveAll(dir)
	squashfs.RemoveBenchImages()
	os.Exit(code)
}

// open opens the squashfs image in the named file.
func open(name string) *squashfs.Reader {
	f, err := os.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	r, err := squashfs.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	return r
}

// Walk an image with io/fs: full modes (setuid here), sizes, symlink
// targets, the inode's owner through Sys, and a file's contents.
func ExampleReader_FS() {
	r := open(exampleImage)
	fsys := r.FS()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := info.Sys().(*squashfs.Entry)
		line := fmt.Sprintf("%v %d/%d %5d %s", info.Mode(), e.UID, e.GID, info.Size(), p)
		if info.Mode()&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		fmt.Println(line)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "etc/hostname")
	if err != nil {
		log.Fatal(err)
	}
	info, err := fs.Stat(fsys, "etc/hostname")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hostname: %q, modified %s\n", b, info.ModTime().UTC().Format("2006-01-02 15:04"))
	// Output:
	// drwxr-xr-x 0/0    37 .
	// drwxr-xr-x 0/0    31 etc
	// -rw-r--r-- 0/0     5 etc/hostname
	// drwxr-xr-x 0/0    37 usr
	// drwxr-xr-x 0/0    27 usr/bin
	// urwxr-xr-x 0/0    20 usr/bin/tool
	// drwxr-xr-x 0/0    30 usr/lib
	// Lrwxrwxrwx 0/0     9 usr/lib/libx.so -> libx.so.1
	// hostname: "live\n", modified 2023-11-14 22:13
}

// Walk every node of an image in order, as a range-over-func iterator.
func ExampleReader_All() {
	r := open(exampleImage)
	for e, err := range r.All() {
		if err != nil {
			log.Fatal(err)
		}
		if e.Link != "" {
			fmt.Println(e.Mode, e.Path, "->", e.Link)
		} else {
			fmt.Println(e.Mode, e.Path)
		}
	}
	// Output:
	// drwxr-xr-x /
	// drwxr-xr-x /etc
	// -rw-r--r-- /etc/hostname
	// drwxr-xr-x /usr
	// drwxr-xr-x /usr/bin
	// urwxr-xr-x /usr/bin/tool
	// drwxr-xr-x /usr/lib
	// Lrwxrwxrwx /usr/lib/libx.so -> libx.so.1
}

// Read part of a file at random: only the blocks touched are decoded.
func ExampleReader_OpenFile() {
	r := open(exampleImage)
	info, err := fs.Stat(r.FS(), "usr/bin/tool")
	if err != nil {
		log.Fatal(err)
	}
	f, err := r.OpenFile(info.Sys().(*squashfs.Entry))
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := f.ReadAt(buf, 10); err != nil && err != io.EOF {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes, at 10: %q\n", f.Size(), buf)
	// Output:
	// 20 bytes, at 10: "echo tool"
}

// Compare two files by their stored (compressed) blocks, as archive/zip's
// OpenRaw allows: equal stored bytes mean equal contents, so only the
// blocks whose stored bytes differ are decoded. This holds when both files
// come from images with the same compressor, options and block size.
func ExampleReader_Blocks() {
	r := open(blocksImage)
	stat := func(name string) *squashfs.Entry {
		info, err := fs.Stat(r.FS(), name)
		if err != nil {
			log.Fatal(err)
		}
		return info.Sys().(*squashfs.Entry)
	}
	a, b := stat("a.bin"), stat("b.bin")
	var blocksA []squashfs.Block
	for blk := range r.Blocks(a) {
		blocksA = append(blocksA, blk)
	}
	raw := r.Raw()
	stored := func(blk squashfs.Block) []byte {
		p := make([]byte, blk.Size)
		if _, err := raw.ReadAt(p, blk.Off); err != nil {
			log.Fatal(err)
		}
		return p
	}
	i := 0
	for bb := range r.Blocks(b) {
		ba := blocksA[i]
		i++
		if ba.Len == bb.Len && ba.Compressed == bb.Compressed && bytes.Equal(stored(ba), stored(bb)) {
			fmt.Printf("block %d: same stored bytes, not decoded\n", bb.Index)
			continue
		}
		da, err := r.ReadBlock(nil, ba)
		if err != nil {
			log.Fatal(err)
		}
		db, err := r.ReadBlock(nil, bb)
		if err != nil {
			log.Fatal(err)
		}
		for k := range da {
			if da[k] != db[k] {
				fmt.Printf("block %d: decoded, first difference at byte %d of the file\n", bb.Index, int64(bb.Index)*int64(r.Super.BlockSize)+int64(k))
				break
			}
		}
	}
	// Output:
	// block 0: same stored bytes, not decoded
	// block 1: decoded, first difference at byte 4196 of the file
}
