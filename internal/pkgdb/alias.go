package pkgdb

import (
	"io/fs"
	"path"
	"strings"
)

// findAliases records each top-level symlink of fsys that leads to a
// directory: on a merged-/usr system /bin -> usr/bin, /sbin, /lib,
// /lib32, /lib64, /libx32 likewise. Packages built before the merge list
// /bin/tar; the image holds /usr/bin/tar; the index keys both as the
// latter. Only the first path component is resolved (that is where
// usrmerge puts its links, and it costs one ReadLink per top-level
// symlink); a file system without fs.ReadLinkFS gets no aliases.
func (d *DB) findAliases(fsys fs.FS) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		d.warnf("cannot list the root directory (%v): no usrmerge aliases", err)
		return
	}
	links := map[string]string{}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if len(links) == maxRootLinks {
			d.warnf("more than %d symlinks in the root directory: the rest are not used as aliases", maxRootLinks)
			break
		}
		t, err := fs.ReadLink(fsys, e.Name())
		if err != nil {
			d.warnf("cannot read the symlink /%s (%v): not used as an alias", e.Name(), err)
			continue
		}
		// Relative targets are relative to the root; ".." cannot leave it.
		links["/"+e.Name()] = path.Clean("/" + t)
	}
	for from, to := range links {
		// Follow chains of top-level links (bounded), then keep the alias
		// only when it ends at a directory.
		for hop := 0; hop < maxAliasHops; hop++ {
			first, rest := splitFirst(to)
			next, ok := links[first]
			if !ok {
				break
			}
			to = next + rest
		}
		if to == from || to == "/" {
			continue
		}
		if fi, err := fs.Stat(fsys, to[1:]); err == nil && fi.IsDir() {
			d.aliases[from] = to
		}
	}
}

// splitFirst splits "/a/b/c" into "/a" and "/b/c".
func splitFirst(p string) (string, string) {
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		return p[:i+1], p[i+1:]
	}
	return p, ""
}

// canon resolves a path's top-level alias: "/bin/tar" -> "/usr/bin/tar".
// The alias itself ("/bin") is left alone: it is the symlink, not the
// directory it leads to.
func (d *DB) canon(p string) string {
	if len(d.aliases) == 0 || len(p) < 2 {
		return p
	}
	first, rest := splitFirst(p)
	if rest == "" {
		return p
	}
	if to, ok := d.aliases[first]; ok {
		return to + rest
	}
	return p
}
