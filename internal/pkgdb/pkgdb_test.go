package pkgdb

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/squashfs"
)

func openSquashfs(t *testing.T, img string) *squashfs.Reader {
	t.Helper()
	return openSquashfsBudget(t, img, nil)
}

func openSquashfsBudget(t *testing.T, img string, b *budget.Budget) *squashfs.Reader {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := squashfs.OpenOptions(f, fi.Size(), squashfs.Options{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func loadDir(t *testing.T, root string, o Options) *DB {
	t.Helper()
	db, err := Load(os.DirFS(root), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestPackagesMatchDpkgQuery: the installed packages Load finds are the
// ones dpkg-query lists, with their versions and architectures.
func TestPackagesMatchDpkgQuery(t *testing.T) {
	f := getFixture(t)
	for _, root := range []string{f.a, f.b} {
		db := loadDir(t, root, Options{})
		out, err := run("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f=${Package} ${Architecture} ${Version} ${source:Package} ${db:Status-Status}\n")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimSpace(out), "\n")
		var got []string
		for _, p := range db.Packages() {
			got = append(got, strings.Join([]string{p.Name, p.Arch, p.Version, p.Source, p.Status}, " "))
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: packages\n got %q\nwant %q", root, got, want)
		}
		if ws, n := db.Warnings(); n != 1 || !strings.Contains(ws[0], "nosums") {
			t.Errorf("warnings = %q (%d), want one about nosums' missing md5sums", ws, n)
		}
		if a := db.Aliases(); a["/bin"] != "/usr/bin" || a["/sbin"] != "/usr/sbin" || a["/lib"] != "/usr/lib" || len(a) != 3 {
			t.Errorf("aliases = %v", a)
		}
	}
}

// TestOwnersMatchDpkgS: for every path any .list names, Owners gives the
// packages dpkg -S gives (diverted paths aside: dpkg -S names every
// package listing the original; the index moves the others' copies to
// the diverted-to path, checked in TestDiversion). Looked up by the
// listed spelling and, for usrmerge-aliased paths, by where the file is.
func TestOwnersMatchDpkgS(t *testing.T) {
	f := getFixture(t)
	for _, root := range []string{f.a, f.b} {
		db := loadDir(t, root, Options{})
		paths, err := listedPaths(root)
		if err != nil {
			t.Fatal(err)
		}
		oracle, err := dpkgS(root, paths)
		if err != nil {
			t.Fatal(err)
		}
		aliased := 0
		for _, p := range paths {
			if p == "/usr/bin/thing" {
				continue
			}
			want := oracle[p]
			if want == nil {
				t.Fatalf("dpkg -S said nothing of %s", p)
			}
			for _, q := range []string{p, resolveAlias(root, p)} {
				var got []string
				for _, o := range db.Owners(q) {
					got = append(got, o.Name)
				}
				if !sameNames(got, want) && !isDirShared(root, p) {
					t.Errorf("%s: Owners(%s) = %v, dpkg -S %s = %v", root, q, got, p, want)
				}
			}
			if resolveAlias(root, p) != p {
				aliased++
			}
		}
		if aliased < 1 || resolveAlias(root, "/bin/gamma") != "/usr/bin/gamma" {
			t.Errorf("only %d aliased paths checked", aliased)
		}
		if _, ok := db.Owner("/usr/share/nothere"); ok {
			t.Error("a path no package lists is owned")
		}
		if _, ok := db.Owner("/var/log/build.log"); ok {
			t.Error("the build log is owned")
		}
	}
}

// isDirShared reports a directory: dpkg -S and the index agree on these
// too, but a merged directory (/bin listed, /usr/bin real) is listed under
// both spellings by different packages, and dpkg -S answers for the
// spelling only.
func isDirShared(root, p string) bool {
	fi, err := os.Stat(filepath.Join(root, p))
	return err == nil && fi.IsDir() && resolveAlias(root, p) != p
}

// resolveAlias resolves a path's first component through the tree's own
// symlink (the oracle: the file system, not the package under test).
func resolveAlias(root, p string) string {
	first, rest := splitFirst(p)
	if rest == "" {
		return p
	}
	t, err := os.Readlink(filepath.Join(root, first))
	if err != nil {
		return p
	}
	return filepath.Clean("/"+t) + rest
}

// TestShippedMD5MatchesDpkgVerify: for every owned regular file, the
// shipped MD5 equals md5sum of the file exactly when dpkg --verify does not
// flag its checksum; the files the fixture's builds edited are flagged.
func TestShippedMD5MatchesDpkgVerify(t *testing.T) {
	f := getFixture(t)
	for _, root := range []string{f.a, f.b} {
		db := loadDir(t, root, Options{})
		sums, err := md5Tree(root)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := dpkgVerify(root)
		if err != nil {
			t.Fatal(err)
		}
		flagged := map[string]bool{}
		for p := range bad {
			flagged[resolveAlias(root, p)] = true
		}
		checked := 0
		for p, sum := range sums {
			shipped, ok := db.ShippedMD5(p)
			if !ok {
				continue
			}
			checked++
			if (shipped != sum) != flagged[p] {
				t.Errorf("%s %s: shipped %s, md5sum %s, dpkg --verify flags it: %v", root, p, shipped, sum, flagged[p])
			}
		}
		if checked < nAlpha+nBeta+nGamma {
			t.Errorf("%s: only %d files with a shipped md5", root, checked)
		}
		if !flagged["/usr/share/tool/table"] {
			t.Errorf("%s: dpkg --verify does not flag the edited table: %v", root, bad)
		}
		if !db.IsConffile("/etc/conf/conf.conf") || db.IsConffile("/usr/share/conf/data") {
			t.Error("conffile flag wrong")
		}
		if _, ok := db.ShippedMD5("/usr/share/nosums/data"); ok {
			t.Error("nosums has a shipped md5 without its md5sums file")
		}
	}
	if db := loadDir(t, f.b, Options{}); true {
		if sum, _ := db.ShippedMD5("/etc/conf/conf.conf"); sum == "" {
			t.Error("no conffile md5")
		}
	}
}

// TestDiversion: the diverted original's other copy is at the diverted-to
// path, owned by the package that listed the original, with its checksum
// matching the file; the original path belongs to the diverting package.
func TestDiversion(t *testing.T) {
	f := getFixture(t)
	db := loadDir(t, f.a, Options{})
	sums, err := md5Tree(f.a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := run("dpkg-divert", "--root="+f.a, "--truename", "/usr/bin/thing")
	if err != nil {
		t.Fatal(err)
	}
	to := strings.TrimSpace(out)
	if to != "/usr/bin/thing.distrib" {
		t.Fatalf("dpkg-divert --truename = %q", to)
	}
	if p, ok := db.Owner(to); !ok || p.Name != "thing" {
		t.Errorf("Owner(%s) = %v, %v; want thing", to, p, ok)
	}
	if s, _ := db.ShippedMD5(to); s != sums[to] {
		t.Errorf("ShippedMD5(%s) = %q, md5sum %q", to, s, sums[to])
	}
	if p, ok := db.Owner("/usr/bin/thing"); !ok || p.Name != "divpkg" {
		t.Errorf("Owner(/usr/bin/thing) = %v; want divpkg", p)
	}
	if s, _ := db.ShippedMD5("/usr/bin/thing"); s != sums["/usr/bin/thing"] {
		t.Errorf("ShippedMD5(/usr/bin/thing) = %q, md5sum %q", s, sums["/usr/bin/thing"])
	}
}

// checkAttributions compares each diverging file's verdict with the
// fixture's construction and cross-checks the verdict's premises with the
// oracles: dpkg-query's versions and dpkg --verify's checksum failures.
func checkAttributions(t *testing.T, f *fixture, attrs []Attribution) {
	t.Helper()
	if len(attrs) != len(f.want) {
		t.Errorf("%d diverging files, the fixture made %d", len(attrs), len(f.want))
	}
	badA, _ := dpkgVerify(f.a)
	badB, _ := dpkgVerify(f.b)
	flagged := func(root string, bad map[string]bool, p string) bool {
		for q := range bad {
			if resolveAlias(root, q) == p {
				return true
			}
		}
		return false
	}
	counts := map[Verdict]int{}
	for _, at := range attrs {
		counts[at.Verdict]++
		want, ok := f.want[at.Path]
		if !ok {
			t.Errorf("%s: not expected to diverge (%v)", at.Path, at.Verdict)
			continue
		}
		if at.Verdict != want {
			t.Errorf("%s: %v (A %+v, B %+v), want %v", at.Path, at.Verdict, at.A, at.B, want)
		}
		if at.Verdict == ChangedAfterInstall {
			if fa, fb := flagged(f.a, badA, at.Path), flagged(f.b, badB, at.Path); fa != at.A.Modified() || fb != at.B.Modified() {
				t.Errorf("%s: modified A %v B %v, dpkg --verify %v %v", at.Path, at.A.Modified(), at.B.Modified(), fa, fb)
			}
		}
	}
	for v := range NumVerdicts {
		if counts[v] == 0 {
			t.Errorf("no file with verdict %v", v)
		}
	}
}

// TestAttributeDirFS: every diverging file of the fixture gets the verdict
// its construction calls for, each verdict at least once, read through
// os.DirFS.
func TestAttributeDirFS(t *testing.T) {
	f := getFixture(t)
	files, err := diverging(f.a, f.b)
	if err != nil {
		t.Fatal(err)
	}
	a, b := loadDir(t, f.a, Options{}), loadDir(t, f.b, Options{})
	attrs := AttributeAll(a, b, files)
	checkAttributions(t, f, attrs)
	for _, at := range attrs {
		if at.Path == "/usr/bin/gamma" && (at.A.Package.Version != "0.9" || at.B.Package.Version != "1.0" || at.A.Package.Name != "gamma") {
			t.Errorf("usrmerge: /usr/bin/gamma attributed to %v / %v", at.A.Package, at.B.Package)
		}
		if at.Path == "/etc/conf/conf.conf" && (!at.B.Conffile || !at.B.Modified() || at.A.Modified()) {
			t.Errorf("conffile: %+v", at)
		}
		if at.Path == "/usr/bin/gamma" && at.String() != "/usr/bin/gamma: gamma 0.9 -> 1.0: package differs between A and B" {
			t.Errorf("String() = %q", at.String())
		}
	}
}

// TestAttributeSquashfs: the same through squashfs images of both trees
// read with package squashfs: the same databases, the same attributions
// when the MD5s come from the images' own bytes.
func TestAttributeSquashfs(t *testing.T) {
	f := getFixture(t)
	files, err := diverging(f.a, f.b)
	if err != nil {
		t.Fatal(err)
	}
	bud := budget.New(64 << 20)
	ra, rb := openSquashfsBudget(t, f.sqA, bud), openSquashfsBudget(t, f.sqB, bud)
	base := bud.Used() // the readers' caches, held while they live
	a, err := LoadSquashfs(ra, Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := LoadSquashfs(rb, Options{Budget: bud})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if bud.Used() <= base {
		t.Error("nothing charged to the budget")
	}
	t.Logf("two databases hold %d bytes of budget", bud.Used()-base)
	// The MD5s of the images' bytes.
	fa, err := SquashfsFS(ra, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := SquashfsFS(rb, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	sum := func(fsys fs.FS, p string) string {
		if p == "" {
			return ""
		}
		file, err := fsys.Open(strings.TrimPrefix(p, "/"))
		if err != nil {
			return ""
		}
		defer file.Close()
		s, err := MD5(file)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var sq []File
	for _, d := range files {
		x := File{Path: d.Path, MD5A: sum(fa, d.Path), MD5B: sum(fb, d.Path)}
		if x.MD5A != d.MD5A || x.MD5B != d.MD5B {
			t.Errorf("%s: squashfs md5 %s %s, md5sum %s %s", d.Path, x.MD5A, x.MD5B, d.MD5A, d.MD5B)
		}
		sq = append(sq, x)
	}
	checkAttributions(t, f, AttributeAll(a, b, sq))
	// The databases agree with the directory reads path by path.
	da := loadDir(t, f.a, Options{})
	paths, err := listedPaths(f.a)
	if err != nil {
		t.Fatal(err)
	}
	if a.Paths() != da.Paths() {
		t.Errorf("squashfs index %d paths, directory %d", a.Paths(), da.Paths())
	}
	for _, p := range append(paths, "/usr/bin/thing.distrib") {
		s1, ok1 := a.ShippedMD5(p)
		s2, ok2 := da.ShippedMD5(p)
		o1, o2 := a.Owners(p), da.Owners(p)
		if s1 != s2 || ok1 != ok2 || len(o1) != len(o2) || (len(o1) > 0 && o1[0] != o2[0]) {
			t.Errorf("%s: squashfs %v %s, directory %v %s", p, o1, s1, o2, s2)
		}
	}
	a.Close()
	b.Close()
	fa.Close()
	fb.Close()
	// Everything but the readers' caches comes back: the DBs' and the
	// views' charges at Close, the squashfs entries' (block lists, xattrs)
	// when the collector finds them unreachable.
	fa, fb, a, b, da = nil, nil, nil, nil, nil
	deadline := time.Now().Add(2 * time.Second)
	for bud.Used() != base && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if bud.Used() != base {
		t.Errorf("budget used after Close: %d, before loading %d", bud.Used(), base)
	}
}

// TestGroup: the fixture's ten thousand diverging files read as a dozen
// lines: the three upgrades first, by size, each dominated by
// PackageDiffers, then the rest.
func TestGroup(t *testing.T) {
	f := getFixture(t)
	files, err := diverging(f.a, f.b)
	if err != nil {
		t.Fatal(err)
	}
	a, b := loadDir(t, f.a, Options{}), loadDir(t, f.b, Options{})
	groups := Group(AttributeAll(a, b, files), GroupOptions{})
	for _, g := range groups {
		t.Logf("%-24s %-14s %5d files  %v  e.g. %v", g.Name(), g.Versions(), g.Files, g.Dominant, g.Examples)
	}
	if len(files) < 10000 {
		t.Fatalf("only %d diverging files", len(files))
	}
	if len(groups) > 15 {
		t.Errorf("%d groups", len(groups))
	}
	top := []struct {
		name, versions string
		files          int
	}{{"alpha", "1.0 -> 1.1", nAlpha}, {"beta", "2.0 -> 2.1", nBeta}, {"gamma", "0.9 -> 1.0", nGamma}}
	for i, w := range top {
		g := groups[i]
		if g.Name() != w.name || g.Versions() != w.versions || g.Files != w.files || g.Dominant != PackageDiffers || g.Verdicts[PackageDiffers] != w.files {
			t.Errorf("group %d = %s %s %d %v, want %s %s %d package differs", i, g.Name(), g.Versions(), g.Files, g.Dominant, w.name, w.versions, w.files)
		}
		if len(g.Examples) != 3 {
			t.Errorf("group %d examples %v", i, g.Examples)
		}
	}
	total := 0
	dirs := map[string]bool{}
	for i, g := range groups {
		total += g.Files
		if i > 0 && g.Files > groups[i-1].Files {
			t.Error("groups not sorted by count")
		}
		if !g.Owned {
			dirs[g.Dir] = true
			if g.Dominant != NotOwned {
				t.Errorf("unowned group %s dominated by %v", g.Dir, g.Dominant)
			}
		}
	}
	if total != len(files) {
		t.Errorf("groups hold %d files of %d", total, len(files))
	}
	if !dirs["/var/log"] || !dirs["/etc"] || len(dirs) != 2 {
		t.Errorf("unowned groups %v, want /etc and /var/log", dirs)
	}
}

// TestWant: with Want the index holds only the paths asked for and
// answers for them as the full index does.
func TestWant(t *testing.T) {
	f := getFixture(t)
	full := loadDir(t, f.b, Options{})
	want := map[string]bool{"/usr/bin/gamma": true, "/etc/conf/conf.conf": true, "/usr/share/alpha/f00001": true}
	bud := budget.New(0)
	db := loadDir(t, f.b, Options{Budget: bud, Want: func(p string) bool { return want[p] }})
	if db.Paths() != len(want) {
		t.Errorf("Want index holds %d paths", db.Paths())
	}
	for p := range want {
		p1, _ := full.Owner(p)
		p2, _ := db.Owner(p)
		s1, _ := full.ShippedMD5(p)
		s2, _ := db.ShippedMD5(p)
		if p1 != p2 || s1 != s2 || s1 == "" {
			t.Errorf("%s: %v %s vs full %v %s", p, p2, s2, p1, s1)
		}
	}
	if bud.Used() > 1<<20 {
		t.Errorf("Want index charged %d bytes", bud.Used())
	}
}

// TestSquashfsFS: the fs view of the squashfs image passes
// testing/fstest and holds what the directory holds: the same names,
// types, symlink targets and bytes.
func TestSquashfsFS(t *testing.T) {
	f := getFixture(t)
	r := openSquashfs(t, f.sqA)
	s, err := SquashfsFS(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := os.DirFS(f.a)
	n := 0
	err = fs.WalkDir(dir, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n++
		li, err := fs.Lstat(s, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if li.Mode().Type() != d.Type() {
			t.Errorf("%s: type %v, directory %v", p, li.Mode().Type(), d.Type())
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t1, _ := fs.ReadLink(s, p)
			t2, _ := fs.ReadLink(dir, p)
			if t1 != t2 {
				t.Errorf("%s: link %q, directory %q", p, t1, t2)
			}
		case d.Type().IsRegular() && n%97 == 0:
			b1, err1 := fs.ReadFile(s, p)
			b2, err2 := fs.ReadFile(dir, p)
			if err1 != nil || err2 != nil || string(b1) != string(b2) {
				t.Errorf("%s: contents differ (%v %v)", p, err1, err2)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Through the symlink /bin -> usr/bin.
	b, err := fs.ReadFile(s, "bin/gamma")
	if err != nil || string(b) != "gamma binary 0.9\n" {
		t.Errorf("bin/gamma = %q, %v", b, err)
	}
	// The narrowed view: outside its roots and the first two levels,
	// nothing.
	narrow, err := SquashfsFS(r, Options{}, "var/lib/dpkg")
	if err != nil {
		t.Fatal(err)
	}
	defer narrow.Close()
	if _, err := fs.Stat(narrow, "usr/share/alpha/f00001"); err == nil {
		t.Error("narrowed view has usr/share/alpha/f00001")
	}
	if _, err := fs.Stat(narrow, "var/lib/dpkg/info/alpha.list"); err != nil {
		t.Error(err)
	}
	// testing/fstest reads every file: on the narrowed view (the dpkg
	// database and the first two levels) that is a few dozen.
	if err := fstest.TestFS(narrow, "var/lib/dpkg/status", "var/lib/dpkg/info/gamma.list", "usr/bin", "bin", "etc/machine-id"); err != nil {
		t.Fatal(err)
	}
}

// TestSquashfsFSCancel: the walk stops on a done context.
func TestSquashfsFSCancel(t *testing.T) {
	f := getFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bud := budget.New(0)
	_, err := SquashfsFS(openSquashfs(t, f.sqA), Options{Context: ctx, Budget: bud})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v", err)
	}
	if bud.Used() != 0 {
		t.Errorf("%d bytes still charged", bud.Used())
	}
}

var _ io.Reader = (*sqFile)(nil)

// TestSquashfsFSLinks: symlinks resolve inside the image as a chroot would
// see them: relative, absolute, escaping ".." (stopped at the root),
// through a directory link; loops are errors, not hangs.
func TestSquashfsFSLinks(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "d/e"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d/f"), []byte("f\n"), 0o644))
	for name, target := range map[string]string{
		"rel": "d/f", "abs": "/d/f", "escape": "../../../d/f", "dl": "d", "dabs": "/d",
		"d/e/up": "../f", "loop": "loop", "a": "b", "b": "a", "dangling": "nothere",
	} {
		must(os.Symlink(target, filepath.Join(root, name)))
	}
	img := filepath.Join(dir, "img.sqfs")
	if _, err := run("mksquashfs", root, img, "-noappend", "-no-progress", "-quiet"); err != nil {
		t.Fatal(err)
	}
	s, err := SquashfsFS(openSquashfs(t, img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{"rel", "abs", "escape", "dl/f", "dabs/f", "d/e/up", "dl/e/up", "dabs/e/up"} {
		b, err := fs.ReadFile(s, p)
		if err != nil || string(b) != "f\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	for _, p := range []string{"loop", "a", "dangling", "rel/x", "d/nothere"} {
		if _, err := fs.ReadFile(s, p); err == nil {
			t.Errorf("%s: read without error", p)
		}
	}
	if l, err := fs.ReadLink(s, "abs"); err != nil || l != "/d/f" {
		t.Errorf("ReadLink(abs) = %q, %v", l, err)
	}
	if fi, err := fs.Lstat(s, "dl"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(dl) = %v, %v", fi, err)
	}
	if fi, err := fs.Stat(s, "dl"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(dl) = %v, %v", fi, err)
	}
	if ents, err := fs.ReadDir(s, "dabs"); err != nil || len(ents) != 2 {
		t.Errorf("ReadDir(dabs) = %v, %v", ents, err)
	}
	if _, err := s.Open("../x"); err == nil {
		t.Error("invalid path opened")
	}
}
