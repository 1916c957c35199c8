package iso9660

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"
)

// Unit tests for RRIP forms the image writers at hand do not produce.

func entry(sig string, data ...byte) []byte {
	return append([]byte{sig[0], sig[1], byte(4 + len(data)), 1}, data...)
}

func decode(t *testing.T, im *Image, su []byte) *rrInfo {
	t.Helper()
	var info rrInfo
	if im.ctx == nil {
		im.ctx = context.Background()
	}
	damage, err := newSUSPReader(im, im.ctx).systemUse(su, 0, 0, info.add)
	if err != nil {
		t.Fatal(err)
	}
	if damage == nil {
		damage = info.finish()
	}
	info.damage = damage
	return &info
}

func TestTimestampForms(t *testing.T) {
	long := append([]byte("2023040506070899"), 4) // +01:00
	short := []byte{123, 4, 5, 6, 7, 8, 0}
	// creation (long), modify (long), access (long)
	su := entry("TF", append(append(append([]byte{tfCreation | tfModify | tfAccess | tfLongForm}, make([]byte, 17)...), long...), long...)...)
	info := decode(t, &Image{}, su)
	if want := time.Date(2023, 4, 5, 5, 7, 8, 990_000_000, time.UTC); !info.hasTF || !info.modify.Equal(want) {
		t.Errorf("long form: %v", info.modify)
	}
	// modify only, short form
	info = decode(t, &Image{}, entry("TF", append([]byte{tfModify}, short...)...))
	if want := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC); !info.modify.Equal(want) {
		t.Errorf("short form: %v", info.modify)
	}
	// no modify stamp
	info = decode(t, &Image{}, entry("TF", append([]byte{tfAttributes}, short...)...))
	if info.hasTF {
		t.Error("TF without a modify stamp set the time")
	}
	// truncated stamp: damage, not an error
	info = decode(t, &Image{}, entry("TF", tfModify|tfLongForm, 1, 2))
	if info.damage == nil {
		t.Error("no damage for a short TF")
	}
}

func TestSymlinkComponents(t *testing.T) {
	comp := func(flags byte, s string) []byte { return append([]byte{flags, byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name string
		su   []byte
		want string
	}{
		{"root", entry("SL", cat([]byte{0}, comp(slRoot, ""), comp(0, "usr"), comp(0, "bin"))...), "/usr/bin"},
		{"dots", entry("SL", cat([]byte{0}, comp(slParent, ""), comp(slCurrent, ""), comp(0, "x"))...), ".././x"},
		{"component continued across SL entries", cat(
			entry("SL", cat([]byte{slContinue}, comp(0, "a"), comp(slContinue, "bc"))...),
			entry("SL", cat([]byte{0}, comp(0, "de"), comp(0, "f"))...)), "a/bcde/f"},
		{"trailing slash-less empty", entry("SL", cat([]byte{0}, comp(0, "a"), comp(0, ""))...), "a/"},
	} {
		info := decode(t, &Image{}, c.su)
		if string(info.link) != c.want || info.damage != nil {
			t.Errorf("%s: %q (%v), want %q", c.name, info.link, info.damage, c.want)
		}
	}
}

func TestNameContinuation(t *testing.T) {
	su := append(entry("NM", append([]byte{nmContinue}, "long-"...)...), entry("NM", append([]byte{0}, "name"...)...)...)
	su = append(su, entry("NM", append([]byte{0}, "ignored"...)...)...)
	if info := decode(t, &Image{}, su); string(info.name) != "long-name" {
		t.Errorf("%q", info.name)
	}
}

// TestContinuationLimits: a CE chain that loops on itself stops after
// maxContinuations areas with damage; a CE pointing past the image is damage.
func TestContinuationLimits(t *testing.T) {
	img := make([]byte, 20*SectorSize)
	ce := func(lba, off, n uint32) []byte {
		d := make([]byte, 24)
		for i, v := range []uint32{lba, off, n} {
			binary.LittleEndian.PutUint32(d[8*i:], v)
			binary.BigEndian.PutUint32(d[8*i+4:], v)
		}
		return entry("CE", d...)
	}
	// block 19 holds a CE pointing to itself, after an NM.
	loop := append(entry("NM", append([]byte{nmContinue}, "x"...)...), ce(19, 0, 34)...)
	if len(loop) != 34 {
		t.Fatal(len(loop))
	}
	copy(img[19*SectorSize:], loop)
	im := &Image{r: bytes.NewReader(img), size: int64(len(img))}
	info := decode(t, im, ce(19, 0, uint32(len(loop))))
	if info.damage == nil || len(info.name) == 0 || len(info.name) > maxContinuations+1 {
		t.Errorf("loop: damage %v, name %d bytes", info.damage, len(info.name))
	}
	info = decode(t, im, ce(1000, 0, 100))
	if info.damage == nil {
		t.Error("CE past the end: no damage")
	}
}
