package isodiff

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/isodiff/isodiff/report"
)

// runSizes hashes both images concurrently. Equal sizes and hashes make the
// images identical, which ends the analysis.
//
// When the images are known to differ before hashing (their sizes, their
// first 64 KiB, or the start or end of a squashfs image inside differ), the
// same read pass also hashes each squashfs section, which the squashfs stage
// needs: each image is read once. Otherwise (most likely identical images)
// only whole images are hashed, so an identical pair costs one hash per
// image, and the squashfs stage hashes the sections in a second pass if the
// images turn out to differ after all.
func runSizes(ctx context.Context, s *session, st *report.Stage) {
	var spans [2][]span
	var owners [2][]*container
	if s.knownDifferent() {
		for i := range s.in {
			spans[i], owners[i] = s.containerSpans(i)
		}
	}
	var sums [2]string
	var secs [2][]sectionSum
	var errs [2]error
	var wg sync.WaitGroup
	for i := range s.in {
		wg.Go(func() { sums[i], secs[i], errs[i] = hashPass(ctx, s.in[i].R, s.in[i].Size, true, spans[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, "", err))
			continue
		}
		for k, c := range owners[i] {
			c.sum[i], c.chunks[i] = secs[i][k].sha, secs[i][k].chunks
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

// probeBytes is how much of each image's start, and of each squashfs
// image's start and end, knownDifferent compares.
const probeBytes = 64 << 10

// knownDifferent reports whether a few cheap reads prove the images differ:
// their sizes, their first 64 KiB (system area and volume descriptors, where
// dates and ids live), or the first or last 64 KiB of a squashfs image the
// tree walk finds (its superblock, whose table offsets move when any
// compressed block changes size, and the end of its metadata tables, where
// inodes and directories are).
func (s *session) knownDifferent() bool {
	if s.in[0].Size != s.in[1].Size {
		return true
	}
	if !s.sameBytes(span{0, min(probeBytes, s.in[0].Size)}, span{0, min(probeBytes, s.in[1].Size)}) {
		return true
	}
	s.discover(0)
	s.discover(1)
	for _, c := range s.containers {
		if c.entry[0] == nil || c.entry[1] == nil {
			return true
		}
		a, errA := section(s.in[0].R, c.entry[0])
		b, errB := section(s.in[1].R, c.entry[1])
		if errA != nil || errB != nil {
			continue
		}
		_, offA, nA := a.Outer()
		_, offB, nB := b.Outer()
		if nA != nB {
			return true
		}
		n := min(probeBytes, nA)
		if !s.sameBytes(span{offA, n}, span{offB, n}) || !s.sameBytes(span{offA + nA - n, n}, span{offB + nB - n, n}) {
			return true
		}
	}
	return false
}

// sameBytes reports whether span a of image A and span b of image B hold
// the same bytes; a read error counts as "not known to differ".
func (s *session) sameBytes(a, b span) bool {
	if a.n != b.n {
		return false
	}
	ba, bb := make([]byte, a.n), make([]byte, b.n)
	if n, err := s.in[0].R.ReadAt(ba, a.off); err != nil && n < len(ba) {
		return true
	}
	if n, err := s.in[1].R.ReadAt(bb, b.off); err != nil && n < len(bb) {
		return true
	}
	return bytes.Equal(ba, bb)
}

// containerSpans returns the sections of side i's squashfs images that one
// hashing pass can cover (readable, sorted, not overlapping), with their
// containers.
func (s *session) containerSpans(i int) ([]span, []*container) {
	type owned struct {
		sp span
		c  *container
	}
	var all []owned
	for _, c := range s.containers {
		if c.entry[i] == nil {
			continue
		}
		sec, err := section(s.in[i].R, c.entry[i])
		if err != nil {
			continue // the squashfs stage reports it
		}
		_, off, n := sec.Outer()
		all = append(all, owned{span{off, n}, c})
	}
	slices.SortFunc(all, func(a, b owned) int { return cmp.Compare(a.sp.off, b.sp.off) })
	var spans []span
	var owners []*container
	for _, o := range all {
		if len(spans) > 0 && o.sp.off < spans[len(spans)-1].off+spans[len(spans)-1].n {
			continue // shares bytes with the previous one: hashed on its own later
		}
		spans = append(spans, o.sp)
		owners = append(owners, o.c)
	}
	return spans, owners
}
