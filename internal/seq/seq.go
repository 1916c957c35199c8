// Package seq turns a reader's Walker into a range-over-func iterator.
package seq

import (
	"io"
	"iter"
)

// All yields the nodes of a walk that start begins, each time the sequence
// is ranged over: every node next returns with a nil error, then, after an
// error other than io.EOF, that error (with the zero E), and no more. The
// walk is closed (stop) when the loop ends, early or not.
func All[E any](start func() (next func() (E, error), stop func())) iter.Seq2[E, error] {
	return func(yield func(E, error) bool) {
		next, stop := start()
		defer stop()
		for {
			e, err := next()
			if err == io.EOF {
				return
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}
