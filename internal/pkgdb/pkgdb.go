package pkgdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strings"

	"github.com/isodiff/isodiff/budget"
)

// Default limits (Options fields left zero).
const (
	DefaultMaxPackages = 1 << 17 // installed packages
	DefaultMaxPaths    = 1 << 21 // paths in the index
	maxConffiles       = 1 << 16 // per package
	maxPathLen         = 4096    // one path in a .list, .md5sums or Conffiles
	maxDiversions      = 1 << 16
	maxWarnings        = 64
	maxAliasHops       = 8
	maxRootLinks       = 4096 // top-level symlinks considered as aliases
)

// What the index is charged per item, beyond the strings' bytes: a map
// slot with its share of the table, a slice element.
const (
	pathCost     = 64
	extraCost    = 48
	packageCost  = 160
	conffileCost = 48
	diversionCst = 96
)

// Options bound and narrow a Load. The zero value loads everything with no
// budget and no cancellation.
type Options struct {
	// Budget is charged with everything the DB holds (about 64 bytes plus
	// the path per indexed path, 160 bytes plus the strings per package);
	// the charge lasts until Close. A refused charge is a *ParseError
	// wrapping *budget.ExceededError. Nil: unlimited.
	Budget *budget.Budget
	// Context is checked every 1024 lines read and between files.
	Context context.Context
	// AdminDir is dpkg's database inside the root filesystem; default
	// "var/lib/dpkg".
	AdminDir string
	// Want, when set, limits the path index to the (canonical, absolute)
	// paths it accepts, e.g. the diverging files: the package list is
	// still read whole, but only those paths are held. Owner and
	// ShippedMD5 then know nothing of other paths.
	Want func(path string) bool
	// MaxPackages and MaxPaths cap the packages and indexed paths whatever
	// the budget; zero means DefaultMaxPackages and DefaultMaxPaths.
	MaxPackages int
	MaxPaths    int
}

// Package is one installed package.
type Package struct {
	Name          string
	Arch          string
	Version       string
	Source        string // source package name (Name when the status has no Source field)
	SourceVersion string // source version (Version when the Source field gives none)
	Status        string // dpkg's state word: "installed", "unpacked", "config-files", ...
}

// String renders "name:arch version".
func (p Package) String() string {
	if p.Name == "" {
		return "(none)"
	}
	s := p.Name
	if p.Arch != "" {
		s += ":" + p.Arch
	}
	return s + " " + p.Version
}

// owner is one package's claim on a path, an element of DB.slab; next
// links the path's further claims (-1: none).
type owner struct {
	pkg      int32
	next     int32
	md5      [16]byte
	hasMD5   bool
	conffile bool
}

type pendingPkg struct {
	onDisk    bool
	conffiles []conffile
}

type diversion struct {
	to string // where other packages' copies go
	by string // the diverting package; "" for a local diversion
}

// DB is a dpkg database read from a root filesystem: the installed packages
// and, for each path their file lists name, the owning packages and the
// MD5 each shipped. Its methods are safe for concurrent use once Load has
// returned, Close excepted.
type DB struct {
	pkgs    []Package
	byKey   map[string]int32  // "name:arch" -> index in pkgs
	files   map[string]int32  // canonical path -> its first claim in slab
	slab    []owner           // claims; a path's claims are chained in package order
	aliases map[string]string // "/bin" -> "/usr/bin"
	divert  map[string]diversion
	warn    []string
	nwarn   int

	opt     Options
	ctx     context.Context
	held    budget.Hold
	pending []pendingPkg  // per package while loading
	br      *bufio.Reader // the read buffer of lines, while loading
}

// Load reads the dpkg database of the root filesystem fsys (paths without
// a leading slash): AdminDir/status, AdminDir/diversions when present, and
// each package's info/<name>[:<arch>].list and .md5sums. status-old and
// the other backups are never read. Everything is streamed; see Options
// for what is held and charged. Missing .list or .md5sums files are not
// errors: they are said in Warnings, and such a package's files are
// unknown (no list) or unverifiable (no checksums). An image without a
// dpkg database gives an error for which errors.Is(err, fs.ErrNotExist)
// holds.
func Load(fsys fs.FS, o Options) (*DB, error) {
	d := newDB(o.withDefaults())
	if err := d.loadStatus(fsys); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.loadPackages(fsys, nil); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.AdminDir == "" {
		o.AdminDir = "var/lib/dpkg"
	}
	if o.MaxPackages <= 0 {
		o.MaxPackages = DefaultMaxPackages
	}
	if o.MaxPaths <= 0 {
		o.MaxPaths = DefaultMaxPaths
	}
	return o
}

// newDB returns an empty DB for o, whose defaults are set.
func newDB(o Options) *DB {
	d := &DB{
		byKey: make(map[string]int32), files: make(map[string]int32),
		aliases: make(map[string]string), divert: make(map[string]diversion),
		opt: o, ctx: o.Context,
	}
	d.held, _ = o.Budget.Hold(0, "", -1)
	return d
}

// loadStatus reads what comes before the file lists: the root's usrmerge
// aliases, the diversions and the status (the packages).
func (d *DB) loadStatus(fsys fs.FS) error {
	d.findAliases(fsys)
	if err := d.readFile(fsys, path.Join(d.opt.AdminDir, "diversions"), true, d.parseDiversions); err != nil {
		return err
	}
	status := path.Join(d.opt.AdminDir, "status")
	return d.readFile(fsys, status, false, func(r io.Reader, f string) error { return d.parseStatus(r, f) })
}

// loadPackages reads each package's file list and checksums, or, when
// lists is set, only those of the packages it holds (the conffiles of
// every package are in the status, already read), and then lets go of
// what loading needed.
func (d *DB) loadPackages(fsys fs.FS, lists map[int32]bool) error {
	for i := range d.pkgs {
		if err := d.ctx.Err(); err != nil {
			return fmt.Errorf("pkgdb: reading the file lists: %w", err)
		}
		if err := d.loadPackage(fsys, int32(i), lists == nil || lists[int32(i)]); err != nil {
			return err
		}
		d.pending[i].conffiles = nil
	}
	d.pending, d.br = nil, nil
	return nil
}

// readFile opens name and hands it to parse; a missing file is an error
// unless optional.
func (d *DB) readFile(fsys fs.FS, name string, optional bool, parse func(io.Reader, string) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("pkgdb: %w", err)
	}
	defer f.Close()
	return parse(f, name)
}

// infoFile opens the first of info/<name>:<arch>.<ext> and
// info/<name>.<ext> that exists (dpkg names Multi-Arch: same packages'
// files with the architecture).
func (d *DB) infoFile(fsys fs.FS, p Package, ext string) (fs.File, string, error) {
	names := []string{p.Name + "." + ext}
	if p.Arch != "" {
		names = []string{p.Name + ":" + p.Arch + "." + ext, p.Name + "." + ext}
	}
	for _, n := range names {
		name := path.Join(d.opt.AdminDir, "info", n)
		f, err := fsys.Open(name)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, name, fmt.Errorf("pkgdb: %w", err)
		}
	}
	return nil, "", nil
}

// loadPackage reads package i's file list and checksums (when lists is
// set) and claims its conffiles.
func (d *DB) loadPackage(fsys fs.FS, i int32, lists bool) error {
	p, pend := d.pkgs[i], d.pending[i]
	if pend.onDisk && lists {
		f, name, err := d.infoFile(fsys, p, "list")
		if err != nil {
			return err
		}
		claimed := 0
		if f == nil {
			d.warnf("package %s: no file list in %s/info: its files are not attributed", p, d.opt.AdminDir)
		} else {
			var err error
			claimed, err = d.parseList(f, name, i, d.claimListed)
			f.Close()
			if err != nil {
				return err
			}
		}
		if d.opt.Want != nil && claimed == 0 {
			// It lists none of the wanted paths: its checksums are not
			// needed (most packages, when only the diverging files are).
			goto conffiles
		}
		f, name, err = d.infoFile(fsys, p, "md5sums")
		if err != nil {
			return err
		}
		if f == nil {
			d.warnf("package %s: no md5sums in %s/info: its files cannot be verified", p, d.opt.AdminDir)
		} else {
			err := d.parseMD5sums(f, name, i)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
conffiles:
	for _, c := range pend.conffiles {
		cp := d.place(c.path, p.Name)
		if d.opt.Want != nil && !d.opt.Want(cp) {
			continue
		}
		o, err := d.claim(cp, i, -1)
		if err != nil {
			return fmt.Errorf("pkgdb: conffile %s of %s: %w", c.path, p, err)
		}
		o.conffile = true
		o.md5 = [16]byte{}
		_, err = hex.Decode(o.md5[:], []byte(c.md5))
		o.hasMD5 = c.md5 != "" && err == nil
	}
	return nil
}

// claimListed is parseList's use of a listed path when loading: package i
// claims cp when Want accepts it.
func (d *DB) claimListed(cp string, i int32, off int64) (bool, error) {
	if d.opt.Want != nil && !d.opt.Want(cp) {
		return false, nil
	}
	_, err := d.claim(cp, i, off)
	return err == nil, err
}

// parseList reads a .list: one absolute path a line, each handed to use in
// its canonical place (use reports whether it kept it). It returns how
// many paths use kept.
func (d *DB) parseList(r io.Reader, file string, i int32, use func(cp string, i int32, off int64) (bool, error)) (int, error) {
	l := d.lines(r, file)
	name := d.pkgs[i].Name
	claimed := 0
	for {
		line, long, err := l.read()
		if err == io.EOF {
			return claimed, nil
		}
		if err != nil {
			return claimed, err
		}
		if long || len(line) > maxPathLen {
			return claimed, l.errf(ErrTooLong, "path longer than %d bytes", maxPathLen)
		}
		if len(line) == 0 || line[0] != '/' || bytes.IndexByte(line, 0) >= 0 {
			return claimed, l.errf(ErrMalformed, "not an absolute path: %q", clip(line))
		}
		p := string(line)
		if p == "/." || p == "/" {
			continue
		}
		kept, err := use(d.place(p, name), i, l.off)
		if err != nil {
			return claimed, l.errAt(err)
		}
		if kept {
			claimed++
		}
	}
}

// parseMD5sums reads "<md5>  <relative path>" lines.
func (d *DB) parseMD5sums(r io.Reader, file string, i int32) error {
	l := d.lines(r, file)
	name := d.pkgs[i].Name
	unlisted := 0
	for {
		line, long, err := l.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if long || len(line) > maxPathLen+34 {
			return l.errf(ErrTooLong, "line longer than %d bytes", maxPathLen+34)
		}
		if len(line) == 0 {
			continue
		}
		if len(line) < 35 || !isMD5(string(line[:32])) || line[32] != ' ' || (line[33] != ' ' && line[33] != '*') {
			return l.errf(ErrMalformed, "not \"<md5>  <path>\": %q", clip(line))
		}
		rel := strings.TrimPrefix(string(line[34:]), "/")
		cp := d.place("/"+rel, name)
		if d.opt.Want != nil && !d.opt.Want(cp) {
			continue
		}
		o := d.find(cp, i)
		if o == nil {
			unlisted++
			continue
		}
		if _, err := hex.Decode(o.md5[:], line[:32]); err != nil {
			return l.errf(ErrMalformed, "checksum %q", line[:32])
		}
		o.hasMD5 = true
	}
	if unlisted > 0 {
		d.warnf("package %s: %d md5sums path(s) not in its file list, ignored", d.pkgs[i], unlisted)
	}
	return nil
}

// parseDiversions reads dpkg's diversions file: three lines per
// diversion (the original path, where other packages' copies go, the
// diverting package or ":" for a local diversion).
func (d *DB) parseDiversions(r io.Reader, file string) error {
	l := d.lines(r, file)
	var three [3]string
	n := 0
	for {
		line, long, err := l.read()
		if err == io.EOF {
			if n != 0 {
				return l.errf(ErrMalformed, "diversion truncated after %d of 3 lines", n)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if long || len(line) > maxPathLen {
			return l.errf(ErrTooLong, "line longer than %d bytes", maxPathLen)
		}
		if n < 2 && (len(line) == 0 || line[0] != '/') {
			return l.errf(ErrMalformed, "not an absolute path: %q", clip(line))
		}
		three[n] = string(line)
		n++
		if n < 3 {
			continue
		}
		n = 0
		if len(d.divert) >= maxDiversions {
			return l.errf(ErrLimit, "more than %d diversions", maxDiversions)
		}
		if err := d.charge(int64(len(three[0])+len(three[1])+len(three[2]))+diversionCst, "dpkg diversions", l.off); err != nil {
			return l.errAt(err)
		}
		by := three[2]
		if by == ":" {
			by = ""
		}
		d.divert[d.canon(three[0])] = diversion{to: d.canon(three[1]), by: by}
	}
}

// place returns where a path package pkg lists is in the image: its
// canonical form, moved to the diversion's target when another package
// (or the local admin) diverted it.
func (d *DB) place(p, pkg string) string {
	cp := d.canon(p)
	if dv, ok := d.divert[cp]; ok && dv.by != pkg {
		return dv.to
	}
	return cp
}

// claim records that package i lists cp and returns its claim. Packages
// are loaded in status order, so a path's chain is in status order.
func (d *DB) claim(cp string, i int32, off int64) (*owner, error) {
	first, ok := d.files[cp]
	if ok {
		if o := d.find(cp, i); o != nil {
			return o, nil
		}
	} else if len(d.files) >= d.opt.MaxPaths {
		return nil, errorf(ErrLimit, "more than %d paths", d.opt.MaxPaths)
	}
	if len(d.slab) >= math.MaxInt32 {
		return nil, errorf(ErrLimit, "more than %d claims", math.MaxInt32)
	}
	cost, what := int64(extraCost), "dpkg file index (shared paths)"
	if !ok {
		cost, what = int64(len(cp))+pathCost, "dpkg file index"
	}
	if err := d.charge(cost, what, off); err != nil {
		return nil, err
	}
	n := int32(len(d.slab))
	d.slab = append(d.slab, owner{pkg: i, next: -1})
	if !ok {
		d.files[cp] = n
	} else {
		k := first
		for d.slab[k].next >= 0 {
			k = d.slab[k].next
		}
		d.slab[k].next = n
	}
	return &d.slab[n], nil
}

// find returns package i's claim on cp, or nil.
func (d *DB) find(cp string, i int32) *owner {
	k, ok := d.files[cp]
	if !ok {
		return nil
	}
	for ; k >= 0; k = d.slab[k].next {
		if d.slab[k].pkg == i {
			return &d.slab[k]
		}
	}
	return nil
}

func (d *DB) charge(n int64, what string, off int64) error {
	return d.held.Grow(n, what, off)
}

func (d *DB) release(n int64) {
	if n > d.held.Size() {
		n = d.held.Size()
	}
	d.opt.Budget.Release(n)
	d.held.Grow(-n, "", -1)
}

func (d *DB) warnf(format string, args ...any) {
	d.nwarn++
	if len(d.warn) < maxWarnings {
		d.warn = append(d.warn, fmt.Sprintf(format, args...))
	}
}

// Close gives back the budget the DB holds; the DB must not be used after.
func (d *DB) Close() {
	d.held.Release()
	d.files, d.slab = nil, nil
}

// Warnings returns what Load found incomplete but not fatal (a package
// without a file list or checksums, checksums for unlisted paths, a top
// level symlink it could not read), at most 64, and how many there were.
func (d *DB) Warnings() ([]string, int) { return d.warn, d.nwarn }

// Packages returns the installed packages (every status but
// not-installed), in status file order.
func (d *DB) Packages() []Package { return append([]Package(nil), d.pkgs...) }

// Aliases returns the top-level directory aliases found in the image
// ("/bin" -> "/usr/bin" on a merged-/usr system).
func (d *DB) Aliases() map[string]string {
	m := make(map[string]string, len(d.aliases))
	for k, v := range d.aliases {
		m[k] = v
	}
	return m
}

// Paths returns how many paths the index holds.
func (d *DB) Paths() int { return len(d.files) }

// clean turns a query ("usr/bin/tar", "/usr/bin/tar") into the index's
// canonical form.
func (d *DB) clean(p string) string {
	return d.canon(path.Clean("/" + p))
}

// claims returns every claim on p, first claim first.
func (d *DB) claims(p string) []owner {
	k, ok := d.files[d.clean(p)]
	if !ok {
		return nil
	}
	var out []owner
	for ; k >= 0; k = d.slab[k].next {
		out = append(out, d.slab[k])
	}
	return out
}

// Owner returns the package that lists path (absolute or fs-style), after
// resolving top-level directory aliases (usrmerge) and diversions. When
// several packages list it (a directory, a Multi-Arch: same file), the
// first in status order is returned; Owners returns all.
func (d *DB) Owner(p string) (Package, bool) {
	c := d.claims(p)
	if len(c) == 0 {
		return Package{}, false
	}
	return d.pkgs[c[0].pkg], true
}

// Owners returns every package that lists path, in status order.
func (d *DB) Owners(p string) []Package {
	c := d.claims(p)
	out := make([]Package, 0, len(c))
	for _, o := range c {
		out = append(out, d.pkgs[o.pkg])
	}
	return out
}

// ShippedMD5 returns, as lowercase hex, the MD5 the owning package (as
// Owner picks it) shipped for path: from its .md5sums, or for a conffile
// from the Conffiles field of the status. False when the path is not
// owned, or its package has no checksum for it (no .md5sums, a
// directory or symlink, a conffile not yet configured).
func (d *DB) ShippedMD5(p string) (string, bool) {
	o, ok := d.primary(p)
	if !ok || !o.hasMD5 {
		return "", false
	}
	return hex.EncodeToString(o.md5[:]), true
}

// IsConffile reports whether the owning package declares path a conffile.
func (d *DB) IsConffile(p string) bool {
	o, ok := d.primary(p)
	return ok && o.conffile
}

func (d *DB) primary(p string) (owner, bool) {
	c := d.claims(p)
	if len(c) == 0 {
		return owner{}, false
	}
	return c[0], true
}

func errorf(base error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{base}, args...)...)
}
