package iso9660_test

import (
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/squashfs"
)

// Read one file from the squashfs root filesystem inside a live ISO, in
// place: the squashfs is read through the ISO file's random access (across
// all its extents), nothing is extracted.
func Example_squashfsInsideISO() {
	f, err := os.Open("../testdata/demo/a.iso")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	im, err := iso9660.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	defer im.Close()

	// The squashfs image, as a file of the ISO.
	info, err := fs.Stat(im.FS(), "live/filesystem.squashfs")
	if err != nil {
		log.Fatal(err)
	}
	sqfsFile, err := im.OpenFile(info.Sys().(*iso9660.Entry))
	if err != nil {
		log.Fatal(err)
	}

	// The root filesystem inside it.
	root, err := squashfs.Open(sqfsFile, sqfsFile.Size())
	if err != nil {
		log.Fatal(err)
	}
	osRelease, err := fs.ReadFile(root.FS(), "etc/os-release")
	if err != nil {
		log.Fatal(err)
	}
	helper, err := fs.Stat(root.FS(), "usr/bin/helper")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", osRelease)
	fmt.Println(helper.Mode(), helper.Name())
	// Output:
	// PRETTY_NAME="Demo Live"
	// ID=debian
	// urwxr-xr-x helper
}
