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
// The tests build trees with every file type, layout and oddity above and
// compare the reader with erofs-utils 1.5 on 13 mkfs.erofs configurations:
// fsck.erofs --extract for types, permissions, owners, sizes, mtimes, link
// targets, device numbers and every file's SHA-256; dump.erofs for the
// superblock, each inode's nid, link count, layout and xattr area, and each
// file's extents; getfattr and lstat of the source tree for xattrs and the
// setuid/setgid/sticky bits, which fsck.erofs 1.5 drops.
//
// Not read (a *FormatError with ErrUnsupported, never a wrong answer):
// lzma (MicroLZMA), deflate and zstd pclusters (Extents still lists them,
// so they can be compared by stored bytes), fragments and dedupe, long
// xattr name prefixes, extra devices, 48-bit block addresses, metabox,
// interlaced pclusters, directory block sizes other than the block size.
// erofs-utils 1.5 cannot write these, so they could not be checked against
// it.
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
// are decoded by github.com/pierrec/lz4/v4; legacy images, whose pclusters
// do not record where the encoded bytes end, by a bounded partial decoder
// of this package.
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
// and 12 MiB decoded (the kernel's), lookups within a compressed extent of
// at most 12 MiB / logical cluster size steps. A directory reached twice (a
// cycle or a hard-linked directory), a directory entry whose file type
// contradicts its inode, duplicate names and names "", ".", "..", or with
// "/" or NUL are errors.
//
// Memory: with Options.Budget, everything held because the image said so
// is charged: the metadata cache (64 blocks) and a memo of 1,024 decoded
// shared xattrs (so that inodes sharing large values do not make the walk
// read and hash them again and again), the listings and visited-set
// of a Walker, each entry's xattrs (long values are kept as an excerpt and
// a SHA-256), a File's decoded extents (two at most) and stored pcluster. A
// refused charge is an error wrapping *budget.ExceededError. With
// Options.Context every block read, extent decoded and 256 extents listed
// check the context first, so any work an image asks for stops soon after
// the context ends. FS resolves a path by binary search over each
// directory's listing blocks, as the kernel does, so fs.WalkDir costs a few
// block reads per directory beyond the listing itself. Time is not bounded by the image's size: a file can
// claim terabytes of sparse chunks or compressed data.
//
// Concurrency: Reader methods, including Open and the Files it returns, are
// safe for concurrent use; a Walker is for one goroutine.
package erofs
