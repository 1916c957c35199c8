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
// directory, and only when both sides are under Options.MaxSpoolBytes —
// unless the caller gives random access itself (Input.At). With Input.At
// on both sides and Options.Spans (the only ranges where two inputs of one
// size can differ, e.g. from equal compressed blocks), byte comparisons
// read only the spans and ELF sections outside them count as equal unread:
// a 100 MB library inside a squashfs costs a few decoded blocks.
// Archive members are never extracted by name: spool files get generated
// names inside the private directory, so a member called ../x or /etc/x
// cannot write anywhere (SafeJoin confines names for callers that do want
// names). Every decompressed stream is cut off at MaxStreamBytes and all
// reads of one Explain call together at MaxTotalBytes (decompression
// bombs), recursion stops at MaxDepth, archive listings at MaxMembers, and
// every length read from a file is checked against what remains.
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
