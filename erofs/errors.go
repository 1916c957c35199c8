package erofs

import (
	"errors"
	"fmt"
)

// FormatError reports a malformed or unsupported image: what was being
// read, at which absolute byte offset of the image, and why. errors.As
// recovers it from any error a Reader returns (except a refused budget
// charge, an *budget.ExceededError, and a context's error, which are
// wrapped in one).
type FormatError struct {
	Off  int64  // absolute offset in the image of the structure being read
	What string // the structure, e.g. "inode 38 of /etc"
	Err  error  // the cause: one of the sentinels below, a codec's error, ...
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("erofs: %s at offset %d: %v", e.What, e.Off, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Sentinel causes carried in FormatError.Err.
var (
	ErrBadMagic    = errors.New("not an EROFS image (bad magic)")
	ErrUnsupported = errors.New("unsupported feature")
	ErrCorrupt     = errors.New("corrupt data")
	ErrBounds      = errors.New("out of bounds")
	ErrTruncated   = errors.New("image truncated")
)

func newErr(off int64, what string, err error) error {
	return &FormatError{Off: off, What: what, Err: err}
}

func corrupt(off int64, what, format string, args ...any) error {
	return &FormatError{Off: off, What: what, Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
}

func unsupported(off int64, what, format string, args ...any) error {
	return &FormatError{Off: off, What: what, Err: fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)}
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
