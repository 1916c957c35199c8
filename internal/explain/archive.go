package explain

import (
	"crypto/sha256"
	"fmt"
	"github.com/isodiff/isodiff/budget"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// member is one entry of an archive (tar, cpio, ar, zip, FAT directory
// tree), with its metadata as ordered named fields and the hash of its
// content.
type member struct {
	name   string
	fields []mfield
	size   int64
	sum    [32]byte
	hashed bool
	key    string // name, with "#k" for its k-th repetition
	off    int64  // where its header is in the archive (or its stream), -1 if not known
	// dataKey, when set, says where the content lies: members of one
	// listing with the same dataKey are hashed once (a crafted zip can
	// point every entry at one member).
	dataKey string
}

// cost is about what a listed member holds: its texts (each bounded, see
// bounded) and the overhead of the member, its fields and map entries.
func (m *member) cost() int64 {
	n := int64(memberOverhead + 2*len(m.name))
	for _, f := range m.fields {
		n += int64(fieldOverhead + len(f.name) + len(f.value))
	}
	return n
}

const (
	memberOverhead = 256
	fieldOverhead  = 48
)

// keyer names the members of one walk as listings do: the name, with "#k"
// for its k-th repetition. Its map is charged to the budget.
type keyer struct {
	ex   *explainer
	seen map[string]int
	hold budget.Hold
}

func (ex *explainer) newKeyer() *keyer {
	return &keyer{ex: ex, seen: map[string]int{}, hold: ex.newHold()}
}

func (k *keyer) key(m *member, format string) (string, error) {
	n := k.seen[m.name] + 1
	if n == 1 {
		if err := k.ex.grow(&k.hold, int64(64+len(m.name)), format+" member names", m.off); err != nil {
			return "", err
		}
	}
	k.seen[m.name] = n
	if n > 1 {
		return fmt.Sprintf("%s#%d", m.name, n), nil
	}
	return m.name, nil
}

func (k *keyer) release() { k.hold.Release() }

type mfield struct{ name, value string }

func (m *member) add(name, value string) { m.fields = append(m.fields, mfield{name, value}) }

func (m *member) field(name string) (string, bool) {
	for _, f := range m.fields {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// memberIter walks an archive's members in archive order. The body reader
// Next returns is valid until the next call.
type memberIter interface {
	Next() (*member, io.Reader, error)
	Close() error
}

// archiveKind is one archive format for the shared listing comparison.
type archiveKind struct {
	format string
	open   func(ex *explainer, n *node) (memberIter, error)
	// variant refines the format from the listing (jar for a zip with a
	// manifest, deb for an ar starting with debian-binary).
	variant func(ms []*member) string
	// hint names the cause of a difference in "times", "users" or "order"
	// for a variant, or "" when none fits.
	hint func(variant, what string) string
}

// listing is one side's members.
type listing struct {
	members   []*member
	byKey     map[string]*member
	truncated bool  // stopped at MaxMembers
	err       error // the walk stopped early
	hold      budget.Hold
}

// release gives back what the listing was charged; it is dropped.
func (l *listing) release() {
	if l != nil {
		l.hold.Release()
	}
}

// list walks an archive and hashes each member's content. Each member is
// charged to the budget (released with the listing); a refused charge
// ends the listing there, with the refusal as its error.
func (ex *explainer) list(kind *archiveKind, n *node) (*listing, error) {
	it, err := kind.open(ex, n)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	l := &listing{byKey: map[string]*member{}, hold: ex.newHold()}
	keys := ex.newKeyer()
	defer keys.release()
	hashed := map[string][32]byte{}
	copyBuf := make([]byte, 32<<10) // one for the listing, not one per member
	for {
		if len(l.members) >= ex.o.MaxMembers {
			l.truncated = true
			break
		}
		if err := ex.stop(); err != nil {
			l.err = err
			break
		}
		m, body, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(l.members) == 0 && ex.stop() == nil {
				l.release()
				return nil, err
			}
			l.err = err
			break
		}
		if m.key, err = keys.key(m, kind.format); err != nil {
			l.err = err
			break
		}
		if err := ex.grow(&l.hold, m.cost(), kind.format+" member listing", m.off); err != nil {
			l.err = err
			break
		}
		if body != nil && m.dataKey != "" {
			if sum, ok := hashed[m.dataKey]; ok {
				m.sum, m.hashed, body = sum, true, nil
			}
		}
		if body != nil {
			h := sha256.New()
			if _, err := io.CopyBuffer(h, body, copyBuf); err != nil {
				l.err = fmt.Errorf("%s: %w", m.name, err)
				l.members = append(l.members, m)
				l.byKey[m.key] = m
				break
			}
			copy(m.sum[:], h.Sum(nil))
			m.hashed = true
			if m.dataKey != "" {
				if err := ex.grow(&l.hold, int64(64+len(m.dataKey)), kind.format+" member data index", m.off); err != nil {
					l.err = err
					break
				}
				hashed[m.dataKey] = m.sum
			}
		}
		l.members = append(l.members, m)
		l.byKey[m.key] = m
	}
	return l, nil
}

// memberNode is the node of one member's content, found by walking the
// archive again.
func (ex *explainer) memberNode(kind *archiveKind, parent *node, m *member) *node {
	return &node{name: m.name, size: m.size, open: func() (io.ReadCloser, error) {
		it, err := kind.open(ex, parent)
		if err != nil {
			return nil, err
		}
		keys := ex.newKeyer()
		defer keys.release()
		for {
			x, body, err := it.Next()
			if err != nil {
				it.Close()
				if err == io.EOF {
					err = fmt.Errorf("member %s not found again", m.key)
				}
				return nil, err
			}
			key, err := keys.key(x, kind.format)
			if err != nil {
				it.Close()
				return nil, err
			}
			if key == m.key {
				if body == nil {
					body = strings.NewReader("")
				}
				return &multiCloser{Reader: body, closers: []func() error{it.Close}}, nil
			}
		}
	}}
}

// extractMembers copies the wanted members' contents into spool files
// (generated names in the private directory), in one walk, within
// MaxSpoolBytes in all; members past that are left to memberNode.
func (ex *explainer) extractMembers(kind *archiveKind, n *node, want map[string]bool) map[string]*spoolFile {
	out := map[string]*spoolFile{}
	it, err := kind.open(ex, n)
	if err != nil {
		return out
	}
	defer it.Close()
	keys := ex.newKeyer()
	defer keys.release()
	var total int64
	for len(out) < len(want) {
		m, body, err := it.Next()
		if err != nil {
			break
		}
		key, err := keys.key(m, kind.format)
		if err != nil {
			break
		}
		left := min(ex.o.MaxSpoolBytes-total, ex.spoolLeft())
		if !want[key] || body == nil || m.size > left {
			continue
		}
		f, err := os.CreateTemp(ex.dir, "member-*")
		if err != nil {
			break
		}
		ex.addSpooled(f)
		k, err := io.Copy(f, &capReader{r: body, max: left, what: "extracted members"})
		total += k
		ex.spooledBytes.Add(k)
		if err != nil {
			break
		}
		out[key] = &spoolFile{r: f, size: k, ex: ex}
	}
	return out
}

// fieldChange is one differing metadata field of a member.
type fieldChange struct{ name, a, b string }

// archive explains two archives of one kind: the listing, then each
// differing member's content, recursively.
func (ex *explainer) archive(kind *archiveKind, a, b *node, depth int) Result {
	la, err := ex.list(kind, a)
	if err != nil {
		return ex.fallback(kind.format, a, b, err)
	}
	defer la.release()
	lb, err := ex.list(kind, b)
	if err != nil {
		return ex.fallback(kind.format, a, b, err)
	}
	defer lb.release()
	r, differs := ex.compareListings(kind, a, b, la, lb, depth)
	if differs {
		return r
	}
	if la.err != nil || lb.err != nil || la.truncated || lb.truncated {
		r.Summary = r.Format + ": no difference in the members read"
		return r
	}
	// Same members, same metadata: the difference is in bytes this
	// comparison does not model (header encodings, padding).
	c := ex.hexdiff(a, b)
	c.Name = "archive bytes"
	r.Summary = fmt.Sprintf("%s: same %s and metadata; archive bytes differ (%s)", r.Format, plural(len(la.members), "member"), c.Summary)
	r.Children = append(r.Children, c)
	r.hint(hintArchiveStructure)
	return r
}

// compareListings compares two archives' listings and explains each
// differing member; differs is false when nothing differs.
func (ex *explainer) compareListings(kind *archiveKind, a, b *node, la, lb *listing, depth int) (Result, bool) {
	variant := kind.format
	if kind.variant != nil {
		variant = kind.variant(la.members)
	}
	r := Result{Format: variant}
	complete := true
	var d strings.Builder
	for i, l := range []*listing{la, lb} {
		if l.truncated {
			fmt.Fprintf(&d, "listing of %s stopped at %d members (limit)\n", "ab"[i:i+1], ex.o.MaxMembers)
			complete = false
		}
		if l.err != nil {
			fmt.Fprintf(&d, "listing of %s stopped after %d members: %v\n", "ab"[i:i+1], len(l.members), l.err)
			complete = false
		}
	}

	// Members only on one side.
	var onlyA, onlyB []string
	for _, m := range la.members {
		if lb.byKey[m.key] == nil {
			onlyA = append(onlyA, m.key)
		}
	}
	for _, m := range lb.members {
		if la.byKey[m.key] == nil {
			onlyB = append(onlyB, m.key)
		}
	}
	listNames := func(label string, names []string) {
		if len(names) == 0 {
			return
		}
		shown := names
		if len(shown) > 20 {
			shown = shown[:20]
		}
		fmt.Fprintf(&d, "only in %s (%d): %s", label, len(names), strings.Join(shown, ", "))
		if len(names) > len(shown) {
			fmt.Fprintf(&d, ", ...")
		}
		d.WriteString("\n")
	}
	listNames("a", onlyA)
	listNames("b", onlyB)

	// Order of the common members.
	var orderA, orderB []string
	for _, m := range la.members {
		if lb.byKey[m.key] != nil {
			orderA = append(orderA, m.key)
		}
	}
	for _, m := range lb.members {
		if la.byKey[m.key] != nil {
			orderB = append(orderB, m.key)
		}
	}
	orderDiffers := false
	for i := range orderA {
		if orderA[i] != orderB[i] {
			orderDiffers = true
			fmt.Fprintf(&d, "member order differs from position %d: a has %s, b has %s\n", i+1, orderA[i], orderB[i])
			break
		}
	}

	// Metadata and content of the common members. Only the lines shown
	// are kept (the rest counted), and each hint once.
	const shownLines = 40
	fieldCount := map[string]int{}
	var fieldOrder []string
	var changedLines []string
	changed := 0
	var contentDiff []*member
	var hints []string
	hinted := map[string]bool{}
	for i, ka := range orderA {
		if i%1024 == 1023 && ex.stop() != nil {
			complete = false
			break
		}
		ma, mb := la.byKey[ka], lb.byKey[ka]
		changes := compareFields(ma, mb)
		var parts []string
		for _, c := range changes {
			if fieldCount[c.name] == 0 {
				fieldOrder = append(fieldOrder, c.name)
			}
			fieldCount[c.name]++
			if len(changedLines) < shownLines {
				parts = append(parts, fmt.Sprintf("%s %s -> %s", c.name, c.a, c.b))
			}
			for _, h := range fieldHint(kind, variant, c) {
				if !hinted[h] {
					hinted[h] = true
					hints = append(hints, h)
				}
			}
		}
		if len(changes) > 0 {
			changed++
			if len(changedLines) < shownLines {
				changedLines = append(changedLines, ka+": "+strings.Join(parts, ", "))
			}
		}
		if ma.hashed && mb.hashed && ma.sum != mb.sum {
			contentDiff = append(contentDiff, ma)
		}
	}
	if changed > 0 {
		fmt.Fprintf(&d, "metadata differs in %s:\n", plural(changed, "member"))
		for _, l := range changedLines {
			fmt.Fprintf(&d, "  %s\n", l)
		}
		if changed > len(changedLines) {
			fmt.Fprintf(&d, "  ... and %d more\n", changed-len(changedLines))
		}
	}
	if orderDiffers {
		hints = append(hints, kind.hint(variant, "order"))
	}

	// Recurse into differing contents. Members of a streamed archive are
	// copied out in one pass per side first, so that each is not found by
	// walking (and decompressing) the archive again for every read.
	var extA, extB map[string]*spoolFile
	if a.at == nil && len(contentDiff) > 0 {
		want := map[string]bool{}
		for i, m := range contentDiff {
			if i < ex.o.MaxChildren {
				want[m.key] = true
			}
		}
		extA = ex.extractMembers(kind, a, want)
		extB = ex.extractMembers(kind, b, want)
	}
	explained := map[[2][32]byte]int{}
	for i, m := range contentDiff {
		if i >= ex.o.MaxChildren {
			var rest []string
			for _, x := range contentDiff[i:min(i+20, len(contentDiff))] {
				rest = append(rest, x.key)
			}
			fmt.Fprintf(&d, "content also differs in %d member(s) not explained (limit): %s\n", len(contentDiff)-i, strings.Join(rest, ", "))
			complete = false
			break
		}
		if ex.stop() != nil {
			complete = false
			break
		}
		mb := lb.byKey[m.key]
		// Members with the same contents as an earlier pair have the same
		// explanation: a crafted archive can repeat one pair many times.
		pairSum := [2][32]byte{m.sum, mb.sum}
		if j, ok := explained[pairSum]; ok {
			c := r.Children[j]
			c.Name = m.key
			c.Summary = "same contents as " + r.Children[j].Name + ": " + c.Summary
			c.Details, c.Children = "", nil
			if !c.Complete {
				complete = false
			}
			r.Children = append(r.Children, c)
			continue
		}
		explained[pairSum] = len(r.Children)
		na, nb := ex.memberNode(kind, a, m), ex.memberNode(kind, b, mb)
		if f := extA[m.key]; f != nil {
			na = sectionNode(m.name, f, 0, f.size)
		}
		if f := extB[m.key]; f != nil {
			nb = sectionNode(mb.name, f, 0, f.size)
		}
		c := ex.explain(na, nb, depth+1)
		c.Name = m.key
		if !c.Complete {
			complete = false
		}
		r.Children = append(r.Children, c)
	}

	// The extracted members were for these comparisons only.
	for _, ext := range []map[string]*spoolFile{extA, extB} {
		for _, f := range ext {
			f.drop()
		}
	}

	// The summary.
	var parts []string
	if len(contentDiff) == 1 {
		parts = append(parts, "content of "+contentDiff[0].key+" differs: "+r.Children[0].Summary)
	} else if len(contentDiff) > 1 {
		var names []string
		for _, m := range contentDiff[:min(len(contentDiff), 3)] {
			names = append(names, m.key)
		}
		if len(contentDiff) > 3 {
			names = append(names, fmt.Sprintf("(+%d)", len(contentDiff)-3))
		}
		parts = append(parts, fmt.Sprintf("content differs in %s (%s)", plural(len(contentDiff), "member"), strings.Join(names, ", ")))
	}
	if len(fieldOrder) > 0 {
		var fs []string
		for _, f := range fieldOrder {
			fs = append(fs, fmt.Sprintf("%s of %d", f, fieldCount[f]))
		}
		parts = append(parts, "metadata differs: "+strings.Join(fs, ", "))
	}
	if orderDiffers {
		parts = append(parts, "member order differs")
	}
	if len(onlyA)+len(onlyB) > 0 {
		parts = append(parts, fmt.Sprintf("%d only in a, %d only in b", len(onlyA), len(onlyB)))
		complete = false
	}
	r.Details = d.String()
	if len(parts) == 0 {
		return r, false
	}
	r.Summary = variant + ": " + strings.Join(parts, "; ")
	r.hint(dedupe(hints)...)
	r.Complete = complete
	return r, true
}

// compareFields lists the fields that differ between two members, in a's
// field order, then fields only b has.
func compareFields(a, b *member) []fieldChange {
	var out []fieldChange
	seen := map[string]bool{}
	for _, f := range a.fields {
		seen[f.name] = true
		vb, _ := b.field(f.name)
		if f.value != vb {
			out = append(out, fieldChange{f.name, orNone(f.value), orNone(vb)})
		}
	}
	var extra []string
	for _, f := range b.fields {
		if !seen[f.name] && f.value != "" {
			extra = append(extra, f.name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		vb, _ := b.field(name)
		out = append(out, fieldChange{name, "(none)", vb})
	}
	return out
}

func fmtUnix(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func sortedStrings(ss []string) []string {
	sort.Strings(ss)
	return ss
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// fieldHint names the cause of one differing member field.
func fieldHint(kind *archiveKind, variant string, c fieldChange) []string {
	if strings.Contains(c.name, "time") || c.name == "adate" {
		return []string{kind.hint(variant, "times")}
	}
	switch c.name {
	case "uid", "gid", "uname", "gname":
		return []string{kind.hint(variant, "users")}
	case "mode":
		return []string{hintUmask}
	case "ino":
		return []string{hintInodes}
	case "linkname":
		return classify(c.a, c.b, hintTextTimestamp)
	}
	return nil
}
