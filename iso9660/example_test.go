package iso9660_test

import (
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/iso9660"
)

// exampleImage is a small Rock Ridge image TestMain builds with xorriso
// for the examples: /etc/hostname, /usr/bin/tool (setuid), /usr/lib/libx.so
// (a symlink).
var exampleImage string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iso9660-example")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := exec.LookPath("xorriso"); err == nil {
		src := filepath.Join(dir, "src")
		for _, d := range []string{"etc", "usr/bin", "usr/lib"} {
			os.MkdirAll(filepath.Join(src, d), 0o755)
		}
		os.WriteFile(filepath.Join(src, "etc/hostname"), []byte("live\n"), 0o644)
		os.WriteFile(filepath.Join(src, "usr/bin/tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
		os.Symlink("libx.so.1", filepath.Join(src, "usr/lib/libx.so"))
		for _, p := range []string{src, filepath.Join(src, "etc"), filepath.Join(src, "usr"), filepath.Join(src, "usr/bin"), filepath.Join(src, "usr/lib")} {
			os.Chmod(p, 0o755)
		}
		os.Chmod(filepath.Join(src, "etc/hostname"), 0o644)
		os.Chmod(filepath.Join(src, "usr/bin/tool"), fs.ModeSetuid|0o755)
		exampleImage = filepath.Join(dir, "live.iso")
		if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", exampleImage, src).CombinedOutput(); err != nil {
			log.Fatalf("xorriso: %v\n%s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Walk every node of an image, in order, with a range loop.
func ExampleImage_All() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := iso9660.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()
	fmt.Println("namespace:", im.Namespace)
	for e, err := range im.All() {
		if err != nil {
			log.Fatal(err)
		}
		if e.Link != "" {
			fmt.Println(e.Mode, e.Path, "->", e.Link)
		} else {
			fmt.Println(e.Mode, e.Path, e.Size)
		}
	}
	// Output:
	// namespace: rockridge
	// drwxr-xr-x / 0
	// drwxr-xr-x /etc 0
	// -rw-r--r-- /etc/hostname 5
	// drwxr-xr-x /usr 0
	// drwxr-xr-x /usr/bin 0
	// urwxr-xr-x /usr/bin/tool 20
	// drwxr-xr-x /usr/lib 0
	// Lrwxrwxrwx /usr/lib/libx.so -> libx.so.1
}

// List an image through io/fs and read a file.
func ExampleImage_FS() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := iso9660.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()
	fsys := im.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			fmt.Println(info.Mode(), p, "->", target)
			return nil
		}
		fmt.Println(info.Mode(), p)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "etc/hostname")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hostname: %q\n", b)
	info, err := fs.Stat(fsys, "usr/bin/tool")
	if err != nil {
		log.Fatal(err)
	}
	e := info.Sys().(*iso9660.Entry) // the Rock Ridge metadata
	fmt.Println("tool: uid", e.UID, "links", e.Nlink, "setuid", info.Mode()&fs.ModeSetuid != 0)
	// Output:
	// drwxr-xr-x .
	// drwxr-xr-x etc
	// -rw-r--r-- etc/hostname
	// drwxr-xr-x usr
	// drwxr-xr-x usr/bin
	// urwxr-xr-x usr/bin/tool
	// drwxr-xr-x usr/lib
	// Lrwxrwxrwx usr/lib/libx.so -> libx.so.1
	// hostname: "live\n"
	// tool: uid 0 links 1 setuid true
}

// Read part of a file at an offset, and the bytes recorded for it.
func ExampleImage_OpenFile() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	im, err := iso9660.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()
	info, err := fs.Stat(im.FS(), "usr/bin/tool")
	if err != nil {
		log.Fatal(err)
	}
	e := info.Sys().(*iso9660.Entry)
	file, err := im.OpenFile(e)
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := file.ReadAt(buf, 10); err != nil && err != io.EOF {
		log.Fatal(err)
	}
	fmt.Printf("%q of %d bytes\n", buf, file.Size())
	for _, x := range e.Extents {
		raw, err := io.ReadAll(io.LimitReader(im.Section(x), 9))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("recorded: %d bytes, sector-aligned %v, starting %q\n", x.Size, x.Offset%iso9660.SectorSize == 0, raw)
	}
	// Output:
	// "echo tool" of 20 bytes
	// recorded: 20 bytes, sector-aligned true, starting "#!/bin/sh"
}
