package pkgdb

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"strings"
)

// Verdict is why one diverging file differs, as the package databases and
// checksums of both sides tell it.
type Verdict uint8

// The verdicts, in the order Attribute tries them.
const (
	// NotOwned: no package lists the path on either side: made during the build.
	NotOwned Verdict = iota
	// OwnedOneSide: a package lists the path on one side only (the package set changed, or the build made it on the other).
	OwnedOneSide
	// PackageDiffers: the owning package's name, architecture or version differs between A and B: the mirror or snapshot pin moved.
	PackageDiffers
	// SameContent: same package version, and the bytes are equal on both sides (md5A == md5B): the divergence is in metadata the build changed (mode, times, owner).
	SameContent
	// ChangedAfterInstall: same package version on both sides, but on at least one side the bytes no longer match the MD5 the package shipped: the build (a maintainer script, a hook) changed the file.
	ChangedAfterInstall
	// ShippedThisWay: same package version on both sides, the two shipped MD5s differ and each side's bytes are what its package shipped (or were not hashed): two different builds of one version were installed, the package itself is not reproducible.
	ShippedThisWay
	// Unverified: same package version on both sides, but a shipped MD5 or the bytes' MD5 is missing (no .md5sums, a directory or symlink, a conffile not yet configured), so the build and the package cannot be told apart.
	Unverified
	// NumVerdicts is the number of verdicts, the length of FileGroup.Verdicts.
	NumVerdicts
)

var verdictNames = [...]string{
	NotOwned:            "not owned by any package (made during the build)",
	OwnedOneSide:        "owned by a package on one side only",
	SameContent:         "same package version and bytes (metadata differs)",
	PackageDiffers:      "package differs between A and B",
	ChangedAfterInstall: "changed after installation by the build",
	ShippedThisWay:      "shipped this way (same version, different package builds)",
	Unverified:          "same package version, no checksum to verify",
}

var verdictKeys = [...]string{
	NotOwned:            "not_owned",
	OwnedOneSide:        "owned_one_side",
	SameContent:         "same_content",
	PackageDiffers:      "package_differs",
	ChangedAfterInstall: "changed_after_install",
	ShippedThisWay:      "shipped_this_way",
	Unverified:          "unverified",
}

// String is the verdict's one-line meaning.
func (v Verdict) String() string {
	if v < NumVerdicts {
		return verdictNames[v]
	}
	return "unknown verdict"
}

// Key is a stable identifier for reports ("package_differs", ...).
func (v Verdict) Key() string {
	if v < NumVerdicts {
		return verdictKeys[v]
	}
	return "unknown"
}

// Side is what one image's database says about a diverging file.
type Side struct {
	Owned    bool
	Package  Package // the owner as DB.Owner picks it; zero when not owned
	Owners   int     // packages listing the path (more than 1: a shared directory, a Multi-Arch: same file)
	Conffile bool    // the package declares it a conffile
	Shipped  string  // the MD5 the package shipped, lowercase hex; "" when unknown
	Actual   string  // the MD5 of the bytes in the image as the caller gave it; "" when not computed
}

// Modified reports whether the bytes are known not to be what the package
// shipped.
func (s Side) Modified() bool {
	return s.Shipped != "" && s.Actual != "" && s.Shipped != s.Actual
}

// Attribution is the verdict on one diverging file.
type Attribution struct {
	Path    string
	A, B    Side
	Verdict Verdict
}

// String renders the attribution on one line: the path, the owners
// ("alpha 1.0 -> 1.1", "conf 1.0") and the verdict.
func (a Attribution) String() string {
	g := FileGroup{Owned: a.A.Owned || a.B.Owned, Dir: a.Path}
	if a.A.Owned {
		g.A = a.A.Package
	}
	if a.B.Owned {
		g.B = a.B.Package
	}
	if !g.Owned {
		return a.Path + ": " + a.Verdict.String()
	}
	return a.Path + ": " + g.Name() + " " + g.Versions() + ": " + a.Verdict.String()
}

// File is one diverging file: its path in both images and the MD5 of its
// bytes on each side ("" for a directory, symlink or file not hashed).
type File struct {
	Path       string
	MD5A, MD5B string
}

func side(db *DB, p, actual string) Side {
	s := Side{Actual: strings.ToLower(actual)}
	if db == nil {
		return s
	}
	c := db.claims(p)
	if len(c) == 0 {
		return s
	}
	o := c[0]
	s.Owned, s.Package, s.Owners, s.Conffile = true, db.pkgs[o.pkg], len(c), o.conffile
	if o.hasMD5 {
		s.Shipped = hex.EncodeToString(o.md5[:])
	}
	return s
}

// Attribute gives the verdict on one diverging file: a and b are the
// databases of the two images (nil: none), path the file's path (absolute
// or fs-style; usrmerge aliases and diversions are resolved), md5A and
// md5B the MD5s of its bytes on each side (hex, "" when not computed). The
// verdicts are tried in their declaration order: ownership first, then
// the package's identity, then equal bytes, then the checksums.
func Attribute(a, b *DB, path string, md5A, md5B string) Attribution {
	at := Attribution{Path: path, A: side(a, path, md5A), B: side(b, path, md5B)}
	A, B := at.A, at.B
	same := func(p, q Package) bool { return p.Name == q.Name && p.Arch == q.Arch && p.Version == q.Version }
	switch {
	case !A.Owned && !B.Owned:
		at.Verdict = NotOwned
	case A.Owned != B.Owned:
		at.Verdict = OwnedOneSide
	case !same(A.Package, B.Package):
		at.Verdict = PackageDiffers
	case A.Actual != "" && A.Actual == B.Actual:
		at.Verdict = SameContent
	case A.Modified() || B.Modified():
		at.Verdict = ChangedAfterInstall
	case A.Shipped != "" && B.Shipped != "" && A.Shipped != B.Shipped:
		at.Verdict = ShippedThisWay
	default:
		at.Verdict = Unverified
	}
	return at
}

// AttributeAll attributes each file with Attribute, in order.
func AttributeAll(a, b *DB, files []File) []Attribution {
	out := make([]Attribution, len(files))
	for i, f := range files {
		out[i] = Attribute(a, b, f.Path, f.MD5A, f.MD5B)
	}
	return out
}

// MD5 returns the MD5 of everything r yields, as lowercase hex.
func MD5(r io.Reader) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
