package pkgdb

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/isodiff/isodiff/budget"
)

// FuzzLoad: any status, file list, md5sums and diversions either load or
// fail with a *ParseError (or a missing-file error), never panic, and
// every charge comes back at Close or on failure; a loaded database
// answers queries for the paths it was given.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("Package: p\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nConffiles:\n /etc/p.conf 0123456789abcdef0123456789abcdef\n"),
		[]byte("/.\n/etc\n/etc/p.conf\n/bin/p\n"), []byte("0123456789abcdef0123456789abcdef  bin/p\n"), []byte("/bin/p\n/bin/p.real\np\n"))
	f.Add([]byte("Package: p\nStatus: deinstall ok config-files\nConffiles:\n /etc/a b c newconffile obsolete\n\n"), []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, status, list, sums, div []byte) {
		fsys := fstest.MapFS{
			statusPath:                    {Data: status},
			"var/lib/dpkg/info/p.list":    {Data: list},
			"var/lib/dpkg/info/p.md5sums": {Data: sums},
			"var/lib/dpkg/diversions":     {Data: div},
			"bin":                         {Data: []byte("usr/bin"), Mode: fs.ModeSymlink},
			"usr/bin":                     {Mode: fs.ModeDir | 0o755},
		}
		bud := budget.New(1 << 20)
		db, err := Load(fsys, Options{Budget: bud, MaxPaths: 1000, MaxPackages: 100})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is no *ParseError", err)
			}
			if bud.Used() != 0 {
				t.Fatalf("%d bytes charged after a failed Load", bud.Used())
			}
			return
		}
		asked := []string{"/bin/p", "/usr/bin/p", "/etc/p.conf", "/", ""}
		for _, p := range asked {
			o, ok := db.Owner(p)
			s, sok := db.ShippedMD5(p)
			if !ok && (sok || o != (Package{})) || sok && len(s) != 32 {
				t.Fatalf("%s: %v %v %q %v", p, o, ok, s, sok)
			}
			_ = Attribute(db, db, p, s, "")
		}
		Group(AttributeAll(db, nil, []File{{Path: "/bin/p"}, {Path: "/x/y/z"}}), GroupOptions{})
		// An Index asked about the same paths answers as Load did.
		x, err := NewIndex(fsys, Options{Budget: bud, MaxPaths: 1000, MaxPackages: 100})
		if errors.Is(err, ErrLimit) { // it counts each listing of a path, Load each path
			db.Close()
			return
		}
		if err != nil {
			t.Fatalf("Load read it, NewIndex: %v", err)
		}
		xdb, err := x.Load(asked)
		x.Close()
		if err != nil {
			t.Fatalf("Load read it, Index.Load: %v", err)
		}
		for _, p := range asked {
			s1, _ := db.ShippedMD5(p)
			s2, _ := xdb.ShippedMD5(p)
			if fmt.Sprint(db.Owners(p)) != fmt.Sprint(xdb.Owners(p)) || s1 != s2 || db.IsConffile(p) != xdb.IsConffile(p) {
				t.Fatalf("%s: index %v %q, Load %v %q", p, xdb.Owners(p), s2, db.Owners(p), s1)
			}
		}
		xdb.Close()
		db.Close()
		if bud.Used() != 0 {
			t.Fatalf("%d bytes charged after Close", bud.Used())
		}
	})
}
