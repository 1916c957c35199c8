package isodiff

import (
	"fmt"
	"testing"

	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/internal/parttable"
	"github.com/isodiff/isodiff/internal/squashfs"
)

// TestErrOffset: a problem takes its offset from the format error of every
// reader, wrapped or not; squashfs offsets are relative to the squashfs.
func TestErrOffset(t *testing.T) {
	for _, c := range []struct {
		err  error
		base int64
		want int64
	}{
		{&iso9660.FormatError{Off: 40960, What: "directory", Err: iso9660.ErrLoop}, 0, 40960},
		{&squashfs.FormatError{Off: 96, What: "inode", Err: squashfs.ErrCorrupt}, 1 << 20, 1<<20 + 96},
		{&parttable.FormatError{Off: 592, What: "GPT header", Err: parttable.ErrTruncated}, -1, 592},
		{fmt.Errorf("MBR: %w", &parttable.FormatError{Off: 510, What: "MBR", Err: parttable.ErrNoMBR}), 0, 510},
		{fmt.Errorf("no offset"), 0, -1},
	} {
		if got := errOffset(c.err, c.base); got != c.want {
			t.Errorf("errOffset(%v, %d) = %d, want %d", c.err, c.base, got, c.want)
		}
	}
}
