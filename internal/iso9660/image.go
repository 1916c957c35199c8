package iso9660

import (
	"bytes"
	"io"
	"sync"
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

	r    io.ReaderAt
	size int64

	bootOnce  sync.Once
	bootSizes map[uint32]int64
	bootErr   error
}

// Open reads the volume descriptors of the image in r, which is size bytes
// long, and detects Rock Ridge on the primary root.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	im := &Image{r: r, size: size}
	buf := make([]byte, SectorSize)
	terminated := false
	for i := 0; i < maxDescriptors; i++ {
		off := int64(16+i) * SectorSize
		if off+SectorSize > size {
			if im.Primary == nil {
				return nil, formatErr(off, "volume descriptor", ErrTruncated)
			}
			break
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			return nil, formatErr(off, "volume descriptor", err)
		}
		id := string(buf[1:6])
		if !knownDescriptorID(id) {
			if i == 0 {
				return nil, formatErrf(off, "volume descriptor", "%w: identifier %q", ErrNotISO, buf[1:6])
			}
			break
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
			v, err := parseVolumeDescriptor(buf, off)
			if err != nil {
				return nil, err
			}
			im.Primary = v
		case TypeSupplementary:
			v, err := parseVolumeDescriptor(buf, off)
			if err != nil {
				return nil, err
			}
			im.Supplementary = append(im.Supplementary, v)
			if v.Joliet && im.Joliet == nil {
				im.Joliet = v
			}
		case TypeTerminator:
			terminated = true
		}
	}
	if im.Primary == nil {
		return nil, formatErrf(16*SectorSize, "volume descriptor set", "%w: no primary volume descriptor", ErrNotISO)
	}
	if err := im.checkExtent(im.Primary.Root.Extent, int64(im.Primary.Root.DataLength), im.Primary.Offset+156, "root directory"); err != nil {
		return nil, err
	}
	if err := im.detectRockRidge(); err != nil {
		return nil, err
	}
	switch {
	case im.RockRidge:
		im.Namespace = NamespaceRockRidge
	case im.Joliet != nil:
		if err := im.checkExtent(im.Joliet.Root.Extent, int64(im.Joliet.Root.DataLength), im.Joliet.Offset+156, "Joliet root directory"); err != nil {
			return nil, err
		}
		im.Namespace = NamespaceJoliet
	default:
		im.Namespace = NamespaceISO9660
	}
	return im, nil
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
func (im *Image) checkExtent(lba uint32, n int64, at int64, what string) error {
	off := int64(lba) * SectorSize
	if n < 0 || off > im.size || n > im.size-off {
		return formatErrf(at, what, "%w: %d bytes at block %d, image is %d bytes", ErrTruncated, n, lba, im.size)
	}
	return nil
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
	var info rrInfo
	_, err = im.systemUse(su, off+int64(dot.Len)-int64(len(su)), 0, info.add)
	if err != nil {
		return err
	}
	if info.hasSP && (info.rripER || info.any) {
		im.RockRidge = true
		im.SUSPSkip = int(info.spSkip)
	}
	return nil
}
