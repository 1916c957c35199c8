package treediff

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// TestUnifiedMatchesGNUDiff checks the streaming unified diff against
// `diff -u` on random sorted listings that differ by added and removed
// lines: both must print the same hunks.
func TestUnifiedMatchesGNUDiff(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Fatal("diff (diffutils) is required")
	}
	rng := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	for iter := 0; iter < 60; iter++ {
		universe := 20 + rng.Intn(200)
		var a, b []string
		for i := 0; i < universe; i++ {
			line := fmt.Sprintf("line%05d", i)
			r := rng.Intn(20)
			inA, inB := r != 0, r != 1
			if iter%3 == 0 { // denser changes
				inA, inB = r > 4, r%4 != 0
			}
			if inA {
				a = append(a, line)
			}
			if inB {
				b = append(b, line)
			}
		}
		u := Unified{NameA: "a", NameB: "b", Context: 1 + iter%4}
		rendered := 0
		i, j := 0, 0
		for i < len(a) || j < len(b) {
			switch {
			case j >= len(b) || (i < len(a) && a[i] < b[j]):
				u.Delete(a[i])
				i++
			case i >= len(a) || b[j] < a[i]:
				u.Insert(b[j])
				j++
			default:
				if iter%2 == 1 { // rendered only when shown
					line := a[i]
					u.EqualFunc(func() string { rendered++; return line })
				} else {
					u.Equal(a[i])
				}
				i++
				j++
			}
		}
		got := u.String()
		// Lines are rendered when shown, or while a hunk may still show
		// them (at most context+1 past its end).
		hunks := strings.Count(got, "\n@@ ")
		if shown := strings.Count(got, "\n "); iter%2 == 1 && rendered > shown+hunks*(u.ctx()+1) {
			t.Errorf("iteration %d: %d context lines rendered, %d shown in %d hunks", iter, rendered, shown, hunks)
		}
		pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(pa, []byte(join(a)), 0o644)
		os.WriteFile(pb, []byte(join(b)), 0o644)
		out, _ := exec.Command("diff", fmt.Sprintf("-U%d", u.ctx()), "--label", "a", "--label", "b", pa, pb).Output()
		if want := normalizeHunkHeaders(string(out)); normalizeHunkHeaders(got) != want {
			t.Fatalf("iteration %d (context %d):\n--- got\n%s\n--- diff -u\n%s", iter, u.ctx(), got, want)
		}
	}
}

func join(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// normalizeHunkHeaders rewrites "@@ -5 +5,2 @@" (GNU omits ",1") to the
// explicit form, so the two outputs compare on content.
func normalizeHunkHeaders(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "@@ ") {
			continue
		}
		var parts []string
		for _, f := range strings.Fields(l) {
			if (strings.HasPrefix(f, "-") || strings.HasPrefix(f, "+")) && !strings.Contains(f, ",") {
				f += ",1"
			}
			parts = append(parts, f)
		}
		lines[i] = strings.Join(parts, " ")
	}
	return strings.Join(lines, "\n")
}

func TestUnifiedEmpty(t *testing.T) {
	var u Unified
	for i := 0; i < 10; i++ {
		u.Equal("x")
	}
	if s := u.String(); s != "" {
		t.Fatalf("no change must give no diff, got %q", s)
	}
}

func TestUnifiedTruncates(t *testing.T) {
	u := Unified{MaxBytes: 200}
	for i := 0; i < 100; i++ {
		u.Insert(fmt.Sprintf("added line %d", i))
	}
	s := u.String()
	if len(s) > 300 || !strings.Contains(s, "truncated") {
		t.Fatalf("want a truncated diff under 300 bytes, got %d bytes:\n%s", len(s), s)
	}
	_ = sort.Strings
}

func TestPrefetch(t *testing.T) {
	i := 0
	next := func() (int, error) {
		if i == 1000 {
			return 0, fmt.Errorf("end")
		}
		i++
		return i, nil
	}
	get, stop := Prefetch(next, 16, nil)
	defer stop()
	for want := 1; want <= 1000; want++ {
		if got, err := get(); got != want || err != nil {
			t.Fatalf("got %d, %v; want %d", got, err, want)
		}
	}
	for range 2 {
		if _, err := get(); err == nil || err.Error() != "end" {
			t.Fatalf("after the end: %v, want the stream's error again", err)
		}
	}
	// Stopping early ends the goroutine even when nobody reads, and then
	// calls done, once, after its last next.
	var calls, closed atomic.Int32
	ended := make(chan struct{})
	get2, stop2 := Prefetch(func() (int, error) {
		if closed.Load() != 0 {
			t.Error("next called after done")
		}
		calls.Add(1)
		return 1, nil
	}, 4, func() {
		closed.Add(1)
		close(ended)
	})
	get2()
	stop2()
	stop2()
	<-ended
	if closed.Load() != 1 {
		t.Errorf("done called %d times", closed.Load())
	}
}
