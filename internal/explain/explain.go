package explain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/isodiff/isodiff/tree"

	"github.com/isodiff/isodiff/budget"
)

// Input is one side of a comparison: a name for messages, its size (-1
// when unknown) and a way to read it from the start, as often as needed.
// A reader Open returns that is also an io.Closer is closed after use.
type Input struct {
	Name string
	Size int64
	Open func() (io.Reader, error)
	// At, when set, reads the same Size bytes at any offset (a file inside
	// a squashfs image, decoded block by block, say): formats that need
	// random access (ELF) read through it instead of copying the input to
	// a temporary file first, and a comparison limited by Options.Spans
	// reads only those spans.
	At io.ReaderAt
}

// Range is a byte range [Start, End).
type Range struct{ Start, End int64 }

// Options bound the work of one Explain call. The zero value is ready to
// use; each zero field takes the default named in its comment.
type Options struct {
	// TempDir is where the private temporary directory is made (0700,
	// removed before Explain returns). Default os.TempDir().
	TempDir string
	// MaxDepth bounds recursion into payloads and members. Default 6.
	MaxDepth int
	// MaxStreamBytes cuts off any one decompressed stream. Default 4 GiB.
	MaxStreamBytes int64
	// MaxTotalBytes bounds all bytes read by one call. Default 32 GiB.
	MaxTotalBytes int64
	// MaxSpoolBytes is the largest file spooled to disk for formats that
	// need random access (ELF, zip, FAT), and of the members of one archive
	// copied out together; all spool files of one call together take at
	// most 4 times as much. Default 1 GiB.
	MaxSpoolBytes int64
	// MaxTextBytes is how much of each side a text diff reads. Default 1 MiB.
	MaxTextBytes int
	// MaxDetailBytes caps the rendered details of one result. Default 32 KiB.
	MaxDetailBytes int
	// MaxMembers caps the members listed per archive side (each costs a
	// few hundred bytes of memory). Default 100000.
	MaxMembers int
	// MaxChildren caps the differing members explained per archive.
	// Default 64.
	MaxChildren int
	// MaxResults caps the comparisons (results) of one call, at every
	// depth together, so that nested archives do not multiply the work.
	// Default 256.
	MaxResults int
	// Spans, when not nil, are the only byte ranges in which the two inputs
	// (of one size) can differ: they are proven equal elsewhere, e.g. from
	// equal compressed blocks. With Input.At on both sides, comparisons
	// that would read both inputs whole read only these ranges. Sorted and
	// disjoint.
	Spans []Range
}

func (o Options) withDefaults() Options {
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 6
	}
	if o.MaxStreamBytes <= 0 {
		o.MaxStreamBytes = 4 << 30
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = 32 << 30
	}
	if o.MaxSpoolBytes <= 0 {
		o.MaxSpoolBytes = 1 << 30
	}
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 1 << 20
	}
	if o.MaxDetailBytes <= 0 {
		o.MaxDetailBytes = 32 << 10
	}
	if o.MaxMembers <= 0 {
		o.MaxMembers = 100000
	}
	if o.MaxChildren <= 0 {
		o.MaxChildren = 64
	}
	if o.MaxResults <= 0 {
		o.MaxResults = 256
	}
	return o
}

// Result says how two files differ.
type Result struct {
	// Name is the member or payload this result is about, inside its
	// parent; empty at the top.
	Name string `json:"name,omitempty"`
	// Format is what both sides were read as: gzip, xz, zstd, bzip2, lz4,
	// elf, cpio, ar, deb, tar, zip, jar, pyc, fat, text, or data.
	Format string `json:"format"`
	// Summary is one line.
	Summary string `json:"summary"`
	// Details are more lines: the differing fields, a diff, hex windows.
	Details string `json:"details,omitempty"`
	// Hints name likely causes, own and children's, deduplicated; Hint is
	// them joined with ", ".
	Hints []string `json:"hints,omitempty"`
	Hint  string   `json:"hint,omitempty"`
	// Complete is set when the whole difference is accounted for (e.g. an
	// ELF file differs only in its build-id note, a gzip file only in its
	// header): another tool would add nothing.
	Complete bool `json:"complete"`
	// Children explain differing payloads and members.
	Children []Result `json:"children,omitempty"`
	// Err is set, on the top result only, when the comparison was ended
	// early by the memory budget (budget.FromContext): it is the
	// *budget.ExceededError of the first charge refused, naming the
	// structure and its offset in the file that held it. Explain returns
	// the same error; the Summary then says the result is incomplete.
	Err error `json:"-"`
}

// Size is about how many bytes r holds (texts and per-result overhead),
// for a caller that keeps results to charge them to its budget.
func (r *Result) Size() int64 {
	n := int64(resultOverhead + len(r.Name) + len(r.Format) + len(r.Summary) + len(r.Details) + len(r.Hint))
	for _, h := range r.Hints {
		n += int64(len(h)) + 16
	}
	for i := range r.Children {
		n += r.Children[i].Size()
	}
	return n
}

// resultOverhead is what one Result costs besides its texts.
const resultOverhead = 256

// Text renders the details and the children's results as indented lines
// (without the summary), at most max bytes.
func (r *Result) Text(max int) string {
	var b strings.Builder
	r.render(&b, "", max)
	return b.String()
}

func (r *Result) render(b *strings.Builder, indent string, max int) {
	if r.Details != "" {
		for _, line := range strings.Split(strings.TrimRight(r.Details, "\n"), "\n") {
			if !writeCapped(b, indent+line+"\n", max) {
				return
			}
		}
	}
	for i := range r.Children {
		c := &r.Children[i]
		name := c.Name
		if name == "" {
			name = "payload"
		}
		if !writeCapped(b, indent+name+": "+c.Summary+"\n", max) {
			return
		}
		c.render(b, indent+"  ", max)
	}
}

const truncMark = "... (details truncated)\n"

func writeCapped(b *strings.Builder, s string, max int) bool {
	if strings.HasSuffix(b.String(), truncMark) {
		return false
	}
	if b.Len()+len(s) > max {
		b.WriteString(truncMark)
		return false
	}
	b.WriteString(s)
	return true
}

// finish gathers the children's hints into r's and sets Hint.
func (r *Result) finish() {
	var all []string
	all = append(all, r.Hints...)
	for i := range r.Children {
		r.Children[i].finish()
		all = append(all, r.Children[i].Hints...)
	}
	r.Hints = dedupe(all)
	r.Hint = strings.Join(r.Hints, ", ")
}

func (r *Result) hint(h ...string) { r.Hints = append(r.Hints, h...) }

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// errLimit marks a read stopped by one of the Options' bounds.
type errLimit struct{ what string }

func (e *errLimit) Error() string { return e.what }

func isLimit(err error) bool {
	var l *errLimit
	return errors.As(err, &l)
}

// Explain compares a and b and says how they differ. It returns an error
// (with the partial result) only when an input could not be read, ctx
// ended, or the memory budget ctx carries (budget.FromContext; none means
// unlimited) refused a charge: then the error is that refusal, an
// *budget.ExceededError, also set as the result's Err, and the result is
// marked incomplete. Malformed or unknown content is explained, not an
// error. Explain removes its temporary directory before it returns, and
// returns promptly (well within a second) once ctx is cancelled.
func Explain(ctx context.Context, a, b Input, opts Options) (*Result, error) {
	o := opts.withDefaults()
	dir, err := os.MkdirTemp(o.TempDir, "isodiff-explain-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	ex := &explainer{ctx: ctx, o: o, dir: dir, bud: budget.FromContext(ctx)}
	ex.kept = ex.newHold()
	defer ex.kept.Release()
	ex.detailsLeft = o.MaxDetailBytes * detailsPerCall
	ex.spansKnown = validSpans(o.Spans, a.Size, b.Size)
	defer func() {
		for _, f := range ex.spooled {
			f.Close()
		}
	}()
	na, nb := ex.source(0, a), ex.source(1, b)
	r, perr := ex.guarded(na, nb)
	if perr != nil {
		return &r, perr
	}
	r.finish()
	if e := ex.refused.Load(); e != nil {
		r.Err = e
		r.Complete = false
		r.Summary += " (incomplete: " + e.Error() + ")"
	}
	if err := ctx.Err(); err != nil {
		return &r, err
	}
	if r.Err != nil {
		return &r, r.Err
	}
	if ex.srcErr != nil {
		return &r, ex.srcErr
	}
	return &r, nil
}

// detailsPerCall bounds the details of all results of one call together,
// in units of Options.MaxDetailBytes: what a caller renders (Result.Text)
// is cut at MaxDetailBytes anyway.
const detailsPerCall = 8

// readChunk is the most read from an input in one step, so that a large
// read still checks for cancellation every few milliseconds.
const readChunk = 1 << 20

// guarded runs the comparison so that a bug met on odd input (a panic)
// becomes an error with a result saying so, not the end of the caller.
func (ex *explainer) guarded(a, b *node) (r Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			r = Result{Format: fmtData, Summary: fmt.Sprintf("internal error (please report): %v", v)}
			err = fmt.Errorf("explain: internal error: %v\n%s", v, debug.Stack())
		}
	}()
	return ex.explain(a, b, 0), nil
}

// explainer is the state of one Explain call.
type explainer struct {
	ctx   context.Context
	o     Options
	dir   string
	total atomic.Int64 // bytes read so far, all streams
	// spooledBytes is what all spool files of the call took.
	spooledBytes atomic.Int64
	srcErr       error
	mu           sync.Mutex // guards spooled and srcErr: both sides may be spooled at once
	spooled      []*os.File
	// spansKnown is set when Options.Spans can be trusted: inputs of one
	// size, spans sorted, disjoint and inside them.
	spansKnown bool
	// bud is the comparison's memory budget (nil: unlimited); refused is
	// the first charge it refused, which ends the comparison.
	bud     *budget.Budget
	refused atomic.Pointer[budget.ExceededError]
	// kept holds the results made so far (released when Explain returns:
	// a caller keeping them charges Result.Size itself); results counts
	// them against MaxResults, detailsLeft is what their details may
	// still take.
	kept        budget.Hold
	results     int
	detailsLeft int
	// cmpBuf are sameReaders' buffers, made once.
	cmpBuf [2][]byte
}

// newHold returns an empty charge to the comparison's budget, to grow.
func (ex *explainer) newHold() budget.Hold {
	h, _ := ex.bud.Hold(0, "", -1)
	return h
}

// grow charges n more bytes to h for the structure what at offset off (in
// the file being read, -1 when not known). A refusal is recorded: it ends
// the comparison (stop reports it from then on).
func (ex *explainer) grow(h *budget.Hold, n int64, what string, off int64) error {
	err := h.Grow(n, what, off)
	if err != nil {
		ex.refuse(err)
	}
	return err
}

// refuse records err if it is the budget's refusal.
func (ex *explainer) refuse(err error) {
	var e *budget.ExceededError
	if errors.As(err, &e) {
		ex.refused.CompareAndSwap(nil, e)
	}
}

// stop returns why the comparison must end now: ctx's error or the budget's
// refusal; nil to go on.
func (ex *explainer) stop() error {
	if err := ex.ctx.Err(); err != nil {
		return err
	}
	if e := ex.refused.Load(); e != nil {
		return e
	}
	return nil
}

// readAllowed returns the error that forbids reading more: stop's, or the
// read budget (MaxTotalBytes) spent.
func (ex *explainer) readAllowed() error {
	if err := ex.stop(); err != nil {
		return err
	}
	if ex.total.Load() >= ex.o.MaxTotalBytes {
		return &errLimit{fmt.Sprintf("read budget of %d bytes exhausted", ex.o.MaxTotalBytes)}
	}
	return nil
}

// node is a stream to compare: an input, a decompressed payload, an
// archive member.
type node struct {
	name string
	size int64 // -1 when unknown
	open func() (io.ReadCloser, error)
	// at is set when the node's bytes are a section of a spooled file.
	at *spoolFile
	// random is the input's own random access (Input.At), on top nodes.
	random *spoolFile
	// top marks the two inputs themselves, to which Options.Spans apply.
	top bool
	// fat is the FAT image read from the node, kept while it is compared.
	fat *fatFS
}

// source wraps an Input so that its read errors are recorded as the
// input's own.
func (ex *explainer) source(side int, in Input) *node {
	var random *spoolFile
	if in.At != nil && in.Size >= 0 {
		random = &spoolFile{r: srcReaderAt{in.At, func(err error) error { ex.sourceFailed(side, err); return tree.NewSideError(side, err) }}, size: in.Size, ex: ex}
	}
	return &node{name: in.Name, size: in.Size, random: random, top: true, open: func() (io.ReadCloser, error) {
		r, err := in.Open()
		if err != nil {
			ex.sourceFailed(side, err)
			return nil, tree.NewSideError(side, err)
		}
		return &srcReader{r: r, fail: func(err error) error { ex.sourceFailed(side, err); return tree.NewSideError(side, err) }}, nil
	}}
}

func (ex *explainer) sourceFailed(side int, err error) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.srcErr == nil && ex.ctx.Err() == nil {
		ex.srcErr = tree.NewSideError(side, err)
	}
}

type srcReader struct {
	r    io.Reader
	fail func(error) error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = s.fail(err)
	}
	return n, err
}

// srcReaderAt records an input's read errors as srcReader does.
type srcReaderAt struct {
	r    io.ReaderAt
	fail func(error) error
}

func (s srcReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = s.fail(err)
	}
	return n, err
}

func (s *srcReader) Close() error {
	if c, ok := s.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// openNode opens n for reading, counting its bytes against the budget and
// stopping on cancellation.
func (ex *explainer) openNode(n *node) (io.ReadCloser, error) {
	if err := ex.stop(); err != nil {
		return nil, err
	}
	rc, err := n.open()
	if err != nil {
		return nil, err
	}
	return &countReader{ex: ex, rc: rc}, nil
}

type countReader struct {
	ex *explainer
	rc io.ReadCloser
}

func (c *countReader) Read(p []byte) (int, error) {
	if err := c.ex.readAllowed(); err != nil {
		return 0, err
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	n, err := c.rc.Read(p)
	c.ex.total.Add(int64(n))
	return n, err
}

func (c *countReader) Close() error { return c.rc.Close() }

// counted counts the bytes read from r (a decompressed stream inside a
// node's, say) against MaxTotalBytes, as openNode's readers do.
func (ex *explainer) counted(r io.Reader) io.Reader {
	return &countReader{ex: ex, rc: io.NopCloser(r)}
}

// capReader cuts a decompressed stream off at max bytes.
type capReader struct {
	r    io.Reader
	n    int64
	max  int64
	what string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// Past the cap: is there more?
		var one [1]byte
		k, err := c.r.Read(one[:])
		if k > 0 {
			return 0, &errLimit{fmt.Sprintf("%s exceeds %d bytes", c.what, c.max)}
		}
		return 0, err
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// multiCloser closes its parts in order.
type multiCloser struct {
	io.Reader
	closers []func() error
}

func (m *multiCloser) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

const headSize = 4096

// head reads the first bytes of n.
func (ex *explainer) head(n *node) ([]byte, error) {
	if n.random != nil {
		// Read through the input's random access, so that the blocks read
		// here are the ones a format reader reads next (and cached there).
		buf := make([]byte, min(headSize, max(n.random.size, 0)))
		k, err := n.random.ReadAt(buf, 0)
		if err == io.EOF {
			err = nil
		}
		return buf[:k], err
	}
	rc, err := ex.openNode(n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, headSize)
	k, err := io.ReadFull(rc, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:k], err
}

// explain compares two nodes, choosing the comparison by their first
// bytes, within the call's bounds on results and their details.
func (ex *explainer) explain(a, b *node, depth int) Result {
	if err := ex.stop(); err != nil {
		return Result{Format: fmtData, Summary: "not compared: " + shortErr(err)}
	}
	if ex.results >= ex.o.MaxResults {
		return Result{Format: fmtData, Summary: fmt.Sprintf("not compared: %d comparisons made in this file already (limit)", ex.results)}
	}
	ex.results++
	r := ex.explainFormat(a, b, depth)
	ex.keep(&r)
	return r
}

// keep bounds and charges a result made by explain (its children were
// charged when they were made).
func (ex *explainer) keep(r *Result) {
	if len(r.Details) > ex.detailsLeft {
		cut := strings.LastIndexByte(r.Details[:ex.detailsLeft], '\n') + 1
		r.Details = r.Details[:cut] + truncMark
	}
	ex.detailsLeft = max(ex.detailsLeft-len(r.Details), 0)
	n := int64(resultOverhead + len(r.Name) + len(r.Summary) + len(r.Details))
	if ex.grow(&ex.kept, n, "explanation of "+resultLabel(r.Name), -1) != nil {
		r.Details = ""
	}
}

// resultLabel names a result in a budget refusal.
func resultLabel(name string) string {
	if name == "" {
		return "the file"
	}
	return excerpt(name, 64)
}

func (ex *explainer) explainFormat(a, b *node, depth int) Result {
	ha, erra := ex.head(a)
	hb, errb := ex.head(b)
	if erra != nil || errb != nil {
		return failed("", erra, errb)
	}
	fa, fb := detect(ha), detect(hb)
	if depth >= ex.o.MaxDepth {
		r := ex.hexdiff(a, b)
		r.Details = fmt.Sprintf("recursion depth limit (%d) reached: compared as bytes\n", ex.o.MaxDepth) + r.Details
		return r
	}
	if fa != fb {
		r := ex.hexdiff(a, b)
		r.Summary = fmt.Sprintf("format differs (%s vs %s); %s", fa, fb, r.Summary)
		return r
	}
	switch fa {
	case fmtGzip:
		return ex.gzip(a, b, ha, hb, depth)
	case fmtXz, fmtZstd, fmtBzip2, fmtLz4:
		return ex.compressed(fa, a, b, depth)
	case fmtELF:
		return ex.elf(a, b, depth)
	case fmtCpio:
		return ex.archive(cpioKind, a, b, depth)
	case fmtAr:
		return ex.archive(arKind, a, b, depth)
	case fmtTar:
		return ex.archive(tarKind, a, b, depth)
	case fmtZip:
		return ex.archive(zipKind, a, b, depth)
	case fmtFAT:
		return ex.fat(a, b, depth)
	case fmtPyc:
		return ex.pyc(a, b, ha, hb, depth)
	case fmtText:
		return ex.text(a, b)
	}
	return ex.hexdiff(a, b)
}

// failed is the result when a side could not be read at all.
func failed(format string, errs ...error) Result {
	var msgs []string
	for i, err := range errs {
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: %v", "ab"[i:i+1], err))
		}
	}
	return Result{Format: format, Summary: "could not be read: " + strings.Join(msgs, "; ")}
}

// fallback explains a pair as bytes after a format reader gave up.
func (ex *explainer) fallback(format string, a, b *node, err error) Result {
	r := ex.hexdiff(a, b)
	r.Details = fmt.Sprintf("could not read as %s: %v; compared as bytes\n", format, err) + r.Details
	r.Summary = format + " (unreadable: " + shortErr(err) + "); " + r.Summary
	return r
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// sameStreams reports whether two nodes hold the same bytes, and the
// offset of the first difference.
func (ex *explainer) sameStreams(a, b *node) (bool, int64, error) {
	ra, err := ex.openNode(a)
	if err != nil {
		return false, 0, err
	}
	defer ra.Close()
	rb, err := ex.openNode(b)
	if err != nil {
		return false, 0, err
	}
	defer rb.Close()
	return ex.sameReaders(ra, rb)
}

// sameReaders compares two readers to their ends with the call's two
// comparison buffers (comparisons do not nest).
func (ex *explainer) sameReaders(ra, rb io.Reader) (bool, int64, error) {
	const chunk = 64 << 10
	if ex.cmpBuf[0] == nil {
		ex.cmpBuf = [2][]byte{make([]byte, chunk), make([]byte, chunk)}
	}
	ba, bb := ex.cmpBuf[0], ex.cmpBuf[1]
	var off int64
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, errb := io.ReadFull(rb, bb)
		if erra != nil && erra != io.EOF && erra != io.ErrUnexpectedEOF {
			return false, off, erra
		}
		if errb != nil && errb != io.EOF && errb != io.ErrUnexpectedEOF {
			return false, off, errb
		}
		n := min(na, nb)
		for i := 0; i < n; i++ {
			if ba[i] != bb[i] {
				return false, off + int64(i), nil
			}
		}
		if na != nb {
			return false, off + int64(n), nil
		}
		off += int64(n)
		if erra != nil || errb != nil {
			return true, off, nil
		}
	}
}

// plural renders a count with its noun.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// validSpans reports whether spans can bound a comparison of inputs of
// sizes sizeA and sizeB.
func validSpans(spans []Range, sizeA, sizeB int64) bool {
	if spans == nil || sizeA != sizeB || sizeA < 0 {
		return false
	}
	prev := int64(0)
	for _, s := range spans {
		if s.Start < prev || s.End < s.Start || s.End > sizeA {
			return false
		}
		prev = s.End
	}
	return true
}

// spanned reports whether the comparison of a and b can read only
// Options.Spans: they are the inputs, with random access.
func (ex *explainer) spanned(a, b *node) bool {
	return ex.spansKnown && a.top && b.top && a.random != nil && b.random != nil
}

// provenEqual reports whether bytes [offA, offA+n) of input a and
// [offB, offB+n) of input b are equal by Options.Spans alone.
func (ex *explainer) provenEqual(a, b *node, offA, offB, n int64) bool {
	if !ex.spansKnown || !a.top || !b.top || offA != offB {
		return false
	}
	for _, s := range ex.o.Spans {
		if s.Start < offA+n && s.End > offA {
			return false
		}
	}
	return true
}

// scanSpans is scanRanges over random-access views of the inputs, reading
// only Options.Spans (the bytes outside are proven equal).
func (ex *explainer) scanSpans(ra, rb io.ReaderAt, size int64, max int) (rangeScan, error) {
	s := rangeScan{sizeA: size, sizeB: size}
	for _, sp := range ex.o.Spans {
		if err := ex.ctx.Err(); err != nil {
			return s, err
		}
		t, err := scanRanges(io.NewSectionReader(ra, sp.Start, sp.End-sp.Start), io.NewSectionReader(rb, sp.Start, sp.End-sp.Start), max-len(s.ranges))
		if err != nil {
			return s, err
		}
		for _, r := range t.ranges {
			s.ranges = append(s.ranges, byteRange{r.start + sp.Start, r.end + sp.Start})
		}
		s.count += t.count
		s.diffBytes += t.diffBytes
	}
	return s, nil
}
