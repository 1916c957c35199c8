package erofsdiff

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/report"
)

// TestCancelAndBudget: a cancelled context ends the comparison with its
// error; a budget too small for the findings ends it with the refusal, and
// the comparer's buffers are given back either way.
func TestCancelAndBudget(t *testing.T) {
	needMkfs(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	liveTree(t, a)
	liveTree(t, b)
	for i := range 200 {
		// 200 files that differ: 200 content findings.
		name := filepath.Join("many", "f"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		for j, root := range []string{a, b} {
			p := filepath.Join(root, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte{byte(i), byte(j)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t, a)
	settle(t, b)
	ra := mkfs(t, a, a+".img", "-zlz4hc")
	rb := mkfs(t, b, b+".img", "-zlz4hc")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Compare(ctx, ra, rb, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	bud := budget.New(8 << 10)
	_, content, err := Compare(context.Background(), ra, rb, Options{Scope: report.ContainerScope("squashfs", "/erofs"), Budget: bud})
	var be *budget.ExceededError
	if !errors.As(err, &be) {
		t.Fatalf("small budget: %v (%d findings)", err, len(content.Findings))
	}
	if bud.Peak() > bud.Limit() {
		t.Errorf("peak %d over %d", bud.Peak(), bud.Limit())
	}

	bud = budget.New(64 << 20)
	_, content, err = Compare(context.Background(), ra, rb, Options{Scope: report.ContainerScope("squashfs", "/erofs"), Budget: bud})
	if err != nil || len(content.Findings) != 200 {
		t.Fatalf("%v, %d findings, want 200", err, len(content.Findings))
	}
}

// TestSameStored: with Options.SameStored vouching (exactly) for extents
// at one offset in both images, those are not read, and the result is the
// same.
func TestSameStored(t *testing.T) {
	needMkfs(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	liveTree(t, a)
	liveTree(t, b)
	p := filepath.Join(b, "usr/lib/big.bin")
	buf, _ := os.ReadFile(p)
	copy(buf[150000:], "CHANGED!")
	os.WriteFile(p, buf, 0o644)
	settle(t, a)
	settle(t, b)
	ra := mkfs(t, a, a+".img", "-zlz4hc")
	rb := mkfs(t, b, b+".img", "-zlz4hc")
	ia, _ := os.ReadFile(a + ".img")
	ib, _ := os.ReadFile(b + ".img")
	asked := 0
	same := func(off, n int64) bool {
		asked++
		return off+n <= int64(len(ia)) && off+n <= int64(len(ib)) && bytes.Equal(ia[off:off+n], ib[off:off+n])
	}
	_, plain, err := Compare(context.Background(), ra, rb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, known, err := Compare(context.Background(), ra, rb, Options{SameStored: same})
	if err != nil {
		t.Fatal(err)
	}
	if len(known.Findings) != 1 || len(plain.Findings) != 1 || known.Findings[0].Content.FirstDiff != plain.Findings[0].Content.FirstDiff || known.Findings[0].Content.FirstDiff != 150000 {
		t.Fatalf("findings %+v, without SameStored %+v", known.Findings, plain.Findings)
	}
	if known.KnownStored == 0 || asked == 0 || plain.KnownStored != 0 {
		t.Errorf("KnownStored %d (asked %d times), without %d", known.KnownStored, asked, plain.KnownStored)
	}
	t.Logf("%d stored bytes vouched for", known.KnownStored)
}
