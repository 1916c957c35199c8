package seq

import (
	"errors"
	"io"
	"testing"
)

func walk(items []int, end error, stopped *int) func() (func() (int, error), func()) {
	return func() (func() (int, error), func()) {
		i := 0
		return func() (int, error) {
				if i == len(items) {
					return 0, end
				}
				i++
				return items[i-1], nil
			}, func() {
				*stopped++
			}
	}
}

func TestAll(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		end   error
		limit int // stop ranging after this many yields (0: never)
		want  []int
		err   error
	}{
		{"to the end", io.EOF, 0, []int{1, 2, 3}, nil},
		{"an error", boom, 0, []int{1, 2, 3, 0}, boom},
		{"broken off", io.EOF, 2, []int{1, 2}, nil},
	} {
		stopped := 0
		var got []int
		var gotErr error
		n := 0
		for e, err := range All(walk([]int{1, 2, 3}, c.end, &stopped)) {
			got = append(got, e)
			gotErr = err
			if n++; n == c.limit {
				break
			}
		}
		if len(got) != len(c.want) || gotErr != c.err {
			t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, gotErr, c.want, c.err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: got %v; want %v", c.name, got, c.want)
			}
		}
		if stopped != 1 {
			t.Errorf("%s: the walk was closed %d times", c.name, stopped)
		}
	}
}
