package budget

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestChargeRelease(t *testing.T) {
	b := New(100)
	if err := b.Charge(60, "a", 1); err != nil {
		t.Fatal(err)
	}
	err := b.Charge(50, "xattr values", 4096)
	var ee *ExceededError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExceeded) {
		t.Fatalf("charge past the limit: %v", err)
	}
	if ee.Off != 4096 || ee.What != "xattr values" || ee.N != 50 || ee.Used != 60 {
		t.Fatalf("error fields: %+v", ee)
	}
	if b.Used() != 60 {
		t.Fatalf("refused charge was reserved: used %d", b.Used())
	}
	if b.Refused() != ee {
		t.Fatalf("first refusal not kept")
	}
	b.Release(60)
	if err := b.Charge(100, "b", 0); err != nil {
		t.Fatal(err)
	}
	if b.Peak() != 100 {
		t.Fatalf("peak %d", b.Peak())
	}
}

func TestNilUnlimited(t *testing.T) {
	var b *Budget
	if err := b.Charge(1<<62, "x", 0); err != nil {
		t.Fatal(err)
	}
	b.Release(5)
	h, err := b.Hold(10, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if FromContext(context.Background()) != nil {
		t.Fatal("empty context has a budget")
	}
	nb := New(0)
	if FromContext(NewContext(context.Background(), nb)) != nb || nb.Limit() != DefaultLimit {
		t.Fatal("context round trip or default limit")
	}
}

func TestConcurrentNeverOver(t *testing.T) {
	b := New(1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 {
				if b.Charge(7, "x", 0) == nil {
					if b.Used() > 1000 {
						t.Error("over the limit")
					}
					b.Release(7)
				}
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 || b.Peak() > 1000 {
		t.Fatalf("used %d peak %d", b.Used(), b.Peak())
	}
}

func TestHoldGrow(t *testing.T) {
	b := New(10)
	h, _ := b.Hold(4, "x", 0)
	if err := h.Grow(6, "y", 1); err != nil {
		t.Fatal(err)
	}
	if err := h.Grow(1, "z", 2); err == nil {
		t.Fatal("grow past limit accepted")
	}
	if h.Size() != 10 {
		t.Fatalf("size %d", h.Size())
	}
	h.Release()
	h.Release()
	if b.Used() != 0 {
		t.Fatalf("used %d", b.Used())
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 256 << 20: "256 MiB", 3 << 30: "3 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAttachReleasedWhenUnreachable(t *testing.T) {
	b := New(1 << 20)
	type owner struct{ data []byte }
	for i := range 64 {
		o := &owner{data: make([]byte, 64<<10)}
		// Each charge fits only if earlier owners' charges came back.
		if err := Attach(b, o, int64(len(o.data)), "owner", int64(i)); err != nil {
			t.Fatalf("owner %d: %v (used %d)", i, err, b.Used())
		}
	}
	kept := &owner{data: make([]byte, 1<<20)}
	if err := Attach(b, kept, 1<<20, "kept", 0); err != nil {
		t.Fatalf("after the others became unreachable: %v", err)
	}
	if err := Attach(b, &owner{}, 1, "one more", 7); !errors.Is(err, ErrExceeded) {
		t.Fatalf("charge past a live owner's: %v", err)
	}
	runtime.KeepAlive(kept)
	if b.Refused() == nil || b.Refused().Off != 7 {
		t.Fatalf("refusal not recorded: %+v", b.Refused())
	}
}

// An optional charge that does not fit is an error but not a refusal; one
// that fits is charged and given back with its owner, as Attach's.
func TestAttachOptional(t *testing.T) {
	b := New(1 << 20)
	type owner struct{ data []byte }
	big := &owner{}
	if err := AttachOptional(b, big, 2<<20, "cache", -1); !errors.Is(err, ErrExceeded) {
		t.Fatalf("2 MiB in a 1 MiB budget: %v", err)
	}
	if n, _ := b.Refusals(); n != 0 || b.Refused() != nil || b.Used() != 0 {
		t.Fatalf("refusals %d, first %v, used %d", n, b.Refused(), b.Used())
	}
	func() {
		o := &owner{data: make([]byte, 512<<10)}
		if err := AttachOptional(b, o, 512<<10, "cache", -1); err != nil {
			t.Fatal(err)
		}
		if b.Used() != 512<<10 {
			t.Fatalf("used %d", b.Used())
		}
	}()
	for range 100 {
		runtime.GC()
		if b.Used() == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the optional charge of an unreachable owner was not given back: used %d", b.Used())
}
