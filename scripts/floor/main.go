// Command floor hashes files concurrently with Go's SHA-256 (SHA-NI where
// the CPU has it) and prints their sums: the floor isodiff's benchmark
// compares against, since isodiff must at least read and hash both images.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
)

func main() {
	sums := make([]string, len(os.Args)-1)
	errs := make([]error, len(sums))
	var wg sync.WaitGroup
	for i, name := range os.Args[1:] {
		wg.Go(func() {
			f, err := os.Open(name)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
				errs[i] = err
				return
			}
			sums[i] = fmt.Sprintf("%x", h.Sum(nil))
		})
	}
	wg.Wait()
	for i, name := range os.Args[1:] {
		if errs[i] != nil {
			fmt.Fprintln(os.Stderr, "floor:", errs[i])
			os.Exit(2)
		}
		fmt.Printf("%s  %s\n", sums[i], name)
	}
}
