package parttable

import (
	"errors"
	"fmt"
)

// FormatError reports a malformed partition table structure at byte offset
// Off of the image.
type FormatError struct {
	Off  int64
	What string
	Err  error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("parttable: %s at offset %d: %v", e.What, e.Off, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

var (
	// ErrNoMBR: sector 0 lacks the 0x55 0xAA boot signature.
	ErrNoMBR = errors.New("no MBR boot signature")
	// ErrTruncated: a structure extends past the end of the image.
	ErrTruncated = errors.New("extends past end of image")
)

func formatErrf(off int64, what, format string, args ...any) error {
	return &FormatError{Off: off, What: what, Err: fmt.Errorf(format, args...)}
}
