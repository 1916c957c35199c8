package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/isodiff/isodiff/budget"
)

// genFS serves generated files: each Open calls the generator afresh, so
// a file of gigabytes exists only as it is read.
type genFS map[string]func() io.Reader

func (g genFS) Open(name string) (fs.File, error) {
	f, ok := g[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &genFile{name: name, r: f()}, nil
}

type genFile struct {
	name string
	r    io.Reader
}

func (f *genFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *genFile) Close() error               { return nil }
func (f *genFile) Stat() (fs.FileInfo, error) {
	return fstest.MapFS{f.name: &fstest.MapFile{}}.Stat(f.name)
}

// repeat yields head, then body n times (n < 0: forever), then tail.
type repeat struct {
	head, body, tail []byte
	n                int64
	pos              int
	part             int
}

func (r *repeat) Read(p []byte) (int, error) {
	total := 0
	for total < len(p) {
		var cur []byte
		switch r.part {
		case 0:
			cur = r.head
		case 1:
			if r.n == 0 {
				r.part, r.pos = 2, 0
				continue
			}
			cur = r.body
		case 2:
			cur = r.tail
		default:
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
		n := copy(p[total:], cur[r.pos:])
		total += n
		r.pos += n
		if r.pos == len(cur) {
			r.pos = 0
			if r.part == 1 && r.n > 0 {
				r.n--
			}
			if r.part != 1 || r.n == 0 {
				r.part++
			}
		}
	}
	return total, nil
}

func gen(head, body, tail string, n int64) func() io.Reader {
	return func() io.Reader { return &repeat{head: []byte(head), body: []byte(body), tail: []byte(tail), n: n} }
}

const statusPath = "var/lib/dpkg/status"

// allocDuring returns the bytes allocated by fn.
func allocDuring(fn func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fn()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

func wantParseError(t *testing.T, err error, file string, line int64, cause error) *ParseError {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *ParseError", err)
	}
	if pe.File != file || (line > 0 && pe.Line != line) || !errors.Is(err, cause) {
		t.Fatalf("err = %v (file %s line %d), want %s line %d: %v", err, pe.File, pe.Line, file, line, cause)
	}
	return pe
}

// TestHugeIgnoredFieldStreams: a status whose Description is one line of
// 1 GiB loads, allocating a few buffers, not the line.
func TestHugeIgnoredFieldStreams(t *testing.T) {
	fsys := genFS{statusPath: gen("Package: a\nStatus: install ok installed\nVersion: 1\nDescription: x\n ", strings.Repeat("x", 1<<16), "\n\nPackage: b\nStatus: install ok installed\nVersion: 2\n", 1<<14)}
	var db *DB
	var err error
	alloc := allocDuring(func() { db, err = Load(fsys, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	if p := db.Packages(); len(p) != 2 || p[1].Name != "b" || p[1].Version != "2" {
		t.Errorf("packages %v", p)
	}
	if alloc > 8<<20 {
		t.Errorf("allocated %d bytes reading a 1 GiB line", alloc)
	}
	ws, _ := db.Warnings()
	if w := strings.Join(ws, "\n"); !strings.Contains(w, "package a:amd64 1: no file list") && !strings.Contains(w, "package a 1: no file list") || !strings.Contains(w, "package b 2: no file list") {
		t.Errorf("warnings %q, want the two missing lists", ws)
	}
}

// TestHugeWantedField: a 1 GiB Version is an error at its line, streamed.
func TestHugeWantedField(t *testing.T) {
	head := "Package: a\nStatus: install ok installed\nVersion: "
	fsys := genFS{statusPath: gen(head, strings.Repeat("1", 1<<16), "\n", 1<<14)}
	var err error
	alloc := allocDuring(func() { _, err = Load(fsys, Options{}) })
	pe := wantParseError(t, err, statusPath, 3, ErrTooLong)
	if pe.Off != int64(len("Package: a\nStatus: install ok installed\n")) {
		t.Errorf("offset %d", pe.Off)
	}
	if alloc > 8<<20 {
		t.Errorf("allocated %d bytes", alloc)
	}
}

// TestManyPackagesBudget: endless valid paragraphs stop at the budget,
// then at MaxPackages, and give back what they charged.
func TestManyPackagesBudget(t *testing.T) {
	stanza := "Package: p\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"
	// Distinct names: the package name is the paragraph number.
	mk := func() io.Reader {
		n := 0
		return &funcReader{next: func() []byte {
			n++
			return []byte(strings.Replace(stanza, "p\n", fmt.Sprintf("p%d\n", n), 1))
		}}
	}
	bud := budget.New(1 << 20)
	_, err := Load(genFS{statusPath: mk}, Options{Budget: bud})
	wantParseError(t, err, statusPath, 0, budget.ErrExceeded)
	if bud.Used() != 0 {
		t.Errorf("%d bytes still charged after the failed Load", bud.Used())
	}
	_, err = Load(genFS{statusPath: mk}, Options{MaxPackages: 1000})
	// Paragraph 1001 starts at line 5*1000+1.
	wantParseError(t, err, statusPath, 5001, ErrLimit)
}

type funcReader struct {
	next func() []byte
	buf  []byte
}

func (f *funcReader) Read(p []byte) (int, error) {
	if len(f.buf) == 0 {
		f.buf = f.next()
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// TestManyPaths: an endless .list stops at MaxPaths, or at the budget,
// naming the list file and the line, whether loaded or indexed.
func TestManyPaths(t *testing.T) {
	mkList := func() io.Reader {
		n := 0
		return &funcReader{next: func() []byte {
			n++
			return []byte(fmt.Sprintf("/usr/share/p/file-%d\n", n))
		}}
	}
	fsys := genFS{
		statusPath:                    gen("Package: p\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n", "", "", 0),
		"var/lib/dpkg/info/p.list":    mkList,
		"var/lib/dpkg/info/p.md5sums": gen("", "", "", 0),
	}
	for name, load := range map[string]func(Options) error{
		"Load":     func(o Options) error { _, err := Load(fsys, o); return err },
		"NewIndex": func(o Options) error { _, err := NewIndex(fsys, o); return err },
	} {
		err := load(Options{MaxPaths: 5000})
		wantParseError(t, err, "var/lib/dpkg/info/p.list", 5001, ErrLimit)
		bud := budget.New(256 << 10)
		err = load(Options{Budget: bud})
		pe := wantParseError(t, err, "var/lib/dpkg/info/p.list", 0, budget.ErrExceeded)
		var ee *budget.ExceededError
		if !errors.As(err, &ee) || ee.Off != pe.Off || !strings.Contains(ee.What, "dpkg file index") {
			t.Errorf("%s: budget error %v at %d", name, ee, pe.Off)
		}
		if bud.Used() != 0 {
			t.Errorf("%s: %d bytes still charged", name, bud.Used())
		}
	}
}

// TestCancel: an endless stream of continuation lines stops soon after the
// context is done.
func TestCancel(t *testing.T) {
	fsys := genFS{statusPath: gen("Package: a\nStatus: install ok installed\nDescription: x\n", " more text\n", "", -1)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Load(fsys, Options{Context: ctx})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	wantParseError(t, err, statusPath, 0, context.DeadlineExceeded)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	// Inside one endless line too.
	fsys = genFS{statusPath: gen("Package: a\nDescription: ", "x", "", -1)}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = Load(fsys, Options{Context: ctx2})
	wantParseError(t, err, statusPath, 2, context.DeadlineExceeded)
}

// TestGarbage: random bytes never load quietly, never panic, and the error
// names the status file; a bad line is named by number and offset.
func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := range 200 {
		b := make([]byte, rng.Intn(4096)+1)
		rng.Read(b)
		if i%2 == 0 {
			b[0] = 'P' // not a continuation line
		}
		_, err := Load(fstest.MapFS{statusPath: {Data: b}}, Options{})
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || pe.File != statusPath {
			t.Fatalf("input %d: err = %v", i, err)
		}
	}
	bad := "Package: a\nStatus: install ok installed\nno colon here\n"
	_, err := Load(fstest.MapFS{statusPath: {Data: []byte(bad)}}, Options{})
	pe := wantParseError(t, err, statusPath, 3, ErrMalformed)
	if pe.Off != int64(strings.Index(bad, "no colon")) {
		t.Errorf("offset %d", pe.Off)
	}
	for _, c := range []struct {
		status string
		line   int64
	}{
		{"Status: install ok installed\n\n", 1},                                                       // no Package
		{"Package: a\nStatus: install ok\n", 1},                                                       // two words
		{"Package: a\nStatus: install ok sleeping\n", 1},                                              // unknown state
		{"Package: a\nPackage: b\n", 2},                                                               // duplicate
		{" continuation\n", 1},                                                                        // outside a field
		{"Package: a\nStatus: install ok installed\nConffiles:\n /etc/x\n", 4},                        // no md5
		{"Package: a\nStatus: install ok installed\n\nPackage: a\nStatus: install ok installed\n", 4}, // listed twice
	} {
		_, err := Load(fstest.MapFS{statusPath: {Data: []byte(c.status)}}, Options{})
		wantParseError(t, err, statusPath, c.line, ErrMalformed)
	}
	_, err = Load(fstest.MapFS{}, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), statusPath) {
		t.Errorf("no status: %v", err)
	}
}

// TestParseDetails: the status and info files' finer points, on small
// databases written the way dpkg writes them.
func TestParseDetails(t *testing.T) {
	status := `Package: web
Status: install ok installed
Architecture: amd64
Source: websrc (2.0-1)
Version: 2.0-1+b1
Conffiles:
 /etc/web/site config.conf 0123456789abcdef0123456789abcdef
 /etc/web/old.conf fedcba9876543210fedcba9876543210 obsolete
 /etc/web/new.conf newconffile
Description: a web server
 with a long description

Package: gone
Status: deinstall ok config-files
Architecture: all
Version: 1
Conffiles:
 /etc/gone.conf 00112233445566778899aabbccddeeff

Package: never
Status: purge ok not-installed
Architecture: all

Package: libx
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 3
`
	fsys := fstest.MapFS{
		statusPath:                            {Data: []byte(status)},
		"var/lib/dpkg/status-old":             {Data: []byte("\x00garbage that must not be read")},
		"var/lib/dpkg/info/web.list":          {Data: []byte("/.\n/etc\n/etc/web\n/etc/web/site config.conf\n/etc/web/old.conf\n/usr/sbin/web\n/usr/share/web/a b\n")},
		"var/lib/dpkg/info/web.md5sums":       {Data: []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  usr/sbin/web\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb *usr/share/web/a b\ncccccccccccccccccccccccccccccccc  usr/share/web/unlisted\n")},
		"var/lib/dpkg/info/gone.list":         {Data: []byte("/etc/gone.conf\n/usr/bin/gone\n")},
		"var/lib/dpkg/info/libx:i386.list":    {Data: []byte("/usr/lib/i386-linux-gnu/libx.so\n")},
		"var/lib/dpkg/info/libx:i386.md5sums": {Data: []byte("DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD  usr/lib/i386-linux-gnu/libx.so\n")},
		"var/lib/dpkg/info/never.list":        {Data: []byte("/usr/bin/never\n")},
		"var/lib/dpkg/diversions":             {Data: []byte("/usr/sbin/web\n/usr/sbin/web.orig\n:\n")},
	}
	db, err := Load(fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pk := db.Packages()
	if len(pk) != 3 || pk[0] != (Package{Name: "web", Arch: "amd64", Version: "2.0-1+b1", Source: "websrc", SourceVersion: "2.0-1", Status: "installed"}) ||
		pk[1].Status != "config-files" || pk[1].Source != "gone" || pk[2].Name != "libx" {
		t.Errorf("packages %+v", pk)
	}
	check := func(p, owner, md5 string, conf bool) {
		t.Helper()
		o, ok := db.Owner(p)
		s, _ := db.ShippedMD5(p)
		if (owner == "") == ok || o.Name != owner || s != md5 || db.IsConffile(p) != conf {
			t.Errorf("%s: owner %v %v md5 %q conffile %v; want %q %q %v", p, o, ok, s, db.IsConffile(p), owner, md5, conf)
		}
	}
	check("/etc/web/site config.conf", "web", "0123456789abcdef0123456789abcdef", true) // space in the path
	check("/etc/web/old.conf", "web", "fedcba9876543210fedcba9876543210", true)         // obsolete flag
	check("/etc/web/new.conf", "web", "", true)                                         // newconffile: no checksum
	check("/usr/share/web/a b", "web", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", false)       // binary-mode marker
	check("usr/share/web/a b", "web", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", false)        // fs-style query
	check("/usr/share/web/unlisted", "", "", false)                                     // md5sums only: not owned
	check("/etc/gone.conf", "gone", "00112233445566778899aabbccddeeff", true)           // config-files: its conffile
	check("/usr/bin/gone", "", "", false)                                               // ... and nothing else
	check("/usr/bin/never", "", "", false)                                              // not-installed
	check("/usr/lib/i386-linux-gnu/libx.so", "libx", "dddddddddddddddddddddddddddddddd", false)
	check("/usr/sbin/web", "", "", false) // locally diverted: web's copy is elsewhere
	check("/usr/sbin/web.orig", "web", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)
	if o := db.Owners("/etc"); len(o) != 1 {
		t.Errorf("Owners(/etc) = %v", o)
	}
	if ws, n := db.Warnings(); n != 1 || !strings.Contains(ws[0], "1 md5sums path(s) not in its file list") {
		t.Errorf("warnings %q", ws)
	}
}

// TestAttributeEdges: verdicts for what the fixture cannot make cheaply:
// no database at all, ownership moving between packages, unknown MD5s.
func TestAttributeEdges(t *testing.T) {
	mk := func(pkg, ver, md5 string) *DB {
		status := fmt.Sprintf("Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: all\n", pkg, ver)
		db, err := Load(fstest.MapFS{
			statusPath:                              {Data: []byte(status)},
			"var/lib/dpkg/info/" + pkg + ".list":    {Data: []byte("/usr/bin/x\n")},
			"var/lib/dpkg/info/" + pkg + ".md5sums": {Data: []byte(md5 + "  usr/bin/x\n")},
		}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	m1, m2 := strings.Repeat("1", 32), strings.Repeat("2", 32)
	a, moved, rebuilt := mk("p", "1", m1), mk("q", "1", m1), mk("p", "1", m2)
	for _, c := range []struct {
		a, b       *DB
		md5A, md5B string
		want       Verdict
	}{
		{nil, nil, m1, m2, NotOwned},
		{a, nil, m1, m2, OwnedOneSide},
		{a, moved, m1, m2, PackageDiffers},   // another package owns it
		{a, rebuilt, m1, m2, ShippedThisWay}, // same version, other checksum, both as shipped
		{a, rebuilt, "", "", ShippedThisWay}, // bytes not hashed: the packages still differ
		{a, a, "", "", Unverified},           // nothing to compare
		{a, a, m1, "", Unverified},           // one side not hashed
		{a, a, m1, m2, ChangedAfterInstall},  // B is not what p shipped
		{a, rebuilt, m2, m1, ChangedAfterInstall},
		{a, a, m1, m1, SameContent},
		{a, moved, m1, m1, PackageDiffers}, // equal bytes, but the owner moved: its times, modes came with it
	} {
		at := Attribute(c.a, c.b, "/usr/bin/x", c.md5A, c.md5B)
		if at.Verdict != c.want {
			t.Errorf("%v/%v %s %s: %v, want %v", at.A.Package, at.B.Package, c.md5A, c.md5B, at.Verdict, c.want)
		}
	}
	for v := range NumVerdicts {
		if v.String() == "" || v.Key() == "unknown" {
			t.Errorf("verdict %d unnamed", v)
		}
	}
}

// TestGroupScales: 10,000 attributions from three upgrades and some build
// files are five groups, largest first, the examples the first paths.
func TestGroupScales(t *testing.T) {
	var attrs []Attribution
	add := func(name, va, vb string, n int, v Verdict) {
		for i := range n {
			attrs = append(attrs, Attribution{Path: fmt.Sprintf("/usr/share/%s/%05d", name, n-i), Verdict: v,
				A: Side{Owned: true, Package: Package{Name: name, Version: va}}, B: Side{Owned: true, Package: Package{Name: name, Version: vb}}})
		}
	}
	add("small", "1", "2", 1000, PackageDiffers)
	add("big", "1", "2", 6000, PackageDiffers)
	add("mid", "1", "2", 2990, PackageDiffers)
	attrs[1500].Verdict = ChangedAfterInstall // one big file the build also touched
	for _, p := range []string{"/var/log/a", "/var/log/b", "/etc/x", "/var/cache/y/z/w", "/var/log/c", "/var/cache/k/q", "/etc/y", "/var/log/d", "/var/log/e", "/x"} {
		attrs = append(attrs, Attribution{Path: p, Verdict: NotOwned})
	}
	g := Group(attrs, GroupOptions{})
	var got []string
	for _, x := range g {
		got = append(got, fmt.Sprintf("%s %s %d %s %v", x.Name(), x.Versions(), x.Files, x.Dominant.Key(), x.Examples))
	}
	want := []string{
		"big 1 -> 2 6000 package_differs [/usr/share/big/00001 /usr/share/big/00002 /usr/share/big/00003]",
		"mid 1 -> 2 2990 package_differs [/usr/share/mid/00001 /usr/share/mid/00002 /usr/share/mid/00003]",
		"small 1 -> 2 1000 package_differs [/usr/share/small/00001 /usr/share/small/00002 /usr/share/small/00003]",
		"/var/log  5 not_owned [/var/log/a /var/log/b /var/log/c]",
		"/etc  2 not_owned [/etc/x /etc/y]",
		"/var/cache  2 not_owned [/var/cache/k/q /var/cache/y/z/w]",
		"/  1 not_owned [/x]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g[0].Verdicts[ChangedAfterInstall] != 1 || g[0].Verdicts[PackageDiffers] != 5999 {
		t.Errorf("big verdicts %v", g[0].Verdicts)
	}
	if d := Group(attrs, GroupOptions{Depth: 3}); len(d) != 8 {
		t.Errorf("depth 3: %d groups", len(d))
	}
}
