package isodiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/internal/guard"
	"github.com/isodiff/isodiff/internal/pkgdb"
	"github.com/isodiff/isodiff/report"
)

// attributeOwners tells, for each diverging file inside a root filesystem
// image, which package shipped it and why it differs (internal/pkgdb): the
// package itself differs between A and B (its version: a snapshot pin
// moved), the build changed it after installing (its bytes no longer match
// the checksum the package shipped), the package shipped it this way, or
// no package owns it (made during the build). It reads each image's dpkg
// database (var/lib/dpkg), indexing only the diverging paths; a file's
// bytes are hashed only when the verdict depends on them (the same package
// version shipping different checksums on the two sides), so a large
// library that differs in its build id costs no full decode here. Images
// without a dpkg database are left alone. The databases are read once,
// with their paths hashed (indexPackages), usually beside the hashing
// pass; here only the lists of the packages that may own a diverging
// path are read again.
func (s *session) attributeOwners(ctx context.Context, st *report.Stage) {
	byScope := map[report.Scope][]int{} // container scope -> indexes in s.diverging
	for k, d := range s.diverging {
		if _, ok := d.scope.InContainer(); ok {
			byScope[d.scope] = append(byScope[d.scope], k)
		}
	}
	for _, c := range s.containers {
		idx := byScope[c.scope()]
		if len(idx) == 0 || !c.opened(0) || !c.opened(1) {
			continue
		}
		var want []string
		for _, k := range idx {
			want = append(want, s.diverging[k].path)
		}
		s.indexPackages(ctx, c) // done beside the hashing pass when the trees were compared there
		var dbs [2]*pkgdb.DB
		errs := c.dbErr
		for i, x := range c.dbIndex {
			if x != nil {
				dbs[i], errs[i] = x.Load(want) // only the lists that may name them
				x.Close()
				c.dbIndex[i] = nil
			}
		}
		for i, err := range errs {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// no dpkg database: not a Debian root filesystem
			case err != nil && ctx.Err() == nil:
				st.Notes = append(st.Notes, fmt.Sprintf("%s: the package database of image %s could not be read: %v", c.path, "AB"[i:i+1], err))
			}
			if dbs[i] != nil {
				defer dbs[i].Close()
			}
		}
		if dbs[0] == nil && dbs[1] == nil {
			continue
		}
		attributed := 0
		for _, k := range idx {
			if ctx.Err() != nil {
				return
			}
			d := s.diverging[k]
			// Most verdicts need no reading: no owner, an owner on one
			// side, or a version that moved. With one shipped checksum on
			// both sides, bytes that differ prove the build changed the file.
			a := pkgdb.Attribute(dbs[0], dbs[1], d.path, "", "")
			if a.Verdict == pkgdb.Unverified || a.Verdict == pkgdb.SameContent {
				if a.A.Shipped != "" && a.A.Shipped == a.B.Shipped {
					a.Verdict = pkgdb.ChangedAfterInstall
				} else {
					var sums [2]string
					for i := range sums {
						r, err := d.open[i]()
						if err != nil {
							continue
						}
						sums[i], _ = pkgdb.MD5(bytecmp.ContextReader(ctx, r))
						if c, ok := r.(io.Closer); ok {
							c.Close()
						}
					}
					a = pkgdb.Attribute(dbs[0], dbs[1], d.path, sums[0], sums[1])
				}
			}
			f := &st.Findings[d.finding]
			f.Owner = ownerOf(a)
			attributed++
		}
		st.Notes = append(st.Notes, fmt.Sprintf("%s: %d diverging file(s) attributed to their packages (dpkg database)", c.path, attributed))
	}
}

// indexPackages reads both sides' dpkg databases (var/lib/dpkg) at once,
// the first time it is asked, holding a hash of each listed path
// (pkgdb.Index): reading the file lists is most of attributing owners, and
// it can start before the diverging files are known.
func (s *session) indexPackages(ctx context.Context, c *container) {
	c.dbOnce.Do(func() {
		var wg sync.WaitGroup
		for i := range c.dbIndex {
			wg.Go(func() {
				opts := pkgdb.Options{Budget: s.budget, Context: ctx}
				c.dbErr[i] = guard.Run(func() (err error) {
					switch {
					case c.erofs[i] != nil:
						c.dbIndex[i], err = pkgdb.NewIndex(c.erofs[i].FS(), opts)
					case c.reader[i] != nil:
						c.dbIndex[i], err = pkgdb.NewIndexSquashfs(c.reader[i], opts)
					}
					return err
				})
			})
		}
		wg.Wait()
	})
}

// ownerOf turns an attribution into the report's terms.
func ownerOf(a pkgdb.Attribution) *report.Owner {
	o := &report.Owner{Verdict: a.Verdict.Key(), Meaning: a.Verdict.String()}
	if a.A.Owned {
		o.Package, o.VersionA = a.A.Package.Name, a.A.Package.Version
	}
	if a.B.Owned {
		if o.Package == "" {
			o.Package = a.B.Package.Name
		} else if a.B.Package.Name != o.Package {
			o.Package += " -> " + a.B.Package.Name
		}
		o.VersionB = a.B.Package.Version
	}
	return o
}
