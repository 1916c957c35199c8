package erofs_test

import (
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/erofs"
)

// exampleImage is a small image TestMain builds with mkfs.erofs for the
// examples: /etc/hostname, /usr/bin/tool (setuid), /usr/lib/libx.so (a
// symlink).
var exampleImage string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "erofs-example")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := exec.LookPath("mkfs.erofs"); err == nil {
		src := filepath.Join(dir, "src")
		os.MkdirAll(filepath.Join(src, "etc"), 0o755)
		os.MkdirAll(filepath.Join(src, "usr/bin"), 0o755)
		os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755)
		os.WriteFile(filepath.Join(src, "etc/hostname"), []byte("live\n"), 0o644)
		os.WriteFile(filepath.Join(src, "usr/bin/tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
		os.Chmod(filepath.Join(src, "usr/bin/tool"), fs.ModeSetuid|0o755)
		os.Symlink("libx.so.1", filepath.Join(src, "usr/lib/libx.so"))
		exampleImage = filepath.Join(dir, "root.erofs")
		if out, err := exec.Command("mkfs.erofs", "--quiet", "-zlz4hc", "--all-root", exampleImage, src).CombinedOutput(); err != nil {
			log.Fatalf("mkfs.erofs: %v\n%s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Open an image and walk every node in order.
func ExampleReader_Walk() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
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

// Walk an image with io/fs and read a file.
func ExampleReader_FS() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	fsys := r.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.IsDir() {
			fmt.Println(p, info.Mode())
		} else {
			fmt.Println(p, info.Mode(), info.Size())
		}
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
	// Output:
	// . drwxr-xr-x
	// etc drwxr-xr-x
	// etc/hostname -rw-r--r-- 5
	// usr drwxr-xr-x
	// usr/bin drwxr-xr-x
	// usr/bin/tool urwxr-xr-x 20
	// usr/lib drwxr-xr-x
	// usr/lib/libx.so Lrwxrwxrwx 9
	// hostname: "live\n"
}

// Read part of a file at random: only the extents touched are decoded.
func ExampleReader_OpenFile() {
	f, err := os.Open(exampleImage)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	for e, err := range r.All() {
		if err != nil {
			log.Fatal(err)
		}
		if e.Path != "/usr/bin/tool" {
			continue
		}
		file, err := r.OpenFile(e)
		if err != nil {
			log.Fatal(err)
		}
		buf := make([]byte, 9)
		if _, err := file.ReadAt(buf, 10); err != nil && err != io.EOF {
			log.Fatal(err)
		}
		fmt.Printf("%q\n", buf)
		for x, err := range r.Extents(e) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("decoded bytes", x.Off, "to", x.Off+x.Len, "inline:", x.Inline)
		}
	}
	// Output:
	// "echo tool"
	// decoded bytes 0 to 20 inline: true
}
