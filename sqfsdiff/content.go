package sqfsdiff

import (
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/squashfs"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/report"
)

// comparer compares the contents of file pairs from two images.
type comparer struct {
	a, b *squashfs.Reader
}

func newComparer(a, b *squashfs.Reader) *comparer {
	return &comparer{a: a, b: b}
}

// compare returns nil when the two files hold the same bytes, else where
// they differ. byRaw reports that equality was proven from stored bytes.
func (c *comparer) compare(ea, eb *squashfs.Entry) (diff *report.ContentDiff, byRaw bool, err error) {
	ra, err := c.a.Open(ea)
	if err != nil {
		return nil, false, &treediff.SideError{Side: 0, Err: err}
	}
	rb, err := c.b.Open(eb)
	if err != nil {
		return nil, false, &treediff.SideError{Side: 1, Err: err}
	}
	res, err := bytecmp.FirstDiff(ra, rb)
	if err != nil {
		return nil, false, err // a *bytecmp.ReadError names its side
	}
	if res.Equal {
		return nil, false, nil
	}
	return &report.ContentDiff{SizeA: ea.Size, SizeB: eb.Size, FirstDiff: res.FirstDiff}, false, nil
}
