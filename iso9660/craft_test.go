package iso9660

import (
	"encoding/binary"
	"fmt"
)

// Hand-built Rock Ridge images, for structures no writer at hand produces.

// crafted lays out a minimal Rock Ridge image: blocks 0-15 empty, the
// primary volume descriptor at 16, the terminator at 17, the root
// directory from block 18 (its "." record carrying SP, ER and PX), then
// whatever the test appends with addBlocks.
type crafted struct {
	records [][]byte // the root's children, in order
	blocks  [][]byte // blocks after the root directory
}

const craftRootLBA = 18

// both32 and both16 encode ECMA-119 both-byte-order numbers.
func both32(v uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
	return b
}

func both16(v uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
	return b
}

// dirRecord builds a directory record.
func dirRecord(id []byte, extent, size uint32, flags byte, su []byte) []byte {
	r := []byte{0, 0}
	r = append(r, both32(extent)...)
	r = append(r, both32(size)...)
	r = append(r, 124, 1, 2, 3, 4, 5, 0) // 2024-01-02 03:04:05
	r = append(r, flags, 0, 0)
	r = append(r, both16(1)...)
	r = append(r, byte(len(id)))
	r = append(r, id...)
	if len(id)%2 == 0 {
		r = append(r, 0)
	}
	r = append(r, su...)
	if len(r) > 255 {
		panic(fmt.Sprintf("record of %d bytes", len(r)))
	}
	r[0] = byte(len(r))
	return r
}

// suspEntry builds one SUSP entry.
func susp(sig string, data ...byte) []byte {
	return append([]byte{sig[0], sig[1], byte(4 + len(data)), 1}, data...)
}

// px builds a Rock Ridge PX entry (RRIP 1.10, no serial number).
func px(mode uint32) []byte {
	d := both32(mode)
	d = append(d, both32(1)...)
	d = append(d, both32(0)...)
	d = append(d, both32(0)...)
	return susp("PX", d...)
}

// ceEntry builds a CE entry naming n bytes at offset off of block lba.
func ceEntry(lba, off, n uint32) []byte {
	d := both32(lba)
	d = append(d, both32(off)...)
	d = append(d, both32(n)...)
	return susp("CE", d...)
}

// slEntry builds an SL entry of components (flags, text) with entry flags.
func slEntry(flags byte, comps ...any) []byte {
	d := []byte{flags}
	for i := 0; i < len(comps); i += 2 {
		text := comps[i+1].(string)
		d = append(d, comps[i].(byte), byte(len(text)))
		d = append(d, text...)
	}
	return susp("SL", d...)
}

// rootRecords are the root directory's records, "." and ".." first.
func (c *crafted) rootRecords(rootSize uint32) [][]byte {
	er := []byte{10, 0, 0, 1}
	er = append(er, "RRIP_1991A"...)
	dotSU := append(susp("SP", 0xBE, 0xEF, 0), susp("ER", er...)...)
	dotSU = append(dotSU, px(0o040755)...)
	return append([][]byte{
		dirRecord([]byte{0}, craftRootLBA, rootSize, FlagDir, dotSU),
		dirRecord([]byte{1}, craftRootLBA, rootSize, FlagDir, px(0o040755)),
	}, c.records...)
}

// rootBlocks is the size of the root directory in blocks.
func (c *crafted) rootBlocks() int {
	n, used := 1, 0
	for _, r := range c.rootRecords(0) {
		if used+len(r) > SectorSize {
			n, used = n+1, 0
		}
		used += len(r)
	}
	return n
}

// firstFreeBlock is the first block after the root directory, where the
// appended blocks go; it must be asked after the last record is added.
func (c *crafted) firstFreeBlock() uint32 { return craftRootLBA + uint32(c.rootBlocks()) }

func (c *crafted) bytes() []byte {
	rootBlocks := c.rootBlocks()
	total := craftRootLBA + rootBlocks + len(c.blocks)
	img := make([]byte, total*SectorSize)
	pvd := img[16*SectorSize:]
	pvd[0], pvd[6] = TypePrimary, 1
	copy(pvd[1:], "CD001")
	copy(pvd[8:40], fmt.Sprintf("%-32s", "LINUX"))
	copy(pvd[40:72], fmt.Sprintf("%-32s", "CRAFTED"))
	copy(pvd[80:], both32(uint32(total)))
	copy(pvd[120:], both16(1))
	copy(pvd[124:], both16(1))
	copy(pvd[128:], both16(SectorSize))
	rootSize := uint32(rootBlocks * SectorSize)
	copy(pvd[156:], dirRecord([]byte{0}, craftRootLBA, rootSize, FlagDir, nil))
	pvd[881] = 1
	term := img[17*SectorSize:]
	term[0], term[6] = TypeTerminator, 1
	copy(term[1:], "CD001")

	recs := c.rootRecords(rootSize)
	p := craftRootLBA * SectorSize
	blockEnd := p + SectorSize
	for _, r := range recs {
		if p+len(r) > blockEnd {
			p, blockEnd = blockEnd, blockEnd+SectorSize
		}
		copy(img[p:], r)
		p += len(r)
	}
	for i, b := range c.blocks {
		copy(img[(craftRootLBA+rootBlocks+i)*SectorSize:], b)
	}
	return img
}
