package isodiff

// Damage: an image whose file is shorter than its own structures say.
//
// An ISO says how long it is in several places: the primary volume
// descriptor's volume space size (in logical blocks), and for an isohybrid
// image its MBR partition ends and its GPT (the backup header sits in the
// last sector, and each partition has an end); an embedded squashfs says
// how many bytes it uses. Images are commonly padded (isohybrid images to a
// cylinder or to the backup GPT, and many tools pad the volume), so a file
// longer than these claims is normal; only a file shorter than one of them
// is truncated. The sizes stage records it as a report.Damage, and the
// header stage marks the findings that only follow from it (a boot image
// cut short, a backup GPT header that is not there) as FromDamage instead
// of reporting them as build differences.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/report"
)

// lengthClaim is one structure's statement of how long the image is: at
// least end bytes, said by structure, whose field is at offset off.
type lengthClaim struct {
	end       int64
	structure string
	off       int64
}

// maxClaimDescriptors bounds the volume descriptors scanned for the primary.
const maxClaimDescriptors = 64

// readUpTo reads up to n bytes at off, no further than size; a short file
// gives fewer bytes, a read error none.
func readUpTo(r io.ReaderAt, size, off int64, n int) []byte {
	if off < 0 || off >= size {
		return nil
	}
	n = int(min(int64(n), size-off))
	buf := make([]byte, n)
	k, err := r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	return buf[:k]
}

// lengthClaims reads what side i's own structures say about its length:
// the primary volume descriptor's volume space size, the MBR partition
// ends, the GPT's backup header location and partition ends, and each
// embedded squashfs's bytes_used. It reads each from the raw bytes, a few
// KiB in all, so that a damaged image still yields what it holds (a primary
// descriptor cut after its volume space size still says it).
func (s *session) lengthClaims(i int) []lengthClaim {
	r, size := s.in[i].R, s.in[i].Size
	var cs []lengthClaim
	le16 := binary.LittleEndian.Uint16
	le32 := binary.LittleEndian.Uint32
	le64 := binary.LittleEndian.Uint64

	// The primary volume descriptor: the first of type 1 in the set.
	for k := int64(0); k < maxClaimDescriptors; k++ {
		off := (16 + k) * iso9660.SectorSize
		b := readUpTo(r, size, off, iso9660.SectorSize)
		if len(b) < 7 || string(b[1:6]) != "CD001" || b[0] == iso9660.TypeTerminator {
			break
		}
		if b[0] != iso9660.TypePrimary {
			continue
		}
		if len(b) >= 88 {
			bs := int64(iso9660.SectorSize) // the block size at 128, when the descriptor reaches it
			if len(b) >= 130 {
				if v := int64(le16(b[128:])); v >= 512 && v&(v-1) == 0 {
					bs = v
				}
			}
			cs = append(cs, lengthClaim{int64(le32(b[80:])) * bs, "volume space size in the primary volume descriptor", off + 80})
		}
		break
	}

	// The MBR's partitions (an isohybrid's first covers the image).
	if b := readUpTo(r, size, 0, 512); len(b) == 512 && b[510] == 0x55 && b[511] == 0xAA {
		for k := 0; k < 4; k++ {
			e := b[446+16*k:]
			first, n := int64(le32(e[8:])), int64(le32(e[12:]))
			if n == 0 || e[4] == 0xEE { // unused, or a protective partition (it may claim the largest disk)
				continue
			}
			cs = append(cs, lengthClaim{(first + n) * 512, fmt.Sprintf("end of MBR partition %d", k+1), int64(446 + 16*k + 12)})
		}
	}

	// The GPT at LBA 1, with 512- or 2048-byte sectors.
	for _, ss := range []int64{512, 2048} {
		h := readUpTo(r, size, ss, 92)
		if len(h) < 92 || string(h[:8]) != "EFI PART" {
			continue
		}
		if alt := le64(h[32:]); alt > 1 && alt < 1<<48 {
			cs = append(cs, lengthClaim{int64(alt+1) * ss, "backup header location in the GPT header", ss + 32})
		}
		entriesLBA, num, esize := le64(h[72:]), int64(le32(h[80:])), int64(le32(h[84:]))
		if entriesLBA < 1<<40 && esize >= 128 && esize <= 4096 {
			base := int64(entriesLBA) * ss
			num = min(num, 256)
			arr := readUpTo(r, size, base, int(num*esize))
			for k := int64(0); (k+1)*esize <= int64(len(arr)); k++ {
				e := arr[k*esize:]
				if allZero(e[:16]) { // unused entry
					continue
				}
				if last := le64(e[40:]); last < 1<<48 {
					cs = append(cs, lengthClaim{int64(last+1) * ss, fmt.Sprintf("end of GPT partition %d", k+1), base + k*esize + 40})
				}
			}
		}
		break
	}

	// Each embedded squashfs found so far: its superblock's bytes_used.
	for _, c := range s.containers {
		e := c.entry[i]
		if e == nil || len(e.Extents) == 0 {
			continue
		}
		at := e.Extents[0].Offset
		if sb := readUpTo(r, size, at, 48); len(sb) == 48 && string(sb[:4]) == "hsqs" {
			if used := le64(sb[40:]); used < 1<<48 {
				cs = append(cs, lengthClaim{imageEnd(e.Extents, int64(used)), "bytes_used in the superblock of " + c.path, at + 40})
			}
		}
	}
	return cs
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// truncation returns the claim side i's file falls short of the most, or
// ok false when the file is as long as every claim (or longer: padding).
// A file that ends before its primary volume descriptor while the other
// image has one is truncated too: it then names that descriptor.
func (s *session) truncation(i int, claims [2][]lengthClaim) (c lengthClaim, ok bool) {
	size := s.in[i].Size
	for _, x := range claims[i] {
		if x.end > size && x.end > c.end {
			c, ok = x, true
		}
	}
	if ok {
		return c, true
	}
	pvd := int64(16 * iso9660.SectorSize)
	if size < pvd+iso9660.SectorSize && len(claims[i]) == 0 {
		for _, x := range claims[1-i] {
			if x.off >= pvd && x.off < pvd+maxClaimDescriptors*iso9660.SectorSize && strings.HasPrefix(x.structure, "volume space size") {
				return lengthClaim{end: -1, structure: "primary volume descriptor", off: x.off - 80}, true
			}
		}
	}
	return lengthClaim{}, false
}

// overclaim reports whether claim c of side i is the odd one out: the
// other image is no longer than side i and its own structure at the same
// offset says no more than its length. It returns what that one says.
func (s *session) overclaim(i int, c lengthClaim, claims [2][]lengthClaim) (int64, bool) {
	j := 1 - i
	if c.end <= 0 || s.in[j].Size > s.in[i].Size {
		return 0, false
	}
	for _, x := range claims[j] {
		if x.structure == c.structure && x.off == c.off && x.end <= s.in[j].Size {
			return x.end, true
		}
	}
	return 0, false
}

// sideLabel is "A" or "B".
func sideLabel(i int) string { return string(rune('A' + i)) }

// recordDamage records side i's truncation (claim c) in the report, with
// the structures the missing bytes held, and a note in the sizes stage.
func (s *session) recordDamage(st *report.Stage, i int, c lengthClaim, claims [2][]lengthClaim, comparison string) {
	size := s.in[i].Size
	d := report.Damage{Image: sideLabel(i), Path: s.in[i].Name, Kind: report.DamageTruncated, Structure: c.structure,
		Offset: c.off, Size: size, Comparison: comparison}
	if other, ok := s.overclaim(i, c, claims); ok {
		// The other image, no longer, agrees with its own length where this
		// one's structure says more: the field is damaged, not the file cut.
		d.Kind, d.Claimed, d.Comparison = report.DamageStructure, c.end, ""
		d.Message = fmt.Sprintf("its %s at offset %d says %s bytes, the file has %s (image %s's says %s): the field is damaged",
			c.structure, c.off, thousands(c.end), thousands(size), sideLabel(1-i), thousands(other))
		s.report.AddDamage(d)
		st.Notes = append(st.Notes, fmt.Sprintf("image %s (%s) is damaged: %s", d.Image, d.Path, d.Message))
		return
	}
	if c.end > 0 {
		d.Claimed = c.end
		d.Message = fmt.Sprintf("truncated at %s of %s bytes (%s at offset %d)", thousands(size), thousands(c.end), c.structure, c.off)
	} else {
		d.Message = fmt.Sprintf("truncated at %s bytes, before its %s at offset %d (image %s has one)", thousands(size), c.structure, c.off, sideLabel(1-i))
	}
	d.CutOff = s.cutOff(i, claims[i])
	s.report.AddDamage(d)
	note := fmt.Sprintf("image %s (%s) is damaged: %s", d.Image, d.Path, d.Message)
	if len(d.CutOff) > 0 {
		note += "; cut off: " + strings.Join(d.CutOff, ", ")
	}
	if d.Comparison != "" {
		note += "; " + d.Comparison
	}
	st.Notes = append(st.Notes, note)
}

// cutOff names the structures of truncated side i that lie past its end,
// wholly or in part: El Torito boot images, squashfs images, the backup GPT
// header, and partitions.
func (s *session) cutOff(i int, claims []lengthClaim) []string {
	size := s.in[i].Size
	var out []string
	if im, err := s.image(i); err == nil {
		if cat, err := im.BootCatalog(); err == nil {
			for e, entry := range cat.Entries {
				off := int64(entry.LoadRBA) * iso9660.SectorSize
				if bootImageCutAt(im, entry, size) {
					out = append(out, fmt.Sprintf("El Torito entry %d (%s) boot image at offset %d", e+1, iso9660.PlatformName(entry.PlatformID), off))
				}
			}
		}
	}
	for _, c := range s.containers {
		if e := c.entry[i]; e != nil && len(e.Extents) > 0 {
			x := e.Extents[len(e.Extents)-1]
			if x.Offset+x.Size > size {
				out = append(out, fmt.Sprintf("%s at offset %d", c.path, e.Extents[0].Offset))
			}
		}
	}
	for _, c := range claims {
		if c.end <= size {
			continue
		}
		switch {
		case strings.HasPrefix(c.structure, "backup header location"):
			out = append(out, fmt.Sprintf("backup GPT header at offset %d", c.end-gptSectorOf(c.off)))
		case strings.HasPrefix(c.structure, "end of "):
			out = append(out, strings.TrimPrefix(c.structure, "end of ")+fmt.Sprintf(" (ends at %d)", c.end))
		}
	}
	return out
}

// gptSectorOf is the sector size of the GPT whose header field is at off.
func gptSectorOf(off int64) int64 {
	if off >= 2048 {
		return 2048
	}
	return 512
}

// truncatedSide returns the size of side i when the sizes stage recorded
// it as truncated, else -1.
func (s *session) truncatedSize(i int) int64 {
	for _, d := range s.report.Damage {
		if d.Image == sideLabel(i) && d.Kind == report.DamageTruncated {
			return s.in[i].Size
		}
	}
	return -1
}

// pastEnd reports whether bytes [off, off+n) lie, wholly or in part, past
// the end of a side recorded as truncated: a difference there follows from
// the damage.
func (s *session) pastEnd(off, n int64) bool {
	for i := range s.in {
		if size := s.truncatedSize(i); size >= 0 && off+n > size {
			return true
		}
	}
	return false
}

// bootImageCut reports whether side i is truncated and the boot image of
// entry lies past its end, wholly or in part. Its length is not recorded
// for every kind of entry, and the image reader stops at the end of the
// file, so a boot image reaching exactly the end of a truncated file counts
// as cut off.
func (s *session) bootImageCut(i int, im *iso9660.Image, entry iso9660.BootEntry) bool {
	size := s.truncatedSize(i)
	return size >= 0 && bootImageCutAt(im, entry, size)
}

// bootImageCutAt reports whether entry's boot image reaches the end of an
// image of size bytes, or lies past it.
func bootImageCutAt(im *iso9660.Image, entry iso9660.BootEntry, size int64) bool {
	off := int64(entry.LoadRBA) * iso9660.SectorSize
	if off >= size {
		return true
	}
	sec, err := im.BootImage(entry)
	if err != nil {
		return errors.Is(err, iso9660.ErrTruncated)
	}
	return off+sec.Size() >= size
}

// damageNote is the explanation put on a finding that follows from the
// damage, so that every rendering says so next to it.
func (s *session) damageNote() string {
	var parts []string
	for _, d := range s.report.Damage {
		parts = append(parts, fmt.Sprintf("image %s (%s) is %s", d.Image, d.Path, d.Message))
	}
	return "(follows from the damage: " + strings.Join(parts, "; ") + ")"
}

// prefixHasher passes reads through and hashes the first n bytes of what
// it reads, when they are read in order from offset 0 (as a hashing pass
// does): the prefix of the longer image that the shorter should equal.
type prefixHasher struct {
	r     io.ReaderAt
	n     int64
	mu    sync.Mutex
	pos   int64
	h     hash.Hash
	order bool
}

func newPrefixHasher(r io.ReaderAt, n int64) *prefixHasher {
	return &prefixHasher{r: r, n: n, h: sha256.New(), order: true}
}

func (p *prefixHasher) ReadAt(b []byte, off int64) (int, error) {
	k, err := p.r.ReadAt(b, off)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pos < p.n {
		if off != p.pos {
			p.order = false
		} else if p.order {
			m := min(int64(k), p.n-off)
			p.h.Write(b[:m])
			p.pos += m
		}
	}
	return k, err
}

// sum returns the hex SHA-256 of the first n bytes, or "" when they were
// not all read in order.
func (p *prefixHasher) sum() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.order || p.pos != p.n {
		return ""
	}
	return hex.EncodeToString(p.h.Sum(nil))
}

// thousands renders n with comma separators: 2,097,152.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for k, c := range s {
		if k > 0 && (len(s)-k)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
