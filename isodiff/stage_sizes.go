package isodiff

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/internal/guard"
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
	var secs [2][]passSection
	var owners [2][]*container
	if s.knownDifferent() {
		for i := range s.in {
			s.discover(i)
			secs[i], owners[i] = s.containerSpans(i)
			for _, c := range owners[i] {
				c.inPass[i] = true
			}
		}
		pairSections(secs, owners)
	}
	// What each image's own structures say its length is (a few KiB of
	// reads): a file shorter than that is truncated. When the shorter image
	// is, the longer one's pass also hashes its first bytes up to the
	// shorter's length, to tell whether it is a truncated copy.
	claims := [2][]lengthClaim{s.lengthClaims(0), s.lengthClaims(1)}
	var cut [2]lengthClaim
	var short [2]bool
	for i := range s.in {
		cut[i], short[i] = s.truncation(i, claims)
	}
	readers := [2]io.ReaderAt{s.in[0].R, s.in[1].R}
	var prefix *prefixHasher
	prefixOf := -1 // the side whose prefix is hashed
	for i := range s.in {
		if j := 1 - i; short[i] && s.in[i].Size > 0 && s.in[i].Size < s.in[j].Size {
			prefix, prefixOf = newPrefixHasher(s.in[j].R, s.in[i].Size), j
			readers[j] = prefix
		}
	}
	if s.opts.Progress != nil {
		var done atomic.Int64
		for i := range readers {
			readers[i] = progressReader{r: readers[i], s: s, done: &done, total: s.in[0].Size + s.in[1].Size,
				stage: st.Name, step: "reading both images"}
		}
	}
	var sums [2]string
	var secSums [2][]string
	var errs [2]error
	var wg sync.WaitGroup
	s.hashing.Store(true)
	for i := range s.in {
		wg.Go(func() {
			errs[i] = guard.Run(func() (err error) {
				sums[i], secSums[i], err = hashPass(ctx, readers[i], s.in[i].Size, true, secs[i])
				return err
			})
		})
	}
	ahead := s.compareAhead(ctx)
	wg.Wait()
	s.hashing.Store(false)
	ahead()
	for i, err := range errs {
		if err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, report.Scope{}, err))
			for _, c := range owners[i] {
				c.inPass[i] = false // not hashed: opening hashes it, unless it opened beside the pass
			}
			continue
		}
		for k, c := range owners[i] {
			c.sum[i] = secSums[i][k]
		}
	}
	r := s.report
	r.A.SHA256, r.B.SHA256 = sums[0], sums[1]
	if errs[0] == nil && errs[1] == nil && r.A.Size == r.B.Size && sums[0] == sums[1] {
		r.Identical = true
		return
	}
	for i := range s.in {
		if !short[i] {
			continue
		}
		comparison := ""
		if j := prefixOf; j == 1-i && errs[0] == nil && errs[1] == nil {
			n := thousands(s.in[i].Size)
			switch sum := prefix.sum(); {
			case sum == sums[i] && !short[j]:
				comparison = fmt.Sprintf("a truncated copy of image %s: its %s bytes equal the first %s of image %s", sideLabel(j), n, n, sideLabel(j))
			case sum == sums[i]:
				comparison = fmt.Sprintf("its %s bytes equal the first %s of image %s (truncated too)", n, n, sideLabel(j))
			case sum != "":
				comparison = fmt.Sprintf("not only truncated: its %s bytes differ from the first %s of image %s", n, n, sideLabel(j))
			}
		}
		s.recordDamage(st, i, cut[i], claims, comparison)
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

// compareAhead starts the read plan's tree comparison (plan.go) of every
// container pair the hashing pass is pairing and whose probes show it
// differs, beside the pass: the comparison decodes metadata and differing
// blocks while the pass hashes, and learns which stored bytes are equal
// from the pass's pairing as it gets there (chunkPairing.sameAt waits for
// it), so the two fill both cores instead of running one after the other.
// The package databases are indexed beside them (indexPackages): which
// files diverge is not known yet, so their paths are hashed for the
// content stage's questions.
// The returned function waits for those comparisons; the budget refusals
// they meet are the squashfs stage's to report, as if it had run them.
//
// The containers are compared one after the other, as the squashfs stage
// would: their number is the image's to choose, and each comparison holds
// decoders and buffers of its own.
func (s *session) compareAhead(ctx context.Context) (wait func()) {
	var todo []*container
	for _, c := range s.containers {
		if c.pairing != nil && s.containerDiffers(c) {
			s.logf("%s: comparing its trees beside the hashing pass", c.path)
			todo = append(todo, c)
		}
	}
	var ahead sync.WaitGroup
	refused, _ := s.budget.Refusals()
	ahead.Go(func() {
		for _, c := range todo {
			if ctx.Err() != nil {
				return
			}
			s.openContainer(ctx, c)
			if c.opened(0) && c.opened(1) && c.formats[0] == c.formats[1] {
				var db sync.WaitGroup
				db.Go(func() { s.indexPackages(ctx, c) })
				s.compareTrees(ctx, c)
				db.Wait()
			}
		}
	})
	return func() {
		ahead.Wait()
		after, _ := s.budget.Refusals()
		s.refusedAhead += after - refused
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
		if s.containerDiffers(c) {
			return true
		}
	}
	return false
}

// containerDiffers reports whether a few cheap reads prove c's two sides
// differ: one is missing, their sizes differ, or their first or last 64
// KiB do. A side that cannot be located is not known to differ.
func (s *session) containerDiffers(c *container) bool {
	if c.entry[0] == nil || c.entry[1] == nil {
		return true
	}
	a, errA := s.section(0, c.entry[0])
	b, errB := s.section(1, c.entry[1])
	if errA != nil || errB != nil {
		return false
	}
	if a.Size() != b.Size() {
		return true
	}
	n := min(probeBytes, a.Size())
	return !sameAt(a, b, 0, n) || !sameAt(a, b, a.Size()-n, n)
}

// sameBytes reports whether span a of image A and span b of image B hold
// the same bytes; a read error counts as "not known to differ".
func (s *session) sameBytes(a, b span) bool {
	if a.n != b.n {
		return false
	}
	return sameAt(io.NewSectionReader(s.in[0].R, a.off, a.n), io.NewSectionReader(s.in[1].R, b.off, b.n), 0, a.n)
}

// sameAt reports whether a and b hold the same n bytes at off; a read error
// counts as "not known to differ".
func sameAt(a, b io.ReaderAt, off, n int64) bool {
	ba, bb := make([]byte, n), make([]byte, n)
	if m, err := a.ReadAt(ba, off); err != nil && m < len(ba) {
		return true
	}
	if m, err := b.ReadAt(bb, off); err != nil && m < len(bb) {
		return true
	}
	return bytes.Equal(ba, bb)
}

// containerSpans returns the sections of side i's squashfs images that one
// hashing pass can cover (readable, sorted, not overlapping), with their
// containers.
func (s *session) containerSpans(i int) ([]passSection, []*container) {
	var secs []passSection
	var owners []*container
	for _, c := range s.containers {
		if c.entry[i] == nil {
			continue
		}
		sec, err := s.section(i, c.entry[i])
		if err != nil {
			continue // the squashfs stage reports it
		}
		sc, inOrder := sec.passSection(i)
		if !inOrder {
			continue // its extents are out of order: the squashfs stage hashes it
		}
		secs = append(secs, sc)
		owners = append(owners, c)
	}
	idx := make([]int, len(secs))
	for k := range idx {
		idx[k] = k
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(secs[a].off, secs[b].off) })
	var outSecs []passSection
	var outOwners []*container
	for _, k := range idx {
		if n := len(outSecs); n > 0 && secs[k].off < outSecs[n-1].end() {
			continue // shares bytes with the previous one: hashed on its own later
		}
		outSecs = append(outSecs, secs[k])
		outOwners = append(outOwners, owners[k])
	}
	return outSecs, outOwners
}

// pairSections pairs each container's two sections, so that the two
// hashing passes compare them chunk by chunk (see chunkPairing). The
// passes meet in section order, so only containers in the same order on
// both sides are paired (a moved one is compared later, by reading it).
func pairSections(secs [2][]passSection, owners [2][]*container) {
	last := -1
	for k0, c := range owners[0] {
		k1 := slices.Index(owners[1], c)
		if k1 <= last {
			continue
		}
		last = k1
		p := newChunkPairing(secs[0][k0].n, secs[1][k1].n)
		secs[0][k0].pair, secs[1][k1].pair = p, p
		c.pairing = p
	}
}
