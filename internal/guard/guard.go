// Package guard turns a panic in work the comparison runs (a bug, met on
// some image) into an error, so that one stage or one file reports it and
// the rest of the comparison goes on, whichever goroutine it ran on.
package guard

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a recovered panic: its value and the stack it was raised
// on.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error (please report): %v\n%s", e.Value, e.Stack)
}

// Run calls f and returns its error, or a *PanicError when f panics.
func Run(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}
