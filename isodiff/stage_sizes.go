package isodiff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/isodiff/isodiff/report"
)

// hashBufferSize is the read size for hashing whole images.
const hashBufferSize = 1 << 20

// runSizes hashes both images concurrently. Equal sizes and hashes make the
// images identical, which ends the analysis. Only whole images are hashed
// here: the squashfs images inside are hashed by the squashfs stage, and
// only when the ISOs differ, so an identical pair costs one hash per image.
func runSizes(ctx context.Context, s *session, st *report.Stage) {
	var sums [2]string
	var errs [2]error
	var wg sync.WaitGroup
	for i := range s.in {
		wg.Go(func() { sums[i], errs[i] = hashSection(ctx, s.in[i].R, 0, s.in[i].Size) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, "", err))
		}
	}
	r := s.report
	r.A.SHA256, r.B.SHA256 = sums[0], sums[1]
	if errs[0] == nil && errs[1] == nil && r.A.Size == r.B.Size && sums[0] == sums[1] {
		r.Identical = true
		return
	}
	if errs[0] == nil && errs[1] == nil {
		st.Status = report.StatusDiffers
		if r.A.Size == r.B.Size {
			st.Notes = append(st.Notes, fmt.Sprintf("same size (%d bytes), different SHA-256", r.A.Size))
		} else {
			st.Notes = append(st.Notes, fmt.Sprintf("sizes differ: %d -> %d bytes (%+d)", r.A.Size, r.B.Size, r.B.Size-r.A.Size))
		}
	}
}

// hashSection returns the hex SHA-256 of n bytes of r from off.
func hashSection(ctx context.Context, r io.ReaderAt, off, n int64) (string, error) {
	h := sha256.New()
	buf := make([]byte, hashBufferSize)
	if _, err := io.CopyBuffer(h, ctxReader{ctx, io.NewSectionReader(r, off, n)}, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
