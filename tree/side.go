package tree

import (
	"strconv"
)

// SideError is an error from one of the two images being compared: a
// merge-walk's stream, a content comparison's read, an explanation's input.
// Side is 0 for image A and 1 for image B; Off, when not negative, is the
// offset in that side's stream (a file's bytes, an image) at which reading
// failed. errors.As finds it through any wrapping; Unwrap gives the cause,
// which may carry a reader's FormatError with its own offset.
type SideError struct {
	Side int
	Off  int64
	Err  error
}

// NewSideError returns a SideError for side with no known offset.
func NewSideError(side int, err error) *SideError {
	return &SideError{Side: side, Off: -1, Err: err}
}

func (e *SideError) Error() string {
	s := "image " + e.Image()
	if e.Off >= 0 {
		s += " at offset " + strconv.FormatInt(e.Off, 10)
	}
	return s + ": " + e.Err.Error()
}

func (e *SideError) Unwrap() error { return e.Err }

// Image names the side: "A" or "B".
func (e *SideError) Image() string {
	if e.Side == 1 {
		return "B"
	}
	return "A"
}
