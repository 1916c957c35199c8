package iso9660

import (
	"errors"
	"fmt"
)

// FormatError reports a malformed or inconsistent structure in an image. Off
// is the byte offset in the image of the structure at fault; What names it.
type FormatError struct {
	Off  int64
	What string
	Err  error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("iso9660: %s at offset %d: %v", e.What, e.Off, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Sentinel causes wrapped by FormatError, for errors.Is.
var (
	// ErrTruncated: a structure extends past the end of the image.
	ErrTruncated = errors.New("extends past end of image")
	// ErrNotISO: no primary volume descriptor where one must be.
	ErrNotISO = errors.New("not an ISO 9660 image")
	// ErrLoop: a directory refers back to one of its ancestors.
	ErrLoop = errors.New("directory loop")
	// ErrTooDeep: directory nesting beyond MaxDepth.
	ErrTooDeep = errors.New("directory nesting too deep")
	// ErrBadName: a name holds "/" or NUL, or is "." or "..".
	ErrBadName = errors.New("invalid file name")
	// ErrNoBootCatalog: the image has no El Torito boot record.
	ErrNoBootCatalog = errors.New("no El Torito boot record")
)

func formatErr(off int64, what string, err error) error {
	return &FormatError{Off: off, What: what, Err: err}
}

func formatErrf(off int64, what, format string, args ...any) error {
	return &FormatError{Off: off, What: what, Err: fmt.Errorf(format, args...)}
}
