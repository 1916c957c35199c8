// Command floor hashes files concurrently with Go's SHA-256 (SHA-NI where
// the CPU has it) and prints their sums: the floor isodiff's benchmark
// compares against, since isodiff must at least read and hash both images.
//
//	floor A.iso B.iso
//	floor -section /live/filesystem.squashfs A.iso B.iso
//
// With -section it also hashes that file inside each ISO (found with
// isodiff's own ISO 9660 reader), each hash on its own goroutine: the work
// isodiff's sha256.txt and squashfs-sha256.txt need, the "artefact floor".
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/isodiff/isodiff/iso9660"
)

type job struct {
	name      string
	file      string
	off, size int64 // size < 0: the whole file
}

func main() {
	section := flag.String("section", "", "also hash this file inside each ISO")
	flag.Parse()
	var jobs []job
	for _, name := range flag.Args() {
		jobs = append(jobs, job{name: name, file: name, size: -1})
		if *section == "" {
			continue
		}
		off, size, err := locate(name, *section)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(2)
		}
		jobs = append(jobs, job{name: name + ":" + *section, file: name, off: off, size: size})
	}
	sums := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { sums[i], errs[i] = hash(j) })
	}
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			fmt.Fprintln(os.Stderr, "floor:", errs[i])
			os.Exit(2)
		}
		fmt.Printf("%s  %s\n", sums[i], j.name)
	}
}

func hash(j job) (string, error) {
	f, err := os.Open(j.file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var r io.Reader = f
	if j.size >= 0 {
		r = io.NewSectionReader(f, j.off, j.size)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// locate returns where file path's bytes lie in the ISO (one contiguous
// extent run, as xorriso writes them).
func locate(iso, path string) (int64, int64, error) {
	f, err := os.Open(iso)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	im, err := iso9660.Open(f, fi.Size())
	if err != nil {
		return 0, 0, err
	}
	w := im.Walk()
	for {
		e, err := w.Next()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %s not found (%v)", iso, path, err)
		}
		if e.Path == path && len(e.Extents) > 0 {
			return e.Extents[0].Offset, e.Size, nil
		}
	}
}
