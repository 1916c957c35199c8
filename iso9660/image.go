package iso9660

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/isodiff/isodiff/budget"
)

// Namespaces a walk can use.
const (
	NamespaceRockRidge = "rockridge"
	NamespaceJoliet    = "joliet"
	NamespaceISO9660   = "iso9660"
)

// maxDescriptors bounds the volume recognition sequence read by Open.
const maxDescriptors = 256

// Image is an opened ISO 9660 image: its volume descriptors and what was
// detected on its root. Open reads only the descriptors and the root
// directory's first record; Walk reads the rest on demand.
type Image struct {
	Descriptors   []DescriptorInfo // every descriptor of the recognition sequence, in order
	Primary       *VolumeDescriptor
	Joliet        *VolumeDescriptor   // first supplementary descriptor with a UCS-2 escape sequence, nil if none
	Supplementary []*VolumeDescriptor // all supplementary and enhanced descriptors
	Boot          *BootRecord         // first El Torito boot record, nil if none
	RockRidge     bool                // SUSP SP and Rock Ridge entries on the primary root
	// SUSPSkip is the LEN_SKP of the root's SP entry: bytes to skip at the
	// start of every other record's system use field.
	SUSPSkip int
	// Namespace is the tree Walk reads: NamespaceRockRidge (the primary
	// tree with Rock Ridge), NamespaceJoliet (the Joliet tree, when there is
	// no Rock Ridge) or NamespaceISO9660 (the bare primary tree).
	Namespace string

	r       io.ReaderAt
	size    int64
	budget  *budget.Budget
	ctx     context.Context
	held    imageHold
	repairs []Repair

	catalogOnce sync.Once
	catalog     *BootCatalog
	catalogErr  error

	bootOnce  sync.Once
	bootSizes map[uint32]int64
	bootErr   error

	index dirIndex // of the directories read through FS
}

// Open reads the volume descriptors of the image in r, which is size bytes
// long, and detects Rock Ridge on the primary root. It is OpenOptions with
// the zero Options: no budget, no cancellation.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	return OpenOptions(r, size, Options{})
}

// OpenOptions is Open charging o.Budget and stopping when o.Context is
// done. The Image keeps both for the work done later on its behalf. Close
// gives back what the Image holds charged.
func OpenOptions(r io.ReaderAt, size int64, o Options) (*Image, error) {
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	im := &Image{r: r, size: size, budget: o.Budget, ctx: ctx}
	if err := im.open(); err != nil {
		im.Close()
		return nil, err
	}
	return im, nil
}

// Close gives back the budget the Image holds charged (descriptors, boot
// catalog, boot image sizes, what FS keeps). Walks keep their own charges
// until they end. The Image must not be used after Close.
func (im *Image) Close() error {
	im.held.release()
	im.index.release(im.budget)
	return nil
}

// Repairs lists the departures from the standard that were read the way
// the Linux kernel and xorriso read them rather than refused: a volume
// descriptor's root directory record whose length or identifier byte is
// wrong, or whose size disagrees with the root's "." record. The caller
// should report them: the image is read, but not as recorded.
func (im *Image) Repairs() []Repair { return im.repairs }

func (im *Image) open() error {
	buf := make([]byte, SectorSize)
	terminated := false
	for i := 0; i < maxDescriptors; i++ {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		off := int64(16+i) * SectorSize
		if off+SectorSize > im.size {
			if im.Primary == nil {
				return formatErr(off, "volume descriptor", ErrTruncated)
			}
			break
		}
		if _, err := im.r.ReadAt(buf, off); err != nil {
			return formatErr(off, "volume descriptor", err)
		}
		id := string(buf[1:6])
		if !knownDescriptorID(id) {
			if i == 0 {
				return formatErrf(off, "volume descriptor", "%w: identifier %q", ErrNotISO, buf[1:6])
			}
			break
		}
		if err := im.held.grow(im.budget, descriptorCost, "volume descriptor", off); err != nil {
			return err
		}
		im.Descriptors = append(im.Descriptors, DescriptorInfo{Type: buf[0], Identifier: id, Version: buf[6], Offset: off})
		if id != "CD001" || terminated {
			continue
		}
		switch buf[0] {
		case TypeBootRecord:
			if br := parseBootRecord(buf, off); im.Boot == nil && br.ElTorito {
				im.Boot = br
			}
		case TypePrimary:
			if im.Primary != nil {
				break // only the first counts
			}
			v, repairs, err := parseVolumeDescriptor(buf, off)
			if err != nil {
				return err
			}
			im.repairs = append(im.repairs, repairs...)
			im.Primary = v
		case TypeSupplementary:
			v, repairs, err := parseVolumeDescriptor(buf, off)
			if err != nil {
				return err
			}
			im.repairs = append(im.repairs, repairs...)
			im.Supplementary = append(im.Supplementary, v)
			if v.Joliet && im.Joliet == nil {
				im.Joliet = v
			}
		case TypeTerminator:
			terminated = true
		}
	}
	if im.Primary == nil {
		return formatErrf(16*SectorSize, "volume descriptor set", "%w: no primary volume descriptor", ErrNotISO)
	}
	im.reconcileRoot(im.Primary)
	if err := im.checkExtent(im.Primary.Root.Extent, int64(im.Primary.Root.DataLength), im.Primary.Offset+156, "root directory"); err != nil {
		return err
	}
	if err := im.detectRockRidge(); err != nil {
		return err
	}
	switch {
	case im.RockRidge:
		im.Namespace = NamespaceRockRidge
	case im.Joliet != nil:
		im.reconcileRoot(im.Joliet)
		if err := im.checkExtent(im.Joliet.Root.Extent, int64(im.Joliet.Root.DataLength), im.Joliet.Offset+156, "Joliet root directory"); err != nil {
			return err
		}
		im.Namespace = NamespaceJoliet
	default:
		im.Namespace = NamespaceISO9660
	}
	return nil
}

func knownDescriptorID(id string) bool {
	switch id {
	case "CD001", "BEA01", "NSR02", "NSR03", "TEA01", "BOOT2", "CDW02":
		return true
	}
	return false
}

// Size returns the image size given to Open.
func (im *Image) Size() int64 { return im.size }

// checkExtent verifies that n bytes from block lba lie inside the image.
// The error names the missing bytes' offset (the extent's), and the
// record that points there (at) in its text.
func (im *Image) checkExtent(lba uint32, n int64, at int64, what string) error {
	off := int64(lba) * SectorSize
	if n < 0 || off > im.size || n > im.size-off {
		return formatErrf(off, what, "%w: %d bytes at block %d (recorded at offset %d), image is %d bytes", ErrTruncated, n, lba, at, im.size)
	}
	return nil
}

// reconcileRoot makes the root directory's size that of its own "."
// record when the descriptor's copy says otherwise and the "." record's
// size fits in the image, and records the repair: Linux and libisofs take
// only the extent from the descriptor and the rest from ".".
func (im *Image) reconcileRoot(v *VolumeDescriptor) {
	off := int64(v.Root.Extent) * SectorSize
	if off >= im.size {
		return
	}
	dot, err := im.readRecordAt(off, "root directory \".\" record")
	if err != nil || !dot.IsDot() || dot.Extent != v.Root.Extent || dot.DataLength == v.Root.DataLength || dot.DataLength == 0 {
		return
	}
	if im.checkExtent(dot.Extent, int64(dot.DataLength), off, "root directory") != nil {
		return
	}
	im.repairs = append(im.repairs, Repair{Off: v.Offset + 156 + 10, What: "root directory size in the volume descriptor",
		How: fmt.Sprintf("%d bytes, read as the %d of the root's \".\" record at offset %d, as Linux and xorriso read it", v.Root.DataLength, dot.DataLength, off)})
	v.Root.DataLength = dot.DataLength
}

// readRecordAt reads the directory record at off (within one sector).
func (im *Image) readRecordAt(off int64, what string) (DirRecord, error) {
	n := min(int64(255), SectorSize-off%SectorSize, im.size-off)
	if n < 34 {
		return DirRecord{}, formatErr(off, what, ErrTruncated)
	}
	buf := make([]byte, n)
	if _, err := im.r.ReadAt(buf, off); err != nil {
		return DirRecord{}, formatErr(off, what, err)
	}
	rec, err := parseDirRecord(buf)
	if err != nil {
		return rec, formatErr(off, what, err)
	}
	return rec, nil
}

// detectRockRidge looks for SUSP SP and RRIP on the primary root's "." record.
func (im *Image) detectRockRidge() error {
	root := im.Primary.Root
	off := int64(root.Extent) * SectorSize
	dot, err := im.readRecordAt(off, "root directory \".\" record")
	if err != nil {
		return err
	}
	if !dot.IsDot() {
		return formatErrf(off, "root directory", "first record is not \".\"")
	}
	su := dot.SystemUse
	if len(su) < 7 || !bytes.Equal(su[:2], []byte("SP")) {
		return nil
	}
	info := rrInfo{b: im.budget, entryOff: off}
	defer info.release()
	sr := newSUSPReader(im, im.ctx)
	defer sr.release()
	_, err = sr.systemUse(su, off+int64(dot.Len)-int64(len(su)), 0, info.add)
	if err != nil {
		return err
	}
	if info.hasSP && (info.rripER || info.any) {
		im.RockRidge = true
		im.SUSPSkip = int(info.spSkip)
	}
	return nil
}
