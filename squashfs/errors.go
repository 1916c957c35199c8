package squashfs

import (
	"errors"
	"fmt"
)

// FormatError reports a malformed or unsupported image: what was being read,
// at which absolute byte offset of the image, and why. Callers can wrap it
// with the image name and stage; errors.As recovers it.
type FormatError struct {
	Off  int64  // absolute offset in the image of the structure being read
	What string // the structure, e.g. "inode", "directory header"
	Err  error  // the underlying cause
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("squashfs: %s at offset %d: %v", e.What, e.Off, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Sentinel causes carried in FormatError.Err.
var (
	ErrBadMagic    = errors.New("not a squashfs 4.0 image (bad magic)")
	ErrUnsupported = errors.New("unsupported feature")
	ErrCorrupt     = errors.New("corrupt data")
	ErrBounds      = errors.New("out of bounds")
	ErrTruncated   = errors.New("image truncated")
)

// newErr wraps err as a *FormatError.
func newErr(off int64, what string, err error) error {
	return &FormatError{Off: off, What: what, Err: err}
}

// corrupt returns a *FormatError whose cause wraps ErrCorrupt with detail.
func corrupt(off int64, what, format string, args ...any) error {
	return &FormatError{Off: off, What: what, Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
}
