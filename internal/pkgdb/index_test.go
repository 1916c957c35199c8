package pkgdb

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/isodiff/isodiff/budget"
)

// TestIndex: an Index asked about paths answers as Load with Want does,
// on the fixture's two roots (a diversion, conffiles, usrmerge aliases,
// directories many packages list) and on this machine's database, while
// reading again only the lists of the packages that may name them; Load
// gives back what the hashes were charged.
func TestIndex(t *testing.T) {
	f := getFixture(t)
	roots := []string{f.a, f.b}
	if !testing.Short() {
		roots = append(roots, hostRoot(t))
	}
	for _, root := range roots {
		listed, err := listedPaths(root)
		if err != nil {
			t.Fatal(err)
		}
		full := loadDir(t, root, Options{})
		// Every 50th listed place, the places the fixture's checks name,
		// shared directories, a conffile, and a path no package lists.
		var want []string
		for i, p := range listed {
			if i%50 == 0 {
				want = append(want, resolveAlias(root, p))
			}
		}
		want = append(want, "/usr", "/usr/bin", "/etc", "/usr/bin/thing", "/usr/bin/thing.distrib",
			"/usr/bin/gamma", "/etc/conf/conf.conf", "/usr/share/alpha/f00001", "/nowhere/listed")
		bud := budget.New(0)
		fsys := &listCounter{FS: os.DirFS(root)}
		x, err := NewIndex(fsys, Options{Budget: bud})
		if err != nil {
			t.Fatal(err)
		}
		held := bud.Used()
		all := fsys.lists.Swap(0)
		db, err := x.Load(want)
		x.Close()
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]bool{}
		for _, p := range want {
			for _, o := range full.Owners(p) {
				owners[o.String()] = true
			}
		}
		if again := fsys.lists.Load(); again > int64(len(owners)) {
			t.Errorf("%s: Load read %d file lists again (of %d) for paths %d packages own", root, again, all, len(owners))
		}
		byWant := loadDir(t, root, Options{Want: func(p string) bool { return slices.Contains(want, p) }})
		if db.Paths() != byWant.Paths() {
			t.Errorf("%s: the index's DB holds %d paths, Load with Want %d", root, db.Paths(), byWant.Paths())
		}
		owned := 0
		for _, p := range want {
			names := func(d *DB) string {
				var n []string
				for _, o := range d.Owners(p) {
					n = append(n, o.String())
				}
				return strings.Join(n, ",")
			}
			s1, _ := full.ShippedMD5(p)
			s2, _ := db.ShippedMD5(p)
			if names(db) != names(full) || s1 != s2 || db.IsConffile(p) != full.IsConffile(p) {
				t.Errorf("%s: owners %q md5 %q conffile %v; Load: %q %q %v", p, names(db), s2, db.IsConffile(p), names(full), s1, full.IsConffile(p))
			}
			if names(full) != "" {
				owned++
			}
		}
		if owned < len(want)/2 {
			t.Errorf("%s: only %d of %d paths owned: the sample checks little", root, owned, len(want))
		}
		if got := bud.Used(); got >= held || got > int64(db.Paths())*1024+held/4 {
			t.Errorf("%s: budget %d bytes after Load, %d with the hashes: they were not given back", root, got, held)
		}
		db.Close()
		if got := bud.Used(); got != 0 {
			t.Errorf("%s: %d bytes still charged after Close", root, got)
		}
		t.Logf("%s: %d listed paths, hashes charged %d bytes, %d paths asked, %d owned", root, len(listed), held, len(want), owned)
	}
}

// listCounter counts the .list files opened through it (not the names
// tried that do not exist).
type listCounter struct {
	fs.FS
	lists atomic.Int64
}

func (c *listCounter) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err == nil && strings.HasSuffix(name, ".list") {
		c.lists.Add(1)
	}
	return f, err
}

func (c *listCounter) ReadLink(name string) (string, error)   { return fs.ReadLink(c.FS, name) }
func (c *listCounter) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(c.FS, name) }
