// Package explain says how, and probably why, two versions of one file
// differ: the built-in, in-process replacement for running diffoscope on
// everything.
//
// Explain is given two streams (each can be opened again as often as
// needed) and picks a format-aware comparison by the files' first bytes,
// never by their names:
//
//   - gzip: the header fields (mtime, OS, name, comment, extra, flags) and
//     the decompressed payload, compared recursively;
//   - xz, zstd, bzip2, lz4: the decompressed payload, recursively;
//   - ELF (debug/elf): differing sections, build-id notes, .gnu_debuglink,
//     and the strings (embedded paths) that differ in differing sections;
//   - cpio (newc, crc, odc), including an initramfs made of concatenated
//     segments (uncompressed early microcode, then a compressed archive),
//     ar (and .deb), tar, zip (and jar), and FAT images: the member listing
//     (order, times, owners, modes, sizes) and each differing member's
//     contents, recursively;
//   - Python .pyc: the header (magic, flags, source mtime and size, or
//     source hash) and the marshalled code object;
//   - text: a unified diff;
//   - anything else: the differing byte ranges with a hex window each.
//
// Each Result carries a one-line Summary, Details, a Hint naming the likely
// cause (reproducible-builds.org issue names where one fits, such as
// timestamps_in_gzip_headers or build_id_differences_only), and Complete,
// which says the whole difference is accounted for, so that an external
// tool would add nothing (the caller then skips diffoscope).
//
// # Bounds
//
// Memory stays bounded whatever the input: files are streamed; formats that
// need random access (ELF, zip, FAT) are spooled to a private temporary
// directory, and only when both sides are under Options.MaxSpoolBytes (all
// spool files of one call together under 4 times that) — unless the caller
// gives random access itself (Input.At). With Input.At on both sides and
// Options.Spans (the only ranges where two inputs of one size can differ,
// e.g. from equal compressed blocks), byte comparisons read only the spans
// and ELF sections outside them count as equal unread: a 100 MB library
// inside a squashfs costs a few decoded blocks. Archive members are never
// extracted by name: spool files get generated names inside the private
// directory, so a member called ../x or /etc/x cannot write anywhere
// (SafeJoin confines names for callers that do want names). Every
// decompressed stream is cut off at MaxStreamBytes, recursion stops at
// MaxDepth, archive listings at MaxMembers, the comparisons of one call at
// MaxResults (at every depth together, so nested archives do not multiply
// the work), and every length read from a file is checked against what
// remains.
//
// # The memory budget
//
// Explain charges to the budget its context carries (budget.FromContext;
// none is unlimited) everything it holds because the input said so, and
// releases it when the structure is dropped: each listed archive member
// (with its fields), the names of a walk, a decoder's window as the
// stream's header declares it (an xz dictionary, a zstd window, bzip2 and
// lz4 blocks: the decoder is limited to what was charged), debug/elf's
// section and program headers and every section name (charged before
// debug/elf reads them), archive/zip's central directory (charged before
// it is read), an ar long-name table, a FAT and its directories, entries
// and cluster maps, the strings of differing sections, the buffers and
// lines of a text diff, range scans, and the results made (released when
// Explain returns; Result.Size is what a caller keeping them should
// charge). Listings keep of a long value (a name, a link target, a PAX
// record, an extra field) its first 256 bytes, its length and SHA-256
// digest, so that values still compare exactly; tar is read by a streaming
// reader of this package for that reason (archive/tar reads each PAX
// header and long name whole). A refused charge ends the comparison: the
// work stops, and Explain returns the *budget.ExceededError (naming the
// structure and its offset in the file that held it), also set as the top
// Result's Err, with a Summary saying the result is incomplete.
//
// # Reads and time
//
// Every byte read counts against MaxTotalBytes, each time it is read:
// streams (decompressed ones too, and members of archives inside them),
// reads of spooled files and of Input.At, in steps of at most 1 MiB.
// References an input can repeat are followed once: ELF section headers
// pointing at one range are compared and scanned for strings once (and at
// most 16 sections and 64 MiB per side are scanned in all), zip entries
// pointing at one member's data are hashed once, member pairs with the
// contents of an earlier pair reuse its explanation, FAT directories
// are read once (a directory linked twice, a loop or chains sharing
// clusters are noted, not followed) and a walk reads each data cluster
// once (a file reaching a cluster read before is an error). Loops whose
// length the input controls check for cancellation (listings, FAT
// directory walks, ELF section walks, the Myers search, reads), and
// nothing is quadratic in a count the input controls (long-name runs,
// layout coverage, names in a long-name table). Explain returns within a
// second of its context's cancellation, having removed its temporary
// directory.
//
// # Text diffs
//
// Text is diffed with Myers' O(ND) algorithm in its linear-space form
// (divide and conquer on the middle snake), over interned lines. go-difflib
// was not used: its SequenceMatcher needs quadratic time on unlike inputs
// and is unmaintained. Myers needs O(N+M) memory, and its time O((N+M)·D)
// is bounded here twice: each side's input is capped at MaxTextBytes, and
// the search has a work budget past which the remaining region is shown as
// replaced wholesale. The diff is then still correct, only not minimal, and
// the summary says so.
package explain
