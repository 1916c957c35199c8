package isodiff_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

// Compare two ISO images and act on the verdict, as a CI step does.
func ExampleCompare() {
	rep, err := isodiff.Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso",
		isodiff.Options{NoDiffoscope: true})
	if err != nil {
		fmt.Println("cannot compare:", err)
		return
	}
	switch rep.ExitCode() {
	case 0:
		fmt.Println("reproducible")
	case 1:
		fmt.Println("the builds differ")
	default:
		fmt.Println("trouble: the analysis is incomplete or an image is damaged")
	}
	// Output: the builds differ
}

// Walk the findings as data: each diverging file inside the squashfs, with
// the explanation's first line and the likely cause.
func ExampleCompare_findings() {
	rep, err := isodiff.Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso",
		isodiff.Options{NoDiffoscope: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Stage(report.StageContent).Findings {
		if f.Scope != report.ContainerScope("squashfs", "/live/filesystem.squashfs") {
			continue
		}
		ex := rep.ExplanationOf(f) // the explain stage's, for this scope and path
		fmt.Printf("%s: %s [%s]\n", f.Path, ex.Summary, strings.Join(ex.Hints, ", "))
	}
	// Output:
	// /etc/machine-id: text: line 1 differs [random_id]
	// /usr/lib/demo/libdemo.so: ELF: only the build id differs [build_id_differences_only]
	// /usr/share/doc/demo/changelog.gz: gzip: header mtime differs, payload identical [timestamps_in_gzip_headers]
	// /var/log/build.log: text: line 1 differs [timestamp_in_text]
}

// Compare images held elsewhere than in files (any io.ReaderAt), bounded in
// time and memory, and write the report files a CI step publishes.
func ExampleCompareInputs() {
	open := func(p string) isodiff.Input {
		f, err := os.Open(p)
		if err != nil {
			panic(err)
		}
		fi, _ := f.Stat()
		return isodiff.Input{Name: p, R: f, Size: fi.Size()}
	}
	a, b := open("../testdata/demo/a.iso"), open("../testdata/demo/b.iso")
	rep, err := isodiff.CompareInputs(context.Background(), a, b, isodiff.Options{
		NoDiffoscope: true,
		TimeLimit:    10 * time.Minute, // the report so far is returned when it passes
		MemoryBudget: 128 << 20,        // bytes of image-derived data held at most
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "diagnosis-")
	defer os.RemoveAll(dir)
	if err := report.WriteDir(dir, rep); err != nil {
		fmt.Println(err)
		return
	}
	_, err = os.Stat(dir + "/" + report.FileChecklist)
	fmt.Println("checklist.md written:", err == nil)
	// Output: checklist.md written: true
}

// The short answer as data: each diverging location with what differs
// there and the likely cause, as the summary says it.
func ExampleReport_Locations() {
	rep, err := isodiff.Compare(context.Background(), "../testdata/demo/a.iso", "../testdata/demo/b.iso",
		isodiff.Options{NoDiffoscope: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range rep.Locations() {
		if strings.HasPrefix(l.Where, "/live/filesystem.squashfs > ") {
			fmt.Println(l.Where, l.Hints)
		}
	}
	// Output:
	// /live/filesystem.squashfs > /etc/machine-id [random_id]
	// /live/filesystem.squashfs > /usr/bin/helper []
	// /live/filesystem.squashfs > /usr/lib/demo/libdemo.so [build_id_differences_only]
	// /live/filesystem.squashfs > /usr/share/doc/demo/changelog.gz [timestamps_in_gzip_headers]
	// /live/filesystem.squashfs > /var/log/build.log [timestamp_in_text]
}
