package pkgdb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// hostRoot copies this machine's dpkg database (a real Debian system's:
// hundreds of packages, conffiles, diversions, a merged /usr) into a
// temporary root, with the host's top-level symlinks, so that the tests
// read a consistent snapshot while other processes may install packages.
func hostRoot(t *testing.T) string {
	t.Helper()
	needTools(t)
	if testing.Short() {
		t.Skip("copies and checks this machine's whole dpkg database")
	}
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		t.Skip("no dpkg database on this machine")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", "/var/lib/dpkg", filepath.Join(root, "var/lib/")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	ents, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink("/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat("/" + e.Name()); err == nil && fi.IsDir() {
			if err := os.MkdirAll(filepath.Join(root, filepath.Clean("/"+target)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, filepath.Join(root, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// diversionPaths returns the originals and targets of the diversions in
// root: dpkg -S names every package listing an original, the index moves
// the non-diverting packages' claims to the target.
func diversionPaths(t *testing.T, root string) map[string]bool {
	b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/diversions"))
	if err != nil {
		return nil
	}
	m := map[string]bool{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+2 < len(lines); i += 3 {
		m[resolveAlias(root, lines[i])] = true
		m[resolveAlias(root, lines[i+1])] = true
	}
	return m
}

// TestHostDatabase: on this machine's real database, the packages are
// dpkg-query's, every listed path's owners are dpkg -S's (for a merged
// /usr, the union of what dpkg -S says of each spelling), a sample of
// shipped MD5s matches md5sum of the installed files unless dpkg --verify
// flags them, and a squashfs image of the database loads the same.
func TestHostDatabase(t *testing.T) {
	start := time.Now()
	root := hostRoot(t)
	admin := filepath.Join(root, "var/lib/dpkg")
	copied := time.Since(start)
	db := loadDir(t, root, Options{})
	pk := db.Packages()
	t.Logf("copied in %v, loaded in %v", copied, time.Since(start)-copied)
	t.Logf("%v: %d packages, %d paths, aliases %v", time.Since(start), len(pk), db.Paths(), db.Aliases())

	out, err := run("dpkg-query", "--admindir="+admin, "-W", "-f=${db:Status-Status} ${Package} ${Architecture} ${Version}\n")
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "not-installed ") {
			want = append(want, l)
		}
	}
	for _, p := range pk {
		got = append(got, strings.Join([]string{p.Status, p.Name, p.Arch, p.Version}, " "))
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages differ from dpkg-query: %d vs %d", len(got), len(want))
	}

	paths, err := listedPaths(root)
	if err != nil {
		t.Fatal(err)
	}
	// dpkg -S costs about a second per 4000 paths here: ask it of every
	// 8th place (each place with all its listed spellings).
	spellings := map[string][]string{}
	for _, p := range paths {
		c := resolveAlias(root, p)
		spellings[c] = append(spellings[c], p)
	}
	places := make([]string, 0, len(spellings))
	for c := range spellings {
		places = append(places, c)
	}
	sort.Strings(places)
	var sampled, ask []string
	for i, c := range places {
		if i%8 == 0 {
			sampled = append(sampled, c)
			ask = append(ask, spellings[c]...)
		}
	}
	oracle := map[string][]string{}
	for i := 0; i < len(ask); i += 4000 {
		m, err := dpkgS(root, ask[i:min(i+4000, len(ask))])
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			oracle[k] = v
		}
	}
	div := diversionPaths(t, root)
	checked, bad := 0, 0
	for _, c := range sampled {
		if div[c] {
			continue
		}
		// Expected owners of a place: the union over its spellings.
		seen := map[string]bool{}
		var w, g []string
		for _, p := range spellings[c] {
			for _, n := range oracle[p] {
				if !seen[n] {
					seen[n] = true
					w = append(w, n)
				}
			}
		}
		for _, o := range db.Owners(c) {
			g = append(g, o.Name)
		}
		checked++
		if sameNames(g, w) {
			continue
		}
		if bad++; bad <= 10 {
			t.Errorf("%s: Owners %v, dpkg -S %v", c, g, w)
		}
	}
	t.Logf("%v: owners of %d places checked against dpkg -S", time.Since(start), checked)
	if bad > 0 || checked < 1000 {
		t.Errorf("%d of %d paths differ from dpkg -S", bad, checked)
	}

	// Shipped MD5s against the installed files: a sample, hashed by one
	// md5sum run.
	var sample []string
	for i, c := range places {
		if _, ok := db.ShippedMD5(c); !ok || i%256 != 0 || div[c] {
			continue
		}
		if fi, err := os.Lstat(c); err == nil && fi.Mode().IsRegular() {
			sample = append(sample, c)
		}
	}
	sums, _ := exec.Command("md5sum", sample...).Output() // unreadable files are left out
	mismatched := map[string][]string{}                   // package -> paths
	matched, hashed := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		if len(l) < 35 {
			continue
		}
		hashed++
		p := l[34:]
		shipped, _ := db.ShippedMD5(p)
		if l[:32] == shipped {
			matched++
		} else {
			o, _ := db.Owner(p)
			mismatched[o.Name+":"+o.Arch] = append(mismatched[o.Name+":"+o.Arch], p)
		}
	}
	t.Logf("%v: md5: %d of %d sampled files as shipped, mismatches in %v", time.Since(start), matched, hashed, mismatched)
	if hashed < 100 || matched < hashed*9/10 {
		t.Errorf("only %d of %d sampled files match their shipped md5", matched, hashed)
	}
	for pkg, ps := range mismatched {
		out, _ := exec.Command("dpkg", "--admindir="+admin, "--verify", pkg).Output()
		for _, p := range ps {
			found := false
			for _, l := range strings.Split(string(out), "\n") {
				if len(l) > 13 && l[2] == '5' && resolveAlias(root, l[strings.Index(l, " /")+1:]) == p {
					found = true
				}
			}
			if !found {
				t.Errorf("%s of %s: md5 differs from the shipped one, dpkg --verify does not say so:\n%s", p, pkg, out)
			}
		}
	}

	// The same database through a squashfs image.
	img := filepath.Join(t.TempDir(), "host.sqfs")
	if _, err := run("mksquashfs", root, img, "-noappend", "-no-progress", "-quiet", "-comp", "gzip"); err != nil {
		t.Fatal(err)
	}
	sq, err := LoadSquashfs(openSquashfs(t, img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	t.Logf("%v: loaded from squashfs", time.Since(start))
	if sq.Paths() != db.Paths() || len(sq.Packages()) != len(pk) || fmt.Sprint(sq.Aliases()) != fmt.Sprint(db.Aliases()) {
		t.Errorf("squashfs: %d paths %d packages %v; directory: %d %d %v", sq.Paths(), len(sq.Packages()), sq.Aliases(), db.Paths(), len(pk), db.Aliases())
	}
	for _, c := range sampled {
		s1, _ := sq.ShippedMD5(c)
		s2, _ := db.ShippedMD5(c)
		if fmt.Sprint(sq.Owners(c)) != fmt.Sprint(db.Owners(c)) || s1 != s2 {
			t.Errorf("%s: squashfs %v %s, directory %v %s", c, sq.Owners(c), s1, db.Owners(c), s2)
			break
		}
	}
}

// sameNames compares owners with dpkg -S's names as multisets, dpkg's
// ":arch" qualifiers (printed for Multi-Arch: same packages) dropped.
func sameNames(got, want []string) bool {
	w := make([]string, len(want))
	for i, n := range want {
		w[i], _, _ = strings.Cut(n, ":")
	}
	g := append([]string(nil), got...)
	sort.Strings(g)
	sort.Strings(w)
	return strings.Join(g, ",") == strings.Join(w, ",")
}
