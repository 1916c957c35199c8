package parttable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/isodiff/isodiff/budget"
)

// gptImage builds an image of size bytes whose GPT (512-byte sectors,
// header at LBA 1, entries from LBA 2, backup header in the last sector
// sharing the primary's array) has n entries of 128 bytes, the first used
// of them typed "Linux filesystem".
func gptImage(size int64, n, used int) []byte {
	b := make([]byte, size)
	last := uint64(size/512) - 1
	arr := b[1024 : 1024+n*128]
	typ := []byte{0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4}
	for i := 0; i < used; i++ {
		e := arr[i*128:]
		copy(e, typ)
		e[16] = byte(i)
		binary.LittleEndian.PutUint64(e[32:], uint64(100+i))
		binary.LittleEndian.PutUint64(e[40:], uint64(100+i))
		copy(e[56:], []byte{'p', 0, 'a', 0, 'r', 0, 't', 0})
	}
	header := func(at, current, backup uint64) {
		h := b[at*512:]
		copy(h, "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x10000)
		binary.LittleEndian.PutUint32(h[12:], 92)
		binary.LittleEndian.PutUint64(h[24:], current)
		binary.LittleEndian.PutUint64(h[32:], backup)
		binary.LittleEndian.PutUint64(h[40:], 2+uint64(n*128/512))
		binary.LittleEndian.PutUint64(h[48:], last-1)
		binary.LittleEndian.PutUint64(h[72:], 2)
		binary.LittleEndian.PutUint32(h[80:], uint32(n))
		binary.LittleEndian.PutUint32(h[84:], 128)
		binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(arr))
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
	}
	header(1, 1, last)
	header(last, last, 1)
	return b
}

// TestGPTEntriesStreamed: an entry array of 896 KiB of unused entries
// (read twice, for the primary and the backup header) is read in chunks,
// not held: under 512 KiB is allocated, where holding it took 1.75 MiB.
func TestGPTEntriesStreamed(t *testing.T) {
	const n = 7168 // 896 KiB of entries
	img := gptImage(960<<10, n, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g, err := ReadGPT(bytes.NewReader(img), int64(len(img)))
	runtime.ReadMemStats(&after)
	if err != nil || g == nil || !g.Primary.EntriesCRCOK || g.Backup == nil || !g.Backup.EntriesCRCOK || len(g.Partitions) != 0 {
		t.Fatalf("%+v, %v", g, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<10 {
		t.Errorf("reading the GPT allocated %s", budget.Size(int64(alloc)))
	}
}

// TestGPTBudget: the used entries are charged while the GPT holds them and
// given back by Release; a budget too small for them is a FormatError at
// an entry's offset wrapping the refusal; a cancelled context stops the
// reading of the array.
func TestGPTBudget(t *testing.T) {
	img := gptImage(512<<10, 2048, 1000)
	b := budget.New(1 << 20)
	g, err := ReadGPTOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: b})
	if err != nil || len(g.Partitions) != 1000 || g.Partitions[999].Index != 1000 || g.Partitions[0].Name != "part" {
		t.Fatalf("%v, %d partitions", err, len(g.Partitions))
	}
	if b.Used() != 1000*partitionCost {
		t.Errorf("%d bytes held for 1000 partitions", b.Used())
	}
	g.Release()
	if b.Used() != 0 {
		t.Errorf("%d bytes held after Release", b.Used())
	}

	small := budget.New(100 * partitionCost)
	_, err = ReadGPTOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: small})
	var fe *FormatError
	if !errors.Is(err, budget.ErrExceeded) || !errors.As(err, &fe) || fe.Off < 1024 || fe.Off >= 1024+2048*128 {
		t.Errorf("small budget: %v, want a FormatError in the entry array wrapping budget.ErrExceeded", err)
	}
	if small.Used() != 0 {
		t.Errorf("%d bytes held after a refused charge", small.Used())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadGPTOptions(bytes.NewReader(img), int64(len(img)), Options{Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
