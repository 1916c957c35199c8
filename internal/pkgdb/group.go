package pkgdb

import (
	"path"
	"sort"
	"strings"
)

// GroupOptions shape Group's summary. The zero value is usable.
type GroupOptions struct {
	// Depth is how many leading directories name an unowned files' group:
	// 2 (the default) groups /var/log/build.log under /var/log and
	// /etc/machine-id under /etc.
	Depth int
	// Examples is how many paths each group keeps (default 3; negative:
	// none), the first in path order.
	Examples int
}

// FileGroup is one line of the summary: the diverging files of one
// package change (both sides' owners) or, when no package owns them, of
// one top directory.
type FileGroup struct {
	Owned    bool
	A, B     Package // the owners on each side (zero when none); for unowned groups both zero
	Dir      string  // unowned groups: the top directory
	Files    int
	Verdicts [NumVerdicts]int // files per verdict, indexed by Verdict
	Dominant Verdict          // the verdict of most files (the earlier verdict on a tie)
	Examples []string
}

// Name is the group's package name ("a -> b" when ownership moved), or
// its directory.
func (g FileGroup) Name() string {
	switch {
	case !g.Owned:
		return g.Dir
	case g.A.Name == "":
		return g.B.Name
	case g.B.Name == "" || g.A.Name == g.B.Name:
		return g.A.Name
	}
	return g.A.Name + " -> " + g.B.Name
}

// Versions renders "1.0 -> 2.0", "1.0" when equal, "(none) -> 2.0" when
// owned on one side only.
func (g FileGroup) Versions() string {
	if !g.Owned {
		return ""
	}
	va, vb := g.A.Version, g.B.Version
	if g.A.Name == "" {
		va = "(none)"
	}
	if g.B.Name == "" {
		vb = "(none)"
	}
	if va == vb {
		return va
	}
	return va + " -> " + vb
}

type groupKey struct {
	owned bool
	a, b  Package
	dir   string
}

// Group summarises attributions: one group per pair of owning packages
// (name, architecture and version on each side), and one per top
// directory for the files no package owns, sorted by file count
// (descending), then owned before unowned, then by name. A divergence of
// 10,000 files from three package upgrades is three groups.
func Group(attrs []Attribution, o GroupOptions) []FileGroup {
	if o.Depth <= 0 {
		o.Depth = 2
	}
	if o.Examples == 0 {
		o.Examples = 3
	}
	idx := map[groupKey]int{}
	var out []FileGroup
	for _, at := range attrs {
		k := groupKey{}
		if at.A.Owned || at.B.Owned {
			k.owned = true
			if at.A.Owned {
				k.a = ident(at.A.Package)
			}
			if at.B.Owned {
				k.b = ident(at.B.Package)
			}
		} else {
			k.dir = topDir(at.Path, o.Depth)
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			g := FileGroup{Owned: k.owned, Dir: k.dir}
			if at.A.Owned {
				g.A = at.A.Package
			}
			if at.B.Owned {
				g.B = at.B.Package
			}
			out = append(out, g)
		}
		g := &out[i]
		g.Files++
		if at.Verdict < NumVerdicts {
			g.Verdicts[at.Verdict]++
		}
		if o.Examples > 0 {
			g.Examples = addExample(g.Examples, at.Path, o.Examples)
		}
	}
	for i := range out {
		g := &out[i]
		for v := Verdict(0); v < NumVerdicts; v++ {
			if g.Verdicts[v] > g.Verdicts[g.Dominant] {
				g.Dominant = v
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Files != b.Files {
			return a.Files > b.Files
		}
		if a.Owned != b.Owned {
			return a.Owned
		}
		if a.Name() != b.Name() {
			return a.Name() < b.Name()
		}
		return a.Versions() < b.Versions()
	})
	return out
}

// ident is the part of a package that tells groups apart.
func ident(p Package) Package { return Package{Name: p.Name, Arch: p.Arch, Version: p.Version} }

// addExample keeps the n smallest paths, sorted.
func addExample(ex []string, p string, n int) []string {
	i := sort.SearchStrings(ex, p)
	if i < len(ex) && ex[i] == p {
		return ex
	}
	if len(ex) == n {
		if i == n {
			return ex
		}
		ex = ex[:n-1]
	}
	ex = append(ex, "")
	copy(ex[i+1:], ex[i:])
	ex[i] = p
	return ex
}

// topDir returns the first depth directories of p's parent.
func topDir(p string, depth int) string {
	dir := path.Dir(path.Clean("/" + p))
	if dir == "/" {
		return "/"
	}
	parts := strings.Split(dir[1:], "/")
	if len(parts) > depth {
		parts = parts[:depth]
	}
	return "/" + strings.Join(parts, "/")
}
