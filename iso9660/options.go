package iso9660

import (
	"context"
	"fmt"
	"sync"

	"github.com/isodiff/isodiff/budget"
)

// Options are the settings of OpenOptions. The zero Options (what Open
// uses) is an unlimited budget and a context that is never cancelled.
type Options struct {
	// Budget is charged for everything the reader holds because the image
	// said so: volume descriptors, the boot catalog and the boot image
	// sizes (for the life of the Image, until Close), the child lists a
	// Walker holds for its open directories, their names, link targets and
	// extent lists, the set of directories and continuation areas a walk
	// has read (until the walk ends or Walker.Close), the listings and the
	// set of directories FS keeps (until Close). A refused charge is a
	// *FormatError wrapping the *budget.ExceededError (errors.Is(err,
	// budget.ErrExceeded)). nil is unlimited.
	Budget *budget.Budget
	// Context stops Open and the work done later on the image's behalf
	// (walks started with Walk or All, FS lookups, File reads, the boot
	// image sizes): every loop whose count comes from the image checks it.
	// nil means context.Background.
	Context context.Context
}

// Repair is a departure from ECMA-119 that the reader tolerated, as the
// Linux kernel and libisofs (xorriso) do, instead of refusing the image.
// The caller should say so: the image is read, but not as recorded.
type Repair struct {
	Off  int64  // byte offset in the image of the structure repaired
	What string // the structure, e.g. "primary volume descriptor root directory record"
	How  string // what was recorded and how it was read
}

func (r Repair) String() string {
	return fmt.Sprintf("%s at offset %d: %s", r.What, r.Off, r.How)
}

// imageHold is what an Image holds charged for its life: descriptors, the
// boot catalog and the boot image sizes.
type imageHold struct {
	mu   sync.Mutex
	hold budget.Hold
}

func (h *imageHold) grow(b *budget.Budget, n int64, what string, off int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold.Size() == 0 {
		var err error
		h.hold, err = b.Hold(n, what, off)
		if err != nil {
			return budgetErr(off, what, err)
		}
		return nil
	}
	if err := h.hold.Grow(n, what, off); err != nil {
		return budgetErr(off, what, err)
	}
	return nil
}

func (h *imageHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hold.Release()
}

// budgetErr wraps a refused charge as a FormatError at the offset of the
// structure that asked for it, so that callers find the offset where they
// find every other one.
func budgetErr(off int64, what string, err error) error {
	return &FormatError{Off: off, What: what, Err: err}
}

// Approximate sizes of what the reader holds, charged to the budget.
const (
	descriptorCost = 2048 // a parsed VolumeDescriptor, with its strings
	entryCost      = 360  // an Entry (328 bytes, in a 352-byte allocation) and its slot in a child list, without its strings
	damageCost     = 256  // a damage error
	extentCost     = 16   // one Extent
	visitedCost    = 48   // one directory block in a walk's visited set
	ceBitsCost     = 320  // one block's map of continuation bytes read
	bootEntryCost  = 96   // one BootEntry or SectionHeader
	bootSizeCost   = 48   // one entry of the boot image sizes map
)
