package erofsdiff

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/internal/budget"
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
	_, content, err := Compare(context.Background(), ra, rb, Options{Scope: "erofs", Budget: bud})
	var be *budget.ExceededError
	if !errors.As(err, &be) {
		t.Fatalf("small budget: %v (%d findings)", err, len(content.Findings))
	}
	if bud.Peak() > bud.Limit() {
		t.Errorf("peak %d over %d", bud.Peak(), bud.Limit())
	}

	bud = budget.New(64 << 20)
	_, content, err = Compare(context.Background(), ra, rb, Options{Scope: "erofs", Budget: bud})
	if err != nil || len(content.Findings) != 200 {
		t.Fatalf("%v, %d findings, want 200", err, len(content.Findings))
	}
}
