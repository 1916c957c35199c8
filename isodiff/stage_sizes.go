package isodiff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/isodiff/isodiff/report"
)

// hashBufferSize is the read size for hashing whole images.
const hashBufferSize = 1 << 20

// runSizes hashes both images concurrently. Equal sizes and hashes make the
// images identical, which ends the analysis. The squashfs images inside are
// located first (a walk of the directory records only) and hashed in the
// same pass, so no later stage reads them again just to hash them.
func runSizes(ctx context.Context, s *session, st *report.Stage) {
	var sums [2]string
	var errs [2]error
	var wg sync.WaitGroup
	s.discover(0) // before the goroutines: discovery fills s.containers
	s.discover(1)
	for i := range s.in {
		wg.Go(func() {
			var parts []part
			for _, c := range s.containers {
				if e := c.entry[i]; e != nil {
					if sec, err := section(s.in[i].R, e); err == nil {
						_, off, n := sec.Outer()
						parts = append(parts, part{off: off, end: off + n, sum: &c.sum[i]})
					}
				}
			}
			sums[i], errs[i] = hashImage(ctx, s.in[i].R, s.in[i].Size, parts)
		})
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

// part is a byte range [off, end) of an image to hash on its own; its hex
// SHA-256 is stored in *sum when the whole range has been read.
type part struct {
	off, end int64
	sum      *string
	h        hash.Hash
}

// hashImage returns the hex SHA-256 of the n bytes of r, reading them once
// and feeding each part's hasher the bytes of its range on the way.
func hashImage(ctx context.Context, r io.ReaderAt, n int64, parts []part) (string, error) {
	whole := sha256.New()
	buf := make([]byte, hashBufferSize)
	for i := range parts {
		parts[i].h = sha256.New()
	}
	for off := int64(0); off < n; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		chunk := buf[:min(int64(len(buf)), n-off)]
		k, err := r.ReadAt(chunk, off)
		if k < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("reading at offset %d: %w", off+int64(k), err)
		}
		whole.Write(chunk)
		for _, p := range parts {
			lo, hi := max(p.off, off), min(p.end, off+int64(k))
			if lo < hi {
				p.h.Write(chunk[lo-off : hi-off])
			}
		}
		off += int64(k)
	}
	for _, p := range parts {
		if p.end <= n {
			*p.sum = hex.EncodeToString(p.h.Sum(nil))
		}
	}
	return hex.EncodeToString(whole.Sum(nil)), nil
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
