package iso9660

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"testing"
	"time"

	"github.com/isodiff/isodiff/budget"
)

// sharedAreaImage is the image of issue #10: n symlinks whose SL entry
// continues in one shared continuation area, which is full of SL entries
// and ends with a CE pointing back at itself. It returns the image and the
// area's offset.
func sharedAreaImage(n int) ([]byte, int64) {
	build := func(areaLBA uint32) *crafted {
		area := []byte{}
		for len(area)+252+28 <= SectorSize {
			area = append(area, slEntry(slContinue, byte(slContinue), string(bytes.Repeat([]byte{'a'}, 245)))...)
		}
		area = append(area, ceEntry(areaLBA, 0, uint32(len(area)+28))...)
		c := &crafted{blocks: [][]byte{area}}
		for i := 0; i < n; i++ {
			su := append(px(0o120777), slEntry(slContinue, byte(slContinue), "x")...)
			su = append(su, ceEntry(areaLBA, 0, uint32(len(area)))...)
			c.records = append(c.records, dirRecord([]byte(fmt.Sprintf("L%05d;1", i)), 0, 0, 0, su))
		}
		return c
	}
	lba := build(0).firstFreeBlock()
	return build(lba).bytes(), int64(lba) * SectorSize
}

// TestSharedContinuationArea: 5,000 records sharing one self-looping
// continuation area cost one reading of the area, not 5,000 times 64: the
// walk completes within a 16 MiB budget with a peak under 4 MiB, every
// link carries damage at the area's offset, and everything charged is
// given back. Before the fix this image (under 1 MB) held 64 KiB per link
// and allocated gigabytes.
func TestSharedContinuationArea(t *testing.T) {
	const n = 5000
	img, areaOff := sharedAreaImage(n)
	if len(img) >= 1<<20 {
		t.Fatalf("image of %d bytes", len(img))
	}
	b := budget.New(16 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	im, err := OpenOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	w := im.Walk()
	links, damaged := 0, 0
	for {
		e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		if e.Mode&fs.ModeSymlink != 0 && e.Link != "" {
			links++
		}
		var fe *FormatError
		if errors.As(e.Damage, &fe) {
			if fe.Off != areaOff {
				t.Errorf("%s: damage at offset %d, want the area's %d: %v", e.Path, fe.Off, areaOff, e.Damage)
			}
			damaged++
		}
		if len(e.Link) > 4096 {
			t.Fatalf("%s: link of %d bytes", e.Path, len(e.Link))
		}
	}
	runtime.ReadMemStats(&after)
	if links != n || damaged != n {
		t.Errorf("%d links, %d damaged, want %d each", links, damaged, n)
	}
	if b.Peak() > 4<<20 {
		t.Errorf("budget peak %s", budget.Size(b.Peak()))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("walk allocated %s", budget.Size(int64(alloc)))
	}
	im.Close()
	if b.Used() != 0 {
		t.Errorf("%d bytes still charged after the walk and Close", b.Used())
	}
	t.Logf("%d links: budget peak %s, %s allocated", links, budget.Size(b.Peak()), budget.Size(int64(after.TotalAlloc-before.TotalAlloc)))
}

// TestBudgetRefused: a budget too small for a directory's children stops
// the walk with a FormatError at a record's offset wrapping the budget's
// refusal, and gives everything back.
func TestBudgetRefused(t *testing.T) {
	img, _ := sharedAreaImage(2000)
	b := budget.New(256 << 10)
	im, err := OpenOptions(bytes.NewReader(img), int64(len(img)), Options{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	w := im.Walk()
	_, err = w.Next()
	var fe *FormatError
	if !errors.Is(err, budget.ErrExceeded) || !errors.As(err, &fe) || fe.Off < craftRootLBA*SectorSize {
		t.Fatalf("walk: %v, want a FormatError in the root directory wrapping budget.ErrExceeded", err)
	}
	im.Close()
	if b.Used() != 0 {
		t.Errorf("%d bytes still charged", b.Used())
	}
}

// slowReader delays every read, as a slow disk or network file does.
type slowReader struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// TestCancelWalk: 5,000 records each with its own continuation area, read
// through a reader that takes 2 ms a read (10 s for the directory): a
// cancelled context ends the walk within a second.
func TestCancelWalk(t *testing.T) {
	const n = 5000
	const areaLen = 16
	build := func(first uint32) *crafted {
		c := &crafted{}
		per := SectorSize / areaLen
		for i := 0; i < n; i++ {
			lba, off := first+uint32(i/per), uint32(i%per*areaLen)
			su := append(px(0o120777), ceEntry(lba, off, areaLen)...)
			c.records = append(c.records, dirRecord([]byte(fmt.Sprintf("L%05d;1", i)), 0, 0, 0, su))
		}
		for i := 0; i < (n+per-1)/per; i++ {
			blk := make([]byte, SectorSize)
			for j := 0; j < per; j++ {
				copy(blk[j*areaLen:], slEntry(0, byte(0), "target!"))
			}
			c.blocks = append(c.blocks, blk)
		}
		return c
	}
	img := build(build(0).firstFreeBlock()).bytes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	im, err := OpenOptions(slowReader{bytes.NewReader(img), 2 * time.Millisecond}, int64(len(img)), Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		w := im.Walk()
		for {
			_, err := w.Next()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("walk ended with %v, want context.Canceled", err)
		}
		t.Logf("walk ended %v after the cancellation", time.Since(start))
	case <-time.After(time.Second):
		t.Fatal("walk still running 1 s after the cancellation")
	}
}
