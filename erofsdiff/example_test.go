package erofsdiff_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/erofsdiff"
	"github.com/isodiff/isodiff/report"
)

// exampleImages are two builds of one small tree that TestMain makes with
// mkfs.erofs: /etc/os-release differs in one byte, /usr/bin/tool in its
// mode.
var exampleImages [2]string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "erofsdiff-example")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := exec.LookPath("mkfs.erofs"); err == nil {
		when := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, v := range []string{"1", "2"} {
			src := filepath.Join(dir, "src"+v)
			os.MkdirAll(filepath.Join(src, "etc"), 0o755)
			os.MkdirAll(filepath.Join(src, "usr/bin"), 0o755)
			os.WriteFile(filepath.Join(src, "etc/os-release"), []byte("VERSION_ID="+v+"\n"), 0o644)
			os.WriteFile(filepath.Join(src, "usr/bin/tool"), []byte("tool"), 0o755)
			if i == 1 {
				os.Chmod(filepath.Join(src, "usr/bin/tool"), 0o700)
			}
			for _, p := range []string{"etc/os-release", "usr/bin/tool", "etc", "usr/bin", "usr", "."} {
				os.Chtimes(filepath.Join(src, p), when, when)
			}
			exampleImages[i] = filepath.Join(dir, "root"+v+".erofs")
			if out, err := exec.Command("mkfs.erofs", "--quiet", "-zlz4hc", "--all-root", exampleImages[i], src).CombinedOutput(); err != nil {
				log.Fatalf("mkfs.erofs: %v\n%s", err, out)
			}
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func open(name string) *erofs.Reader {
	f, err := os.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	st, _ := f.Stat()
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	return r
}

// Compare two images: metadata and contents in one walk.
func ExampleCompare() {
	a, b := open(exampleImages[0]), open(exampleImages[1])
	meta, content, err := erofsdiff.Compare(context.Background(), a, b, erofsdiff.Options{Scope: report.ContainerScope("squashfs", "/erofs")})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range meta.Findings {
		fmt.Println(f.Path, f.Kind, f.Fields)
	}
	for i, f := range content.Findings {
		fmt.Println(f.Path, f.Kind, "first difference at byte", f.Content.FirstDiff, "possibly differing:", content.Spans[i])
	}
	fmt.Println(content.SameByRaw, "of", content.Compared, "files proven equal by their stored bytes")
	// Output:
	// /usr/bin/tool changed [mode: -rwxr-xr-x -> -rwx------]
	// /etc/os-release content first difference at byte 11 possibly differing: [{0 13}]
	// 1 of 2 files proven equal by their stored bytes
}
