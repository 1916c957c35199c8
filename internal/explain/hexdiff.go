package explain

import (
	"fmt"
	"io"
	"strings"
)

const (
	hexGap       = 8  // differences closer than this form one range
	hexShown     = 12 // ranges shown with a hex window
	hexContext   = 16 // bytes of context on each side of a range in the window
	hexMaxWindow = 64 // bytes of a range itself shown
	strContext   = 96 // bytes around a range searched for its printable string
)

// byteRange is a half-open range of differing bytes.
type byteRange struct{ start, end int64 }

// rangeScan is the first pass of a byte comparison.
type rangeScan struct {
	sizeA, sizeB int64
	ranges       []byteRange // the first hexShown ranges (or max asked)
	count        int         // all ranges
	diffBytes    int64       // differing bytes at equal offsets
}

// hexScanCost is what a range scan keeping max ranges holds: its two
// buffers, the ranges, and a window of each side around each range.
func hexScanCost(max int) int64 {
	return 2*64<<10 + int64(max)*(16+2*(2*strContext+hexMaxWindow))
}

// scanRanges streams both readers and finds the differing byte ranges,
// keeping the first max of them.
func scanRanges(ra, rb io.Reader, max int) (rangeScan, error) {
	var s rangeScan
	const chunk = 64 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	var off int64
	var cur *byteRange
	var curEnd int64 = -1
	open := false
	add := func(i int64) {
		s.diffBytes++
		if open && i < curEnd+hexGap {
			curEnd = i + 1
			if cur != nil {
				cur.end = curEnd
			}
			return
		}
		open = true
		curEnd = i + 1
		s.count++
		cur = nil
		if len(s.ranges) < max {
			s.ranges = append(s.ranges, byteRange{i, i + 1})
			cur = &s.ranges[len(s.ranges)-1]
		}
	}
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, errb := io.ReadFull(rb, bb)
		if erra != nil && erra != io.EOF && erra != io.ErrUnexpectedEOF {
			return s, erra
		}
		if errb != nil && errb != io.EOF && errb != io.ErrUnexpectedEOF {
			return s, errb
		}
		s.sizeA += int64(na)
		s.sizeB += int64(nb)
		n := min(na, nb)
		for i := 0; i < n; i++ {
			if ba[i] != bb[i] {
				add(off + int64(i))
			}
		}
		off += int64(n)
		if na != nb || erra != nil || errb != nil {
			// One side ended: drain the longer one to learn its size.
			if na > nb {
				k, err := io.Copy(io.Discard, ra)
				s.sizeA += k
				if err != nil {
					return s, err
				}
			} else if nb > na {
				k, err := io.Copy(io.Discard, rb)
				s.sizeB += k
				if err != nil {
					return s, err
				}
			}
			break
		}
	}
	if s.sizeA != s.sizeB {
		short := min(s.sizeA, s.sizeB)
		s.count++
		if len(s.ranges) < max {
			s.ranges = append(s.ranges, byteRange{short, max64(s.sizeA, s.sizeB)})
		}
	}
	return s, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// windows reads, for each range, the bytes from strContext before it to
// strContext after it (ranges sorted, one forward pass).
func windows(r io.Reader, ranges []byteRange) ([][]byte, []int64, error) {
	out := make([][]byte, len(ranges))
	starts := make([]int64, len(ranges))
	var pos int64
	buf := make([]byte, 0, 2*strContext+hexMaxWindow)
	for i, rg := range ranges {
		lo := max64(rg.start-strContext, 0)
		hi := min(rg.end, rg.start+hexMaxWindow) + strContext
		starts[i] = lo
		if lo < pos {
			// Overlaps the previous window: reuse what was read.
			prev := out[i-1]
			pstart := starts[i-1]
			keep := prev[lo-pstart:]
			buf = append(buf[:0], keep...)
			need := max64(hi-pos, 0)
			more := make([]byte, need)
			k, err := io.ReadFull(r, more)
			buf = append(buf, more[:k]...)
			pos += int64(k)
			out[i] = append([]byte(nil), buf...)
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				return out, starts, err
			}
			continue
		}
		if _, err := io.CopyN(io.Discard, r, lo-pos); err != nil {
			if err == io.EOF {
				return out, starts, nil
			}
			return out, starts, err
		}
		pos = lo
		w := make([]byte, hi-lo)
		k, err := io.ReadFull(r, w)
		pos += int64(k)
		out[i] = w[:k]
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return out, starts, err
		}
	}
	return out, starts, nil
}

// hexdiff explains two files as bytes: the differing ranges, each with a
// hex window, and hints from the printable strings around them.
func (ex *explainer) hexdiff(a, b *node) Result {
	r := Result{Format: fmtData}
	hold := ex.newHold()
	defer hold.Release()
	if err := ex.grow(&hold, hexScanCost(hexShown), "byte comparison of "+excerpt(a.name, 64), -1); err != nil {
		r.Summary = "could not be compared: " + shortErr(err)
		return r
	}
	if ex.spanned(a, b) {
		s, err := ex.scanSpans(a.random, b.random, a.size, hexShown)
		if err != nil {
			r.Summary = "could not be compared: " + shortErr(err)
			return r
		}
		return ex.describeRanges(r, a, b, s)
	}
	ra, err := ex.openNode(a)
	if err != nil {
		return failed(fmtData, err, nil)
	}
	rb, err := ex.openNode(b)
	if err != nil {
		ra.Close()
		return failed(fmtData, nil, err)
	}
	s, err := scanRanges(ra, rb, hexShown)
	ra.Close()
	rb.Close()
	if err != nil {
		r.Summary = "could not be compared: " + shortErr(err)
		return r
	}
	return ex.describeRanges(r, a, b, s)
}

// describeRanges renders a range scan with hex windows (a second read of
// both sides) and hints.
func (ex *explainer) describeRanges(r Result, a, b *node, s rangeScan) Result {
	if s.count == 0 {
		r.Summary = "identical bytes"
		r.Complete = true
		return r
	}
	first := s.ranges[0].start
	if s.sizeA != s.sizeB {
		r.Summary = fmt.Sprintf("%s, size %d -> %d, first at byte %d", plural(s.count, "differing byte range"), s.sizeA, s.sizeB, first)
	} else {
		r.Summary = fmt.Sprintf("%s (%d bytes) at equal size %d, first at byte %d", plural(s.count, "differing byte range"), s.diffBytes, s.sizeA, first)
	}
	wa, sa := ex.windowsOf(a, s.ranges)
	wb, sb := ex.windowsOf(b, s.ranges)
	var d strings.Builder
	var hints []string
	for i, rg := range s.ranges {
		fmt.Fprintf(&d, "bytes %d-%d (%d bytes):\n", rg.start, rg.end-1, rg.end-rg.start) // inclusive, as everywhere
		var bufA, bufB []byte
		var offA, offB int64
		if i < len(wa) {
			bufA, offA = wa[i], sa[i]
		}
		if i < len(wb) {
			bufB, offB = wb[i], sb[i]
		}
		lo := max64(rg.start-hexContext, 0)
		hi := min(rg.end, rg.start+hexMaxWindow) + hexContext
		hexRows(&d, "a", bufA, offA, lo, hi)
		hexRows(&d, "b", bufB, offB, lo, hi)
		strA := printableAround(bufA, rg.start-offA)
		strB := printableAround(bufB, rg.start-offB)
		if strA != "" || strB != "" {
			fmt.Fprintf(&d, "  strings: %q -> %q\n", strA, strB)
			hints = append(hints, classify(strA, strB, hintBinaryTimestamp)...)
		}
	}
	if s.count > len(s.ranges) {
		fmt.Fprintf(&d, "... and %d more range(s)\n", s.count-len(s.ranges))
	}
	r.Details = d.String()
	r.hint(dedupe(hints)...)
	return r
}

// windowsOf reads n's windows around ranges (see windows): in place when n
// has random access, else in one forward pass over the stream.
func (ex *explainer) windowsOf(n *node, ranges []byteRange) ([][]byte, []int64) {
	at := n.at
	if at == nil {
		at = n.random
	}
	if at == nil {
		rc, err := ex.openNode(n)
		if err != nil {
			return nil, nil
		}
		defer rc.Close()
		w, starts, _ := windows(rc, ranges)
		return w, starts
	}
	out := make([][]byte, len(ranges))
	starts := make([]int64, len(ranges))
	for i, rg := range ranges {
		lo := max64(rg.start-strContext, 0)
		hi := min(min(rg.end, rg.start+hexMaxWindow)+strContext, at.size)
		starts[i] = lo
		if lo >= hi {
			continue
		}
		w := make([]byte, hi-lo)
		k, _ := at.ReadAt(w, lo)
		out[i] = w[:k]
	}
	return out, starts
}

// hexRows prints bytes [lo, hi) of a window that starts at file offset off,
// 16 to a row, with the printable characters.
func hexRows(d *strings.Builder, side string, buf []byte, off, lo, hi int64) {
	if hi > off+int64(len(buf)) {
		hi = off + int64(len(buf))
	}
	if lo < off || lo >= hi {
		fmt.Fprintf(d, "  %s (no bytes here)\n", side)
		return
	}
	for row := lo &^ 15; row < hi; row += 16 {
		var hx, asc strings.Builder
		for i := row; i < row+16; i++ {
			if i > row {
				hx.WriteByte(' ')
			}
			if i < lo || i >= hi {
				hx.WriteString("  ")
				asc.WriteByte(' ')
				continue
			}
			c := buf[i-off]
			fmt.Fprintf(&hx, "%02x", c)
			if c >= 0x20 && c < 0x7f {
				asc.WriteByte(c)
			} else {
				asc.WriteByte('.')
			}
		}
		fmt.Fprintf(d, "  %s %08x: %-47s  |%s|\n", side, row, hx.String(), asc.String())
	}
}

// printableAround returns the run of printable bytes in buf around index i
// (or starting just after it), empty when there is none of 3 or more.
func printableAround(buf []byte, i int64) string {
	if i < 0 || i > int64(len(buf)) {
		return ""
	}
	print := func(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' }
	lo, hi := int(i), int(i)
	for lo > 0 && print(buf[lo-1]) {
		lo--
	}
	for hi < len(buf) && print(buf[hi]) {
		hi++
	}
	if hi-lo < 3 {
		return ""
	}
	return string(buf[lo:hi])
}
