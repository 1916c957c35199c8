package explain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Per-structure costs of a debug/elf File, besides its texts.
const (
	elfSectionOverhead = 512 // a *elf.Section, its header, our elfSection and map entries
	elfProgOverhead    = 192
)

// elfMemory returns what debug/elf (and elfFiles) will hold for the ELF
// file s: the section and program headers, the section name table, and
// every section's name, each a copy however many headers point at one
// name. It reads the headers itself, streaming, so that the charge is
// made before elf.NewFile allocates anything. A section name table that
// is compressed (its size would be whatever its header says) is refused.
func (ex *explainer) elfMemory(s *spoolFile) (int64, error) {
	var h [64]byte
	if _, err := s.ReadAt(h[:], 0); err != nil && err != io.EOF {
		return 0, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if h[5] == 2 {
		bo = binary.BigEndian
	}
	is64 := h[4] == byte(elf.ELFCLASS64)
	var phnum, shentsize, shnum, shstrndx int64
	var shoff uint64
	if is64 {
		shoff = bo.Uint64(h[0x28:])
		phnum, shentsize = int64(bo.Uint16(h[0x38:])), int64(bo.Uint16(h[0x3a:]))
		shnum, shstrndx = int64(bo.Uint16(h[0x3c:])), int64(bo.Uint16(h[0x3e:]))
	} else {
		shoff = uint64(bo.Uint32(h[0x20:]))
		phnum, shentsize = int64(bo.Uint16(h[0x2c:])), int64(bo.Uint16(h[0x2e:]))
		shnum, shstrndx = int64(bo.Uint16(h[0x30:])), int64(bo.Uint16(h[0x32:]))
	}
	cost := phnum * elfProgOverhead
	if shoff == 0 || shoff >= uint64(s.size) || shentsize < 40 {
		return cost, nil // no section table: elf.NewFile refuses it or reads none
	}
	// A header for section i: name offset, flags, offset and size.
	type shdr struct {
		name         uint32
		flags        uint64
		offset, size uint64
		link         uint32
	}
	parse := func(b []byte) shdr {
		if is64 {
			return shdr{bo.Uint32(b), bo.Uint64(b[8:]), bo.Uint64(b[0x18:]), bo.Uint64(b[0x20:]), bo.Uint32(b[0x28:])}
		}
		return shdr{bo.Uint32(b), uint64(bo.Uint32(b[8:])), uint64(bo.Uint32(b[0x10:])), uint64(bo.Uint32(b[0x14:])), bo.Uint32(b[0x18:])}
	}
	if is64 && shentsize < 64 {
		return cost, nil
	}
	sec0 := make([]byte, shentsize)
	if _, err := s.ReadAt(sec0, int64(shoff)); err != nil {
		return cost, nil // elf.NewFile will say what is wrong
	}
	if shnum == 0 { // more than 0xff00 sections: the count is in section 0
		shnum = int64(min(parse(sec0).size, uint64(s.size)/uint64(shentsize)+1))
	}
	if shstrndx == 0xffff {
		shstrndx = int64(parse(sec0).link)
	}
	if uint64(shnum) > (uint64(s.size)-shoff)/uint64(shentsize) {
		return 0, fmt.Errorf("%d section headers of %d bytes at %d are past the end of the file", shnum, shentsize, shoff)
	}
	hold := ex.newHold()
	defer hold.Release()
	if err := ex.grow(&hold, shnum*4, "ELF section name offsets", int64(shoff)); err != nil {
		return 0, err
	}
	names := make([]uint32, 0, shnum)
	var strtab shdr
	buf := make([]byte, shentsize*256)
	for i := int64(0); i < shnum; i += 256 {
		n := min(shnum-i, 256)
		if _, err := s.ReadAt(buf[:n*shentsize], int64(shoff)+i*shentsize); err != nil {
			return 0, err
		}
		for j := int64(0); j < n; j++ {
			sh := parse(buf[j*shentsize:])
			names = append(names, sh.name)
			if i+j == shstrndx {
				strtab = sh
			}
		}
	}
	cost += shnum * elfSectionOverhead
	if shstrndx <= 0 || shstrndx >= shnum {
		return cost, nil
	}
	if strtab.flags&uint64(elf.SHF_COMPRESSED) != 0 {
		return 0, fmt.Errorf("compressed section name table (section %d)", shstrndx)
	}
	if strtab.size > uint64(s.size) || strtab.offset > uint64(s.size)-strtab.size {
		return cost, nil // elf.NewFile refuses it
	}
	if err := ex.grow(&hold, int64(strtab.size), "ELF section name table", int64(strtab.offset)); err != nil {
		return 0, err
	}
	tab := make([]byte, strtab.size)
	if _, err := s.ReadAt(tab, int64(strtab.offset)); err != nil {
		return 0, err
	}
	// Each header's name is a copy up to the next NUL: sum their lengths
	// in one sweep over the offsets in order.
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	var total int64
	nul := -1 // the first NUL at or after the current offset
	for _, off := range names {
		if int64(off) >= int64(len(tab)) {
			continue
		}
		if nul < int(off) {
			k := bytes.IndexByte(tab[off:], 0)
			if k < 0 {
				nul = len(tab)
			} else {
				nul = int(off) + k
			}
		}
		total += int64(nul) - int64(off)
	}
	return cost + int64(strtab.size) + total, nil
}
