// Package erofsdiff compares two EROFS images read in place (any
// io.ReaderAt: a file, or an io.SectionReader over the ISO that holds
// them), as sqfsdiff does for squashfs.
//
// It works in the order a person would, cheap to expensive:
//   - Superblock: every on-disk field, by name; fields that only record
//     where things were placed (block counts, table addresses, the root's
//     nid, the checksum) are reported apart, as derived.
//   - Metadata: one merge-walk of the two trees (both yield nodes in
//     tree.Compare order), comparing type, full mode, owner, size, mtime,
//     symlink target, device numbers, xattrs and link count, and writing the
//     unified diff of the two listings as it goes. Nothing but the stack of
//     open directories is held in memory.
//   - Content: regular files present in both images are compared extent
//     by extent. When both files cut their data at the same offsets (same
//     size, block size and compression settings, the usual case for two
//     builds of one tree), an extent whose stored (compressed) bytes are
//     identical is identical without decompressing anything, and only the
//     extents whose stored bytes differ are decoded; their spans are kept,
//     so an explanation can read just those. Otherwise both files are
//     decoded as streams and compared to the first differing byte.
//
// Files are matched by path, never by nid: nids and block addresses differ
// between two builds of the same tree.
package erofsdiff

import (
	"context"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/erofs"
	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/tree"
)

// Options control a comparison.
type Options struct {
	// Scope labels the findings, e.g. report.ContainerScope("erofs",
	// "/LiveOS/squashfs.img"); the zero Scope leaves them unlabelled.
	Scope report.Scope
	// NameA and NameB head the listing diff.
	NameA, NameB string
	// IgnoreMtime leaves modification times out of the metadata comparison.
	IgnoreMtime bool
	// MaxListingDiffBytes caps the listing diff text (16 MiB if zero).
	MaxListingDiffBytes int
	// Workers is how many file pairs are compared at once (GOMAXPROCS if
	// zero).
	Workers int
	// SameStored, when set, reports whether the n stored bytes at offset
	// off (from each image's start) are known to be equal in both images
	// without reading them: a caller that has compared the two images
	// chunk by chunk already (isodiff's hashing pass) saves reading again
	// the extents that sit at one offset in both. It must be exact.
	SameStored func(off, n int64) bool
	// Budget is charged for the findings kept (the readers charge their
	// own). When it refuses one, the walk ends with the refusal.
	Budget *budget.Budget
	// Compared, when set, is told how many regular-file pairs have been
	// compared so far, as the count grows (for progress reports).
	Compared func(n int)
}

// Problem is an error met on one path while the comparison went on.
type Problem struct {
	Path string
	Err  error
}

// MetadataResult is what Metadata found.
type MetadataResult struct {
	Findings    []report.Finding
	ListingDiff string
	Problems    []Problem
}

// Superblock compares the two superblocks field by field. It returns nil
// when they agree.
func Superblock(a, b *erofs.Reader, opts Options) []report.Finding {
	var out []report.Finding
	own, placed := field.Split(field.Diff(a.Super.Fields(), b.Super.Fields()), superblockLayout)
	if len(own) > 0 {
		out = append(out, report.Finding{Scope: opts.Scope, Path: "superblock", Kind: report.KindHeader, Fields: own})
	}
	if len(placed) > 0 {
		out = append(out, report.Finding{Scope: opts.Scope, Path: "superblock layout", Kind: report.KindHeader, Fields: placed, Derived: true})
	}
	return out
}

// superblockLayout tells the superblock fields that record counts and
// where things were placed, and the checksum over them: they change
// whenever the content does, so they are reported apart, as following from
// the other differences.
func superblockLayout(name string) bool {
	switch name {
	case "checksum", "inodes", "blocks", "meta_blkaddr", "xattr_blkaddr", "root_nid", "packed_nid":
		return true
	}
	return false
}

func (o Options) treeOptions() treediff.Options {
	return treediff.Options{IgnoreMtime: o.IgnoreMtime, IgnoreDirSize: true}
}

func node(e *erofs.Entry) *tree.Node { return &e.Node }

// Metadata merge-walks both trees and reports added, removed and changed
// nodes, with the unified diff of the two listings. A walk error ends the
// walk (the rest of the tree cannot be paired reliably) and is returned
// with what was found so far.
func Metadata(ctx context.Context, a, b *erofs.Reader, opts Options) (*MetadataResult, error) {
	meta, _, err := compare(ctx, a, b, opts, true, false)
	return meta, err
}

// ContentResult is what Content found.
type ContentResult struct {
	Findings []report.Finding
	// Pairs holds, for each finding, the two entries compared, so a caller
	// can open them again to explain the difference.
	Pairs [][2]*erofs.Entry
	// Spans holds, for each finding, the byte ranges outside which the two
	// files are proven equal (their stored extents are equal), so that an
	// explanation need only read those; nil when not known (sizes, extent
	// boundaries or codecs differ). They are whole extents, a superset of
	// the differences.
	Spans    [][]report.Range
	Problems []Problem
	// Compared counts regular-file pairs compared; SameByRaw counts those
	// proven identical from their compressed bytes alone.
	Compared, SameByRaw int
	// KnownStored counts the stored bytes (per image) found equal through
	// Options.SameStored, without reading them: each stored range once,
	// however many files share it.
	KnownStored int64
}

// Content compares the bytes of every regular file present in both images.
// A file that cannot be read is recorded as a Problem and the walk goes on;
// a walk error ends it and is returned.
func Content(ctx context.Context, a, b *erofs.Reader, opts Options) (*ContentResult, error) {
	_, content, err := compare(ctx, a, b, opts, false, true)
	return content, err
}

// Compare does what Metadata and Content do, in one merge-walk of the two
// trees: each image's metadata is read once.
func Compare(ctx context.Context, a, b *erofs.Reader, opts Options) (*MetadataResult, *ContentResult, error) {
	return compare(ctx, a, b, opts, true, true)
}

// compare merge-walks the two trees once (treediff.Schedule): it compares
// metadata as it goes (doMeta) and hands runs of consecutive regular-file
// pairs to opts.Workers comparers (default GOMAXPROCS) so that decoding is
// spread over the cores (doContent). Findings come back in walk order.
func compare(ctx context.Context, a, b *erofs.Reader, opts Options, doMeta, doContent bool) (*MetadataResult, *ContentResult, error) {
	lister := treediff.Lister{Scope: opts.Scope, Opts: opts.treeOptions(), Budget: opts.Budget,
		Diff: treediff.Unified{NameA: opts.NameA, NameB: opts.NameB, MaxBytes: opts.MaxListingDiffBytes}}
	wa, wb := a.Walk(), b.Walk()
	s := treediff.Schedule[*erofs.Entry]{NextA: wa.Next, NextB: wb.Next, CloseA: wa.Close, CloseB: wb.Close, Node: node,
		Workers: opts.Workers, Scope: opts.Scope, Budget: opts.Budget, Compared: opts.Compared}
	if doMeta {
		s.Lister = &lister
	}
	if doContent {
		vouched := &treediff.Vouched{Budget: opts.Budget}
		s.NewComparer = func() treediff.FileComparer[*erofs.Entry] {
			return newComparer(a, b, opts.SameStored, opts.Budget, vouched)
		}
	}
	r, err := s.Run(ctx)
	meta := &MetadataResult{Findings: lister.Findings, ListingDiff: lister.Diff.String()}
	res := &ContentResult{Findings: r.Findings, Pairs: r.Pairs, Spans: r.Spans,
		Compared: r.Compared, SameByRaw: r.SameByRaw, KnownStored: r.KnownStored}
	for _, p := range r.Problems {
		res.Problems = append(res.Problems, Problem(p))
	}
	return meta, res, err
}
