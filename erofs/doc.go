// Package erofs reads EROFS images (the read-only root filesystems of
// Fedora 42 live media, CoreOS, RHEL 10 and Arch) from an io.ReaderAt,
// streaming and in bounded memory.
//
// Open checks the superblock (at offset 1024, magic 0xE0F5E1E2). Walk (or
// All) yields every node as an *Entry (tree.Node plus the nid, the data
// layout and the inode form) in tree.Compare order: depth-first pre-order
// from "/", each directory's children sorted bytewise, so two images can
// be merge-walked without holding either tree. FS gives the same tree as
// an io/fs.FS. OpenFile gives random access to a file's data (an
// io.ReaderAt decoding only the extents a read touches); Open streams it.
// Extents lists a file's stored extents (physical offset, stored and
// decoded length, compressed or not, inline or not) and ReadExtent decodes
// one, so a differ can compare two files by their stored bytes and decode
// only what differs.
//
// # Supported
//
// Everything mkfs.erofs 1.5 writes: compact (32-byte) and extended
// (64-byte) inodes of all seven file types, setuid/setgid/sticky, 32-bit
// uids and gids, nanosecond mtimes (compact inodes take the superblock's
// build time), link counts, device numbers (decoded like the kernel's
// new_decode_dev), inline and shared xattrs (user., trusted., security.,
// system.posix_acl_*), directories of any size, symlinks to 64 KiB; data
// layouts flat plain, flat inline (tail packing), chunk-based (4-byte block
// maps and 8-byte chunk indexes, sparse chunks), and compressed with full
// or compact (4-byte and 2-byte) indexes: lz4 (mkfs.erofs -zlz4 and
// -zlz4hc write the same format), big pclusters (-C), uncompressed
// pclusters, ztailpacking (compressed tails inline in the metadata) and
// legacy images without zero padding (-E legacy-compress).
//
// And what erofs-utils 1.9 writes for live media (Fedora 42 and CoreOS:
// -zlzma,level=6 -Eall-fragments,fragdedupe=inode -C1048576, or -C524288
// -zlzma,level=6,dictsize=524288; lorax: -zzstd,8
// -Ededupe,all-fragments -C65536):
//
//   - lzma (MicroLZMA) pclusters, decoded by github.com/ulikunitz/xz/lzma
//     behind a rebuilt classic header: the stream's first byte is the NOT
//     of the properties byte and stands where the range coder's
//     always-zero first byte was; the dictionary is the superblock's lzma
//     configuration (at most 8 MiB); the uncompressed size is the
//     extent's. As the kernel's pedantic MicroLZMA decoder, a pcluster must
//     decode to exactly its extent, the range coder must end finished and
//     the encoded bytes must end where the pcluster does.
//   - deflate (raw, github.com/klauspost/compress/flate) and zstd
//     (github.com/klauspost/compress/zstd, windows of at most 1 MiB as
//     the kernel allows) pclusters: exactly the extent's bytes, then the
//     stream's end.
//   - The compression configurations after the superblock (FeatureComprCfgs):
//     Superblock.Configs, also in Superblock.Fields (lz4_max_distance,
//     lzma_dict_size, deflate_windowbits, zstd_windowlog, ...).
//   - Fragments (-E fragments, all-fragments, fragdedupe): the packed
//     inode (Superblock.PackedNid), whose data holds the tails, or the
//     whole bytes, of other files. A file's fragment is checked against the
//     packed inode's size when the file is opened; its bytes are read
//     through the packed inode's own extents, including the interlaced
//     (rotated) uncompressed pclusters mkfs.erofs writes there. In Extents a
//     fragment is a run of pieces of at most 64 KiB with Fragment set, Phys
//     the offset in the packed inode's decoded data and Stored 0: nothing of
//     the file's own is stored, so two files are compared there decoded.
//   - Dedupe (-E dedupe): pclusters shared by several extents, and partial
//     references (Extent.Partial: the extent is the first bytes of a
//     pcluster that decodes to more), decoded only as far as the extent
//     goes.
//
// The tests build trees with every file type, layout and oddity above and
// compare the reader with erofs-utils 1.5 on 13 mkfs.erofs configurations:
// fsck.erofs --extract for types, permissions, owners, sizes, mtimes, link
// targets, device numbers and every file's SHA-256; dump.erofs for the
// superblock, each inode's nid, link count, layout and xattr area, and each
// file's extents; getfattr and lstat of the source tree for xattrs and the
// setuid/setgid/sticky bits, which fsck.erofs 1.5 drops. With
// EROFS_UTILS_BIN (a directory holding erofs-utils 1.9's tools),
// TestOracleNew does the same against erofs-utils 1.9 on 13 more: lzma,
// deflate and zstd, the Fedora, CoreOS and lorax options above, tail and
// all-fragments with each codec, dedupe with each codec. Images of nine of
// these configurations (the Fedora one twice, the second with injected
// differences), with fsck.erofs's and dump.erofs's answers about them, are
// committed (testdata/erofs, make.sh) and TestFixtures compares the reader
// with them on every run.
//
// Not read (a *FormatError with ErrUnsupported, never a wrong answer): long
// xattr name prefixes, extra devices, 48-bit block addresses and the
// extent-based compressed layout that goes with them, metabox, interlaced
// pclusters larger than a block (erofs-utils refuses them too), directory
// block sizes other than the block size.
//
// # Why not an existing library
//
// github.com/erofs/go-erofs (v0.3.1, the newest on the module proxy) refuses
// every compressed image: Open fails with "unsupported compressed
// filesystem" as soon as the superblock has the zero-padding feature or
// any compression algorithm, which every image mkfs.erofs -z writes has,
// and its file reader returns ErrNotImplemented for both compressed layouts.
// Live media are compressed, so this package reads EROFS itself; the
// kernel's fs/erofs and erofs-utils' lib/ were the references. lz4 blocks
// are decoded by github.com/pierrec/lz4/v4, lzma by
// github.com/ulikunitz/xz, deflate and zstd by
// github.com/klauspost/compress; legacy images, whose pclusters do not
// record where the encoded bytes end, and partial references to lz4
// pclusters by a bounded partial decoder of this package.
//
// # Guarantees and limits
//
// Images are untrusted. Every offset, length and count read from the image
// is checked against the image (the superblock's block count, which must
// fit in the given size) and against fixed limits before use; problems are
// *FormatError values naming the structure, its image offset (for a bad
// reference, the offset of the structure that holds it) and the cause
// (ErrCorrupt, ErrBounds, ErrTruncated, ErrUnsupported, ErrBadMagic or a
// codec's error), never panics. Limits: 2^20 entries per directory, 2^22
// entries held by a Walker's open directories, nesting depth 1024, 4096
// xattrs per inode, symlink targets of 64 KiB, pclusters of 1 MiB stored
// and 12 MiB decoded (the kernel's), lzma dictionaries of 8 MiB and zstd
// windows of 1 MiB (the kernel's), a fragment inside the packed inode's
// size, lookups within a compressed extent of at most 12 MiB / logical
// cluster size steps. A directory reached twice (a
// cycle or a hard-linked directory), a directory entry whose file type
// contradicts its inode, a listing not sorted bytewise (the kernel's
// lookup is a binary search over it), duplicate names and names "", ".",
// "..", or with "/" or NUL are errors.
//
// Memory: with Options.Budget, everything held because the image said so
// is charged: the metadata cache (64 blocks) and a memo of 1,024 decoded
// shared xattrs (so that inodes sharing large values do not make the walk
// read and hash them again and again), the listings and visited-set
// of a Walker, each entry's xattrs (long values are kept as an excerpt and
// a SHA-256), a File's decoded extents (two at most) and stored pcluster,
// an lzma decoder's dictionary (no larger than the extent), and the
// packed inode's decoded extents: a Reader keeps the last ones read, up
// to 8 MiB (charged once, when the packed inode is first read), so that
// the thousands of files whose bytes share one packed pcluster decode it
// once while it is cached, and a file read in order costs its own size
// plus the packed pclusters it overlaps, each decoded once (mkfs.erofs
// packs files in the order the walk visits them; files whose fragments
// were deduplicated against earlier ones may decode a pcluster again). No
// decoder writes more than the extent's declared size, whatever the stream claims (a 64 MiB bomb into a 100-byte extent
// allocates kilobytes); a dedupe partial reference to a zstd pcluster is
// streamed, with the frame's window (1 MiB, or up to 12 MiB for a
// single-segment frame: 12 MiB is charged). A refused charge is an
// error wrapping *budget.ExceededError. With
// Options.Context every block read, extent decoded (each pcluster decode,
// the packed inode's included) and 256 extents listed check the context
// first, so any work an image asks for stops soon after
// the context ends. FS resolves a path by binary search over each
// directory's listing blocks, as the kernel does, so fs.WalkDir costs a few
// block reads per directory beyond the listing itself. Time is not
// bounded by the image's size: a file can claim terabytes of sparse
// chunks, compressed data or fragment.
//
// Concurrency: Reader methods, including Open and the Files it returns, are
// safe for concurrent use; a Walker is for one goroutine.
package erofs
