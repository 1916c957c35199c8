package parttable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"testing"
)

func readImage(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNoTables(t *testing.T) {
	zero := make([]byte, 64<<10)
	if _, err := ParseMBR(zero); !errors.Is(err, ErrNoMBR) {
		t.Errorf("ParseMBR(zeros) = %v", err)
	}
	if _, err := ParseMBR(zero[:100]); !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseMBR(short) = %v", err)
	}
	g, err := ReadGPT(bytes.NewReader(zero), int64(len(zero)))
	if g != nil || err != nil {
		t.Errorf("ReadGPT(zeros) = %v, %v", g, err)
	}
}

func TestCHS(t *testing.T) {
	// cylinder 1023 (high bits 0b11 in the sector byte), head 254, sector 63
	c := decodeCHS([]byte{0xFE, 0xFF, 0xFF})
	if c != (CHS{Cylinder: 1023, Head: 254, Sector: 63}) || c.String() != "1023/254/63" {
		t.Errorf("%+v", c)
	}
}

// TestGPTDamage corrupts a real xorriso GPT: a flipped entry byte fails only
// the entry CRC, a flipped header byte only the header CRC; an entry array
// pointing past the end, or an absurd entry size, is a FormatError; a
// truncated image loses the backup header.
func TestGPTDamage(t *testing.T) {
	orig := readImage(t, hybridImage(t))
	read := func(b []byte) (*GPT, error) { return ReadGPT(bytes.NewReader(b), int64(len(b))) }

	b := bytes.Clone(orig)
	b[1024+56] ^= 1 // first entry's name
	g, err := read(b)
	if err != nil || !g.Primary.HeaderCRCOK || g.Primary.EntriesCRCOK || !g.Backup.EntriesCRCOK {
		t.Errorf("entry damage: %v %+v", err, g)
	}

	b = bytes.Clone(orig)
	b[512+48] ^= 1 // last usable LBA
	g, err = read(b)
	if err != nil || g.Primary.HeaderCRCOK || !g.Primary.EntriesCRCOK {
		t.Errorf("header damage: %v %+v", err, g)
	}

	for name, patch := range map[string]func(h []byte){
		"entries past end": func(h []byte) { binary.LittleEndian.PutUint64(h[72:], 1<<40) },
		"entry size":       func(h []byte) { binary.LittleEndian.PutUint32(h[84:], 7) },
		"entry count":      func(h []byte) { binary.LittleEndian.PutUint32(h[80:], 1<<30) },
	} {
		b = bytes.Clone(orig)
		patch(b[512:])
		var fe *FormatError
		if _, err := read(b); !errors.As(err, &fe) {
			t.Errorf("%s: err %v", name, err)
		}
	}

	g, err = read(orig[:len(orig)-2048])
	if err != nil || g.Backup != nil {
		t.Errorf("truncated: %v, backup %+v", err, g.Backup)
	}
}

// TestGPT2048 moves a real GPT to 2048-byte sectors (header at byte 2048,
// entries at LBA 2 = byte 4096), as on optical media: ReadGPT must find it
// on the second probe.
func TestGPT2048(t *testing.T) {
	orig := readImage(t, hybridImage(t))
	b := make([]byte, len(orig))
	copy(b[2048:2048+512], orig[512:1024])
	n := 248 * 128
	copy(b[4096:4096+n], orig[1024:1024+n])
	h := b[2048:]
	binary.LittleEndian.PutUint64(h[32:], 0) // no backup
	clear(h[16:20])
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	g, err := ReadGPT(bytes.NewReader(b), int64(len(b)))
	if err != nil || g == nil {
		t.Fatalf("%v %v", g, err)
	}
	if g.SectorSize != 2048 || !g.Primary.HeaderCRCOK || !g.Primary.EntriesCRCOK || len(g.Partitions) != 2 || g.Backup != nil {
		t.Errorf("%+v", g)
	}
}
