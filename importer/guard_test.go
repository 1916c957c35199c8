package importer

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// errHang is a third-party call that did not return within its deadline.
var errHang = errors.New("hangs")

// panicError is a panic recovered from third-party code.
type panicError struct {
	value any
	where string
}

func (p *panicError) Error() string {
	if p.where == "" {
		return fmt.Sprintf("panics: %v", p.value)
	}
	return fmt.Sprintf("panics: %v (at %s)", p.value, p.where)
}

// guard runs f in its own goroutine and returns its result, a *panicError
// if it panicked, or errHang if it has not returned after d. A hung call's
// goroutine is left behind (there is no stopping it): f must not share
// unsynchronized state with the caller.
func guard[T any](d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- result{err: &panicError{value: v, where: panicSite(debug.Stack())}}
			}
		}()
		v, err := f()
		ch <- result{v, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-timer.C:
		var zero T
		return zero, errHang
	}
}

// panicSite picks from a panic's stack the first frame outside the runtime
// and this package: the third-party function that panicked.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 0; i+1 < len(lines); i++ {
		fn := strings.TrimSpace(lines[i])
		if strings.HasPrefix(fn, "github.com/") && !strings.Contains(fn, "isodiff/importer") {
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			file := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(file, "/"); j >= 0 {
				file = file[j+1:]
			}
			if j := strings.Index(file, " "); j >= 0 {
				file = file[:j]
			}
			return fn + " " + file
		}
	}
	return ""
}
