// Package pkgdb attributes diverging files of a Debian root filesystem to
// the packages that installed them, and says from the shipped checksums why
// each differs.
//
// Load reads dpkg's database from a root filesystem given as an io/fs.FS
// (an extracted tree through os.DirFS, or a squashfs image through
// SquashfsFS / LoadSquashfs): var/lib/dpkg/status, info/<pkg>[:<arch>].list
// and .md5sums, and diversions when present; status-old and the other
// backups are never read. Owner, Owners and ShippedMD5 answer for one path.
// Attribute compares the two images' databases for one diverging file,
// given the MD5 of its bytes on each side (MD5 computes it), and returns a
// Verdict; Group folds many attributions into a few lines, one per package
// change and one per top directory of unowned files.
//
// A caller with two squashfs readers and the diverging files does:
//
//	o := pkgdb.Options{Budget: bud, Context: ctx}
//	dbA, err := pkgdb.LoadSquashfs(ra, o) // errors.Is(err, fs.ErrNotExist): no dpkg database
//	dbB, err := pkgdb.LoadSquashfs(rb, o)
//	defer dbA.Close(); defer dbB.Close()
//	// files: []pkgdb.File{Path: "/usr/bin/tar", MD5A: ..., MD5B: ...},
//	// the MD5s from pkgdb.MD5(ra.Open(entry)) ("" when not hashed)
//	attrs := pkgdb.AttributeAll(dbA, dbB, files)
//	groups := pkgdb.Group(attrs, pkgdb.GroupOptions{})
//
// Paths are the image's own (what a squashfs walk yields), absolute or
// fs-style. To hold only the diverging paths, set Options.Want to a set
// lookup of them: the image's paths are the canonical ones Want sees.
//
// When the database must be read before the diverging paths are known
// (isodiff reads it while the images are still being hashed), NewIndex
// (NewIndexSquashfs) reads it whole but holds only a hash of each listed
// path and the package listing it, 8 bytes a listing; Index.Load(paths)
// then reads again only the lists and checksums of the packages whose
// hashes match, and returns the DB Load with Want would have.
//
// # What counts as installed
//
// Every status paragraph whose state (the Status field's third word) is
// not "not-installed": installed, half-configured, unpacked,
// half-installed, triggers-awaited and triggers-pending packages own the
// paths of their .list; a config-files package (removed, not purged) owns
// only its conffiles. Package.Status keeps the word.
//
// # Checksums
//
// A file's shipped MD5 comes from the package's .md5sums; a conffile's
// from the Status file's Conffiles field (dpkg does not keep conffiles in
// .md5sums, and the field holds the checksum of the version the package
// last installed). "newconffile" (not configured yet) is no checksum.
//
// # usrmerge
//
// Packages built before the /usr merge list /bin/tar; on a merged image
// /bin is a symlink to usr/bin and the file is at /usr/bin/tar. Load reads
// the root directory's symlinks through fs.ReadLinkFS and, for those that
// lead to a directory, keys every listed path under its target:
// Owner("/usr/bin/tar") and Owner("/bin/tar") both find the package that
// listed /bin/tar. Only the first component is resolved; the link itself ("/bin")
// stays as listed. dpkg -S does not resolve aliases: it answers for the
// listed spelling only.
//
// # Diversions
//
// A diversion (original, diverted-to, package) sends every other
// package's copy of the original to the diverted-to path; the diverting
// package's own copy stays. The index follows that: the original path
// belongs to the diverting package (when it ships one), and the
// diverted-to path to the packages whose lists name the original, with
// their checksums for it. A local diversion (package ":") diverts every
// package's copy. Diversions of diversions are not followed.
//
// # Verdicts
//
// Attribute tries, in order: NotOwned (no package lists it on either
// side), OwnedOneSide, PackageDiffers (the owner's name, architecture or
// version differs, whether the bytes differ or only metadata such as the
// times the new package set), SameContent (same version, equal bytes: the
// build changed metadata), ChangedAfterInstall (same version, and the bytes do not match the
// shipped MD5 on at least one side), ShippedThisWay (same version, the
// bytes match on each side, the shipped MD5s differ), Unverified (same
// version, a checksum is missing). A version that moved is reported as
// PackageDiffers even when the build also changed the file; Side.Modified
// keeps that fact. The same version with different shipped checksums is
// ShippedThisWay rather than PackageDiffers: a Debian archive never holds
// two different builds of one version, so two of them means a package
// built outside it (a local package rebuilt during the build, a rebuilt
// repository): the package itself is not reproducible.
//
// # Bounds
//
// The database comes from an untrusted image. Files are streamed line by
// line through a 64 KiB buffer: a longer line is skipped without being
// held when its field is not used (a Description) and is an error
// otherwise; used fields are capped at 4 KiB and paths at 4096 bytes.
// What the index holds (packages, paths, claims, conffiles, diversions)
// is charged to Options.Budget as it grows and given back by Close, and
// capped by MaxPackages and MaxPaths whatever the budget; Options.Want
// narrows the path index to the paths of interest. The charge is close to
// the heap the index takes: on a 783-package system (110,000 paths) it
// charged 14.7 MB for 15.2 MB of heap, about 140 bytes a path. The context is checked
// every 1024 lines and at every 64 KiB of an over-long line. Errors are
// *ParseError values naming the file, the line and its byte offset.
//
// # Tests
//
// The tests build real databases: .deb packages made with dpkg-deb and
// installed with dpkg --root into two merged-/usr roots (three packages
// upgraded across 10,000 files, a conffile and a file the build edits, a
// package built twice under one version, a package whose md5sums are gone,
// one installed on one side only, Multi-Arch: same twins, a diversion),
// read through os.DirFS and through mksquashfs images, checked against
// dpkg-query -W, dpkg -S, dpkg --verify and md5sum; and this machine's own
// database, copied, against the same tools. Generated files of gigabytes,
// endless paragraphs and random bytes check the bounds.
package pkgdb
