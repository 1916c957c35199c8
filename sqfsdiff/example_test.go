package sqfsdiff_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/sqfsdiff"
	"github.com/isodiff/isodiff/squashfs"
)

// exampleImages are two builds of one small tree that TestMain makes with
// mksquashfs: /etc/os-release differs in its contents, /usr/bin/tool in
// its mode (setuid in the second).
var exampleImages [2]string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		log.Fatal("the examples need mksquashfs (run scripts/test.sh, which installs it)")
	}
	dir, err := os.MkdirTemp("", "sqfsdiff-example")
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range []string{"1", "2"} {
		src := filepath.Join(dir, "src"+v)
		os.MkdirAll(filepath.Join(src, "etc"), 0o755)
		os.MkdirAll(filepath.Join(src, "usr/bin"), 0o755)
		os.WriteFile(filepath.Join(src, "etc/os-release"), []byte("NAME=Live\nVERSION_ID="+v+"\n"), 0o644)
		os.WriteFile(filepath.Join(src, "usr/bin/tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
		if i == 1 {
			os.Chmod(filepath.Join(src, "usr/bin/tool"), os.ModeSetuid|0o755)
		}
		exampleImages[i] = filepath.Join(dir, "root"+v+".squashfs")
		out, err := exec.Command("mksquashfs", src, exampleImages[i], "-noappend", "-quiet", "-no-progress",
			"-processors", "1", "-all-root", "-all-time", "1700000000", "-mkfs-time", "1700000000").CombinedOutput()
		if err != nil {
			log.Fatalf("mksquashfs: %v\n%s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

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

// Compare two squashfs images: metadata and contents in one merge-walk of
// the two trees, with the unified diff of their listings. (Superblock
// compares the superblocks; here they differ only in table positions.)
// Both files' tails share a fragment block whose stored bytes differ, so
// neither is proven equal from stored bytes alone: /usr/bin/tool is
// decoded and found equal.
func ExampleCompare() {
	a, b := open(exampleImages[0]), open(exampleImages[1])
	opts := sqfsdiff.Options{NameA: "root1", NameB: "root2"}
	meta, content, err := sqfsdiff.Compare(context.Background(), a, b, opts)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range meta.Findings {
		fmt.Println(f.Path, f.Kind, f.Fields)
	}
	for i, f := range content.Findings {
		fmt.Println(f.Path, f.Kind, "sizes", f.Content.SizeA, f.Content.SizeB,
			"first difference at byte", f.Content.FirstDiff, "possibly differing:", content.Spans[i])
	}
	fmt.Println(content.SameByRaw, "of", content.Compared, "files proven equal by their stored bytes")
	fmt.Print(meta.ListingDiff)
	// Output:
	// /usr/bin/tool changed [mode: -rwxr-xr-x -> -rwsr-xr-x]
	// /etc/os-release content sizes 23 23 first difference at byte 21 possibly differing: [{0 23}]
	// 0 of 2 files proven equal by their stored bytes
	// --- root1
	// +++ root2
	// @@ -3,4 +3,4 @@
	//  -rw-r--r-- 1 0/0       23 2023-11-14 22:13:20 /etc/os-release
	//  drwxr-xr-x 3 0/0        - 2023-11-14 22:13:20 /usr
	//  drwxr-xr-x 2 0/0        - 2023-11-14 22:13:20 /usr/bin
	// --rwxr-xr-x 1 0/0       20 2023-11-14 22:13:20 /usr/bin/tool
	// +-rwsr-xr-x 1 0/0       20 2023-11-14 22:13:20 /usr/bin/tool
}
