// Package sqfsdiff compares two squashfs images read in place (any
// io.ReaderAt: a file, or an io.SectionReader over the ISO that holds them).
//
// It works in the order a person would, cheap to expensive:
//   - Superblock: every on-disk field and the compressor options, by name.
//   - Metadata: one merge-walk of the two inode trees (both yield nodes in
//     tree.Compare order), comparing type, full mode, owner, size, mtime,
//     symlink target, device numbers, xattrs and link count, and writing the
//     unified diff of the two listings as it goes. Nothing but the stack of
//     open directories is held in memory.
//   - Content: a second merge-walk over regular files present in both
//     images. When both images use the same compressor, options and block
//     size, a file whose stored (compressed) blocks and fragment bytes are
//     identical is identical without decompressing anything, and only the
//     blocks whose stored bytes differ are decoded (their spans are kept, so
//     an explanation can read just those); otherwise both files are
//     decompressed as streams and compared chunk by chunk to the first
//     differing byte. A caller that has compared the images already
//     (Options.SameStored) saves reading blocks at one offset again.
//     In practice one walk does both (Compare).
//
// Readers opened with one squashfs.DecodeCache (Options.Shared) decode a
// block both images store alike once: two builds store most blocks byte
// for byte the same, often at other offsets.
//
// Files are matched by path, never by inode number: inode numbers and
// fragment positions differ between two builds of the same tree.
package sqfsdiff

import (
	"context"
	"strings"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/treediff"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
	"github.com/isodiff/isodiff/tree"
)

// Options control a comparison.
type Options struct {
	// Scope labels the findings, e.g. report.ContainerScope("squashfs",
	// "/live/filesystem.squashfs"); the zero Scope leaves them unlabelled.
	Scope report.Scope
	// NameA and NameB head the listing diff.
	NameA, NameB string
	// IgnoreMtime leaves modification times out of the metadata comparison.
	IgnoreMtime bool
	// ListingWithoutMtime leaves them out of the listing diff only: they
	// are still compared and reported.
	ListingWithoutMtime bool
	// MaxListingDiffBytes caps the listing diff text (16 MiB if zero).
	MaxListingDiffBytes int
	// Workers is how many file pairs are compared at once (GOMAXPROCS if
	// zero).
	Workers int
	// SameStored, when set, reports whether the n stored bytes at offset
	// off (from each image's start) are known to be equal in both images
	// without reading them: a caller that has compared the two images
	// chunk by chunk already (isodiff's hashing pass) saves reading again
	// the blocks that sit at one offset in both. It must be exact.
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

// Superblock compares the two superblocks and compressor options field by
// field. It returns nil when they agree.
func Superblock(a, b *squashfs.Reader, opts Options) []report.Finding {
	var out []report.Finding
	own, placed := field.Split(field.Diff(a.Super.Fields(), b.Super.Fields()), superblockLayout)
	if len(own) > 0 {
		out = append(out, report.Finding{Scope: opts.Scope, Path: "superblock", Kind: report.KindHeader, Fields: own})
	}
	if len(placed) > 0 {
		out = append(out, report.Finding{Scope: opts.Scope, Path: "superblock layout", Kind: report.KindHeader, Fields: placed, Derived: true})
	}
	if ch := field.Diff(a.Options.Fields(), b.Options.Fields()); len(ch) > 0 {
		out = append(out, report.Finding{Scope: opts.Scope, Path: "compressor options", Kind: report.KindHeader, Fields: ch})
	}
	return out
}

// superblockLayout tells the superblock fields that record counts and
// where tables were placed: they change whenever the content does, so they
// are reported apart, as following from the other differences.
func superblockLayout(name string) bool {
	switch name {
	case "inode_count", "fragment_count", "id_count", "root_inode", "bytes_used":
		return true
	}
	return strings.HasSuffix(name, "_table_start")
}

func (o Options) treeOptions() treediff.Options {
	return treediff.Options{IgnoreMtime: o.IgnoreMtime, IgnoreDirSize: true, ListingWithoutMtime: o.ListingWithoutMtime}
}

func node(e *squashfs.Entry) *tree.Node { return &e.Node }

// Metadata merge-walks both trees and reports added, removed and changed
// nodes, with the unified diff of the two listings. A walk error ends the
// walk (the rest of the tree cannot be paired reliably) and is returned
// with what was found so far.
func Metadata(ctx context.Context, a, b *squashfs.Reader, opts Options) (*MetadataResult, error) {
	meta, _, err := compare(ctx, a, b, opts, true, false)
	return meta, err
}

// ContentResult is what Content found.
type ContentResult struct {
	Findings []report.Finding
	// Pairs holds, for each finding, the two entries compared, so a caller
	// can open them again to explain the difference.
	Pairs [][2]*squashfs.Entry
	// Spans holds, for each finding, the byte ranges outside which the two
	// files are proven equal (their compressed blocks are equal), so that
	// an explanation need only read those; nil when not known (sizes or
	// codecs differ). They are whole blocks, a superset of the differences.
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
func Content(ctx context.Context, a, b *squashfs.Reader, opts Options) (*ContentResult, error) {
	_, content, err := compare(ctx, a, b, opts, false, true)
	return content, err
}

// Compare does what Metadata and Content do, in one merge-walk of the two
// trees: each image's metadata is read and decompressed once.
func Compare(ctx context.Context, a, b *squashfs.Reader, opts Options) (*MetadataResult, *ContentResult, error) {
	return compare(ctx, a, b, opts, true, true)
}

// compare merge-walks the two trees once (treediff.Schedule): it compares
// metadata as it goes (doMeta) and hands runs of consecutive regular-file
// pairs to opts.Workers comparers (default GOMAXPROCS) so that decoding is
// spread over the cores (doContent). Runs keep neighbours together: files
// packed into the same fragment block are compared by one worker, which
// decodes that block once. Findings come back in walk order.
func compare(ctx context.Context, a, b *squashfs.Reader, opts Options, doMeta, doContent bool) (*MetadataResult, *ContentResult, error) {
	lister := treediff.Lister{Scope: opts.Scope, Opts: opts.treeOptions(), Budget: opts.Budget,
		Diff: treediff.Unified{NameA: opts.NameA, NameB: opts.NameB, MaxBytes: opts.MaxListingDiffBytes}}
	wa, wb := a.Walk(), b.Walk()
	s := treediff.Schedule[*squashfs.Entry]{NextA: wa.Next, NextB: wb.Next, CloseA: wa.Close, CloseB: wb.Close, Node: node,
		Workers: opts.Workers, Scope: opts.Scope, Budget: opts.Budget, Compared: opts.Compared}
	if doMeta {
		s.Lister = &lister
	}
	if doContent {
		vouched := &treediff.Vouched{Budget: opts.Budget}
		s.NewComparer = func() treediff.FileComparer[*squashfs.Entry] { return newComparer(a, b, opts.SameStored, vouched) }
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
