package treediff

import (
	"sync"

	"github.com/isodiff/isodiff/internal/guard"
)

// Prefetch runs a stream's next function in its own goroutine, up to n
// items ahead of the caller, so that the two sides of a merge-walk are read
// (and their metadata decompressed) on two cores. The returned next yields
// the same sequence; stop ends the goroutine early and must be called when
// the caller is done (it is safe to call more than once). next itself is
// only ever called from the prefetching goroutine, and so is done, when not
// nil, once the goroutine calls next no more (at the stream's end or error,
// or after stop): a walk's Close, which must not run beside its Next.
func Prefetch[E any](next func() (E, error), n int, done func()) (get func() (E, error), stop func()) {
	type item struct {
		e   E
		err error
	}
	ch := make(chan item, n)
	stopped := make(chan struct{})
	go func() {
		defer close(ch)
		if done != nil {
			defer done()
		}
		for {
			var e E
			err := guard.Run(func() (err error) { e, err = next(); return err }) // a reader's bug ends the stream
			select {
			case ch <- item{e, err}:
			case <-stopped:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	var last item
	get = func() (E, error) {
		it, ok := <-ch
		if !ok {
			return last.e, last.err // the stream ended with this error
		}
		last = item{err: it.err}
		return it.e, it.err
	}
	stop = func() { once.Do(func() { close(stopped) }) }
	return get, stop
}
