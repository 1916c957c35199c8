// Package budget is the one memory budget a comparison charges everything
// it holds because an image said so.
//
// A crafted image of a few hundred KiB can describe gigabytes: a squashfs
// xattr value referenced by thousands of keys, a Rock Ridge continuation
// area shared by thousands of records, an archive member header repeated in
// every member. Per-structure caps multiply across structures, so instead
// every allocation whose size or count comes from image bytes is charged to
// one Budget shared by the whole comparison (both images, every stage), and
// released when the structure is dropped. A charge that would pass the limit
// fails with an *ExceededError naming the structure and the image offset
// that asked for it; errors.Is(err, ErrExceeded) holds for it.
//
// A nil *Budget is valid and unlimited, so code can charge unconditionally.
package budget

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLimit is the budget of one comparison when none is set: 256 MiB.
const DefaultLimit = 256 << 20

// ErrExceeded is matched by every *ExceededError through errors.Is.
var ErrExceeded = errors.New("memory budget exceeded")

// Budget counts bytes held on behalf of image data against a limit. It is
// safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64
	// first is the first charge refused, kept so a report can name it even
	// when the error itself was absorbed by a reader.
	first atomic.Pointer[ExceededError]
	last  atomic.Pointer[ExceededError]
	// refusals counts refused charges.
	refusals atomic.Int64
	// attached is the part of used that Attach charged: it is given back
	// only after a garbage collection finds its owner unreachable, so a
	// refused charge first collects once when there is some (collectMu).
	attached  atomic.Int64
	collectMu sync.Mutex
}

// New returns a budget of limit bytes; limit <= 0 means DefaultLimit.
func New(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Budget{limit: limit}
}

// Limit returns the budget's size in bytes (0 for a nil budget: unlimited).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Used returns the bytes held now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Peak returns the most bytes held at once so far.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	return b.peak.Load()
}

// Refused returns the first charge that was refused, or nil.
func (b *Budget) Refused() *ExceededError {
	if b == nil {
		return nil
	}
	return b.first.Load()
}

// Refusals returns how many charges were refused so far, and the last.
func (b *Budget) Refusals() (int64, *ExceededError) {
	if b == nil {
		return 0, nil
	}
	return b.refusals.Load(), b.last.Load()
}

// Charge reserves n bytes for the structure what found at image offset off
// (-1 when not known). When the reservation would pass the limit nothing is
// reserved and an *ExceededError is returned. n <= 0 is a no-op.
func (b *Budget) Charge(n int64, what string, off int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	err := b.charge(n, what, off, recordFinal)
	if err == nil || b.attached.Load() == 0 {
		return err
	}
	if b.collect(n) {
		return b.charge(n, what, off, recordAlways)
	}
	b.refused(err.(*ExceededError))
	return err
}

// collect runs the garbage collector so that the cleanups of unreachable
// Attach owners give their charges back, and waits briefly for them. It
// reports whether n bytes may now fit.
func (b *Budget) collect(n int64) bool {
	b.collectMu.Lock()
	defer b.collectMu.Unlock()
	if n <= b.limit-b.used.Load() {
		return true // another goroutine collected meanwhile
	}
	before := b.attached.Load()
	runtime.GC()
	// Cleanups run on their own goroutine after the collection; give them
	// a moment (they only update two counters).
	for range 20 {
		if n <= b.limit-b.used.Load() {
			return true
		}
		if b.attached.Load() < before {
			before = b.attached.Load()
			continue
		}
		time.Sleep(time.Millisecond)
	}
	return n <= b.limit-b.used.Load()
}

// When a charge's refusal is recorded: always, only when no garbage
// collection could make room (nothing is attached), or never.
type record int

const (
	recordAlways record = iota
	recordFinal
	recordNever
)

func (b *Budget) charge(n int64, what string, off int64, rec record) error {
	for {
		used := b.used.Load()
		if n > b.limit-used {
			e := &ExceededError{What: what, Off: off, N: n, Used: used, Limit: b.limit}
			if rec == recordAlways || rec == recordFinal && b.attached.Load() == 0 {
				b.refused(e)
			}
			return e
		}
		if b.used.CompareAndSwap(used, used+n) {
			for {
				p := b.peak.Load()
				if used+n <= p || b.peak.CompareAndSwap(p, used+n) {
					break
				}
			}
			return nil
		}
	}
}

func (b *Budget) refused(e *ExceededError) {
	b.first.CompareAndSwap(nil, e)
	b.last.Store(e)
	b.refusals.Add(1)
}

// Release gives back n bytes charged before.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	if b.used.Add(-n) < 0 {
		panic("budget: released more than was charged")
	}
}

// Attach charges n bytes held by the object ptr points to and gives them
// back when the garbage collector finds that object unreachable. It is for
// memory whose owner travels too far to release by hand (a squashfs entry's
// block list, passed through read-ahead queues and comparisons): the charge
// lasts while anything still holds the owner. Owners must keep the charged
// memory only through ptr (not copy it into longer-lived values).
func Attach[T any](b *Budget, ptr *T, n int64, what string, off int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if err := b.Charge(n, what, off); err != nil {
		return err
	}
	attach(b, ptr, n)
	return nil
}

// AttachOptional is Attach for memory a caller can do without (a cache):
// when n bytes do not fit now, it returns the *ExceededError without
// recording a refusal (Refused and Refusals do not count it) and without
// collecting garbage to make room.
func AttachOptional[T any](b *Budget, ptr *T, n int64, what string, off int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if err := b.charge(n, what, off, recordNever); err != nil {
		return err
	}
	attach(b, ptr, n)
	return nil
}

// attach ties the n bytes charged to *ptr's life.
func attach[T any](b *Budget, ptr *T, n int64) {
	b.attached.Add(n)
	runtime.AddCleanup(ptr, func(n int64) {
		b.attached.Add(-n)
		b.Release(n)
	}, n)
}

// Hold is a charge to release later, as a value: the zero Hold holds
// nothing, and Release may be called more than once.
type Hold struct {
	b *Budget
	n int64
}

// Hold charges n bytes like Charge and returns the charge to release.
func (b *Budget) Hold(n int64, what string, off int64) (Hold, error) {
	if err := b.Charge(n, what, off); err != nil {
		return Hold{}, err
	}
	return Hold{b, n}, nil
}

// Grow adds n bytes to the hold, charged like Charge.
func (h *Hold) Grow(n int64, what string, off int64) error {
	if err := h.b.Charge(n, what, off); err != nil {
		return err
	}
	h.n += n
	return nil
}

// Size returns the bytes held.
func (h *Hold) Size() int64 { return h.n }

// Release gives the held bytes back.
func (h *Hold) Release() {
	h.b.Release(h.n)
	h.n = 0
}

// ExceededError is a charge the budget refused.
type ExceededError struct {
	What  string // the structure that asked, e.g. "squashfs xattr values"
	Off   int64  // its offset in the image (or in the file being read), -1 if unknown
	N     int64  // bytes asked for
	Used  int64  // bytes held when it asked
	Limit int64
}

func (e *ExceededError) Error() string {
	at := ""
	if e.Off >= 0 {
		at = fmt.Sprintf(" at offset %d", e.Off)
	}
	return fmt.Sprintf("memory budget of %s exceeded: %s%s needs %s more with %s already held (raise it with --memory-budget)",
		Size(e.Limit), e.What, at, Size(e.N), Size(e.Used))
}

// Is makes errors.Is(err, ErrExceeded) hold.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Size renders a byte count in binary units ("64 KiB", "1.5 GiB").
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

type ctxKey struct{}

// NewContext returns a context carrying b, for code reached only through a
// context (an explainer, a walker's callbacks).
func NewContext(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// FromContext returns the budget ctx carries, or nil (unlimited).
func FromContext(ctx context.Context) *Budget {
	b, _ := ctx.Value(ctxKey{}).(*Budget)
	return b
}
