package explain

// Linear-space Myers diff over interned lines (see the package doc for why
// not go-difflib).

// editKind is one step of an edit script.
type editKind byte

const (
	editEqual  editKind = '='
	editDelete editKind = '-'
	editInsert editKind = '+'
)

// edit is a run of n lines of one kind.
type edit struct {
	kind editKind
	n    int
}

// differ computes an edit script from a to b with a work budget: past it,
// remaining regions are replaced wholesale.
type differ struct {
	a, b    []int
	budget  int
	costly  bool // the budget ran out somewhere
	edits   []edit
	v1, v2  []int
	maxUsed int
	// stop, when set, is asked every stopEvery steps whether to give up
	// (cancellation): then the rest is replaced wholesale, as when the
	// budget runs out.
	stop      func() bool
	nextCheck int
	stopped   bool
}

// stopEvery is how many steps of the search pass between two calls of
// differ.stop: well under a millisecond of work.
const stopEvery = 1 << 16

// spent reports whether the search must end: its budget ran out or stop
// said so (asked every stopEvery steps).
func (d *differ) spent() bool {
	if d.budget <= 0 || d.stopped {
		return true
	}
	if d.stop != nil && d.budget <= d.nextCheck {
		d.nextCheck = d.budget - stopEvery
		if d.stop() {
			d.stopped = true
			return true
		}
	}
	return false
}

func (d *differ) emit(k editKind, n int) {
	if n == 0 {
		return
	}
	if l := len(d.edits); l > 0 && d.edits[l-1].kind == k {
		d.edits[l-1].n += n
		return
	}
	d.edits = append(d.edits, edit{k, n})
}

// myers returns the edit script turning a into b. budget bounds the work
// (number of diagonal steps); 0 means 50 million.
//
// stop, when not nil, is asked every few thousand steps whether to give up
// (the result is then still a correct script, not minimal).
func myers(a, b []int, budget int, stop func() bool) ([]edit, bool) {
	if budget <= 0 {
		budget = 50_000_000
	}
	d := &differ{a: a, b: b, budget: budget, stop: stop, nextCheck: budget - stopEvery}
	n := len(a) + len(b) + 4 // 2*maxD+2 <= n+m+3
	d.v1, d.v2 = make([]int, n), make([]int, n)
	d.compare(0, len(a), 0, len(b))
	return d.edits, d.costly
}

func (d *differ) compare(aLo, aHi, bLo, bHi int) {
	// Common prefix and suffix.
	p := 0
	for aLo+p < aHi && bLo+p < bHi && d.a[aLo+p] == d.b[bLo+p] {
		p++
	}
	d.emit(editEqual, p)
	aLo, bLo = aLo+p, bLo+p
	s := 0
	for aHi-s > aLo && bHi-s > bLo && d.a[aHi-1-s] == d.b[bHi-1-s] {
		s++
	}
	aHi, bHi = aHi-s, bHi-s
	switch {
	case aLo == aHi:
		d.emit(editInsert, bHi-bLo)
	case bLo == bHi:
		d.emit(editDelete, aHi-aLo)
	default:
		x, y, ok := d.bisect(aLo, aHi, bLo, bHi)
		if !ok || (x == aLo && y == bLo) || (x == aHi && y == bHi) {
			d.emit(editDelete, aHi-aLo)
			d.emit(editInsert, bHi-bLo)
		} else {
			d.compare(aLo, x, bLo, y)
			d.compare(x, aHi, y, bHi)
		}
	}
	d.emit(editEqual, s)
}

// bisect finds the middle snake of a[aLo:aHi] and b[bLo:bHi], searching
// forward and backward at once, and returns the point to split at. It
// returns ok false when the sides have nothing in common or the budget is
// spent.
func (d *differ) bisect(aLo, aHi, bLo, bHi int) (int, int, bool) {
	a, b := d.a[aLo:aHi], d.b[bLo:bHi]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off := maxD
	size := 2 * maxD
	if size+2 > len(d.v1) {
		return 0, 0, false
	}
	v1, v2 := d.v1[:size+2], d.v2[:size+2]
	for i := range v1 {
		v1[i], v2[i] = -1, -1
	}
	v1[off+1], v2[off+1] = 0, 0
	delta := n - m
	front := delta%2 != 0
	k1start, k1end, k2start, k2end := 0, 0, 0, 0
	for D := 0; D < maxD; D++ {
		if d.spent() {
			d.costly = true
			return 0, 0, false
		}
		for k1 := -D + k1start; k1 <= D-k1end; k1 += 2 {
			d.budget--
			k1o := off + k1
			var x1 int
			if k1 == -D || (k1 != D && v1[k1o-1] < v1[k1o+1]) {
				x1 = v1[k1o+1]
			} else {
				x1 = v1[k1o-1] + 1
			}
			y1 := x1 - k1
			for x1 < n && y1 < m && a[x1] == b[y1] {
				x1++
				y1++
				d.budget--
			}
			if d.budget <= d.nextCheck && d.spent() {
				d.costly = true
				return 0, 0, false
			}
			v1[k1o] = x1
			switch {
			case x1 > n:
				k1end += 2
			case y1 > m:
				k1start += 2
			case front:
				k2o := off + delta - k1
				if k2o >= 0 && k2o < size && v2[k2o] != -1 {
					if x1 >= n-v2[k2o] {
						return aLo + x1, bLo + y1, true
					}
				}
			}
		}
		for k2 := -D + k2start; k2 <= D-k2end; k2 += 2 {
			d.budget--
			k2o := off + k2
			var x2 int
			if k2 == -D || (k2 != D && v2[k2o-1] < v2[k2o+1]) {
				x2 = v2[k2o+1]
			} else {
				x2 = v2[k2o-1] + 1
			}
			y2 := x2 - k2
			for x2 < n && y2 < m && a[n-x2-1] == b[m-y2-1] {
				x2++
				y2++
				d.budget--
			}
			if d.budget <= d.nextCheck && d.spent() {
				d.costly = true
				return 0, 0, false
			}
			v2[k2o] = x2
			switch {
			case x2 > n:
				k2end += 2
			case y2 > m:
				k2start += 2
			case !front:
				k1o := off + delta - k2
				if k1o >= 0 && k1o < size && v1[k1o] != -1 {
					x1 := v1[k1o]
					y1 := off + x1 - k1o
					if x1 >= n-x2 {
						return aLo + x1, bLo + y1, true
					}
				}
			}
		}
	}
	return 0, 0, false
}
