// Package squashfs reads squashfs 4.0 images, the root filesystems of live ISOs.
//
// Open (OpenOptions adds a memory budget and a context) checks the
// superblock and loads the compressor options and the uid/gid table from an
// io.ReaderAt; the rest of the image is read on demand, streaming and in
// bounded memory. There are four ways in:
//
//   - All, a range-over-func iterator (or Walk, a Walker with SkipDir),
//     yields every node as an *Entry: a tree.Node (path, full mode with
//     setuid/setgid/sticky, owner, size, mtime, symlink target, device
//     numbers, link count, inode number, xattrs) plus the inode type and a
//     regular file's block list. The order is tree.Compare's: depth-first
//     pre-order from "/", each directory's children sorted bytewise.
//   - FS is the io/fs view (fs.ReadDirFS, fs.StatFS, fs.ReadLinkFS), for
//     fs.WalkDir, fs.ReadFile, fs.Stat, fs.ReadLink; FileInfo.Sys is the
//     *Entry. A lookup reads only the directories on its path, and in each
//     only what its directory index points to.
//   - Reader.Open streams a regular file's decoded contents; OpenFile gives
//     random access (a *File is an io.ReaderAt) that decodes only the blocks
//     a read touches.
//   - Blocks, ReadBlock, Raw, Fragment, ReadFragment and ReadTail give a
//     file's stored layout, as archive/zip's OpenRaw does: each data block's
//     offset, stored size and compression flag, and which fragment block
//     holds its tail. A differ compares two files by their compressed bytes
//     and decodes only the blocks that differ.
//
// # Supported
//
// Every squashfs 4.0 feature mksquashfs 4.5 writes: all six compressors
// (gzip, lzma, lzo, xz including BCJ filters, lz4 including -Xhc, zstd),
// their options blocks, block sizes 4 KiB to 1 MiB, fragments (none,
// default, always), sparse blocks (a last block too), uncompressed
// inodes/data/fragments/xattrs/ids, basic and extended inodes of all 14
// types, hard links (nlink, shared inode numbers), setuid/setgid/sticky,
// 32-bit uids and gids, devices (numbers decoded like the kernel's
// new_decode_dev), long names and symlink targets, listings of any size,
// and xattrs (user., trusted., security., values stored out of line).
// Codecs come from maintained libraries: klauspost/compress (zlib, zstd),
// mikelolasagasti/xz (xz with BCJ), ulikunitz/xz/lzma, anchore/go-lzo and
// pierrec/lz4 (raw blocks). The export (NFS) table is not needed and not read.
//
// The tests compare the reader with unsquashfs 4.5.1 on real images of
// every compressor and option above: `unsquashfs -lln` for the node set,
// types, permissions, ids, sizes, times and link targets, and an extraction
// (`unsquashfs -d`) for exact times, link counts, device numbers, xattrs
// (getfattr) and every file's SHA-256. The io/fs view is checked the same
// way (fs.WalkDir and a lookup of every path against the listing and the
// extraction, fs.ReadFile against the extracted bytes, fstest.TestFS).
// unsquashfs -lln prints devices with
// major >= 4096 or minor >= 256 wrongly (300,70000 as 1118508,112); the
// listing check applies its rendering to our numbers, and the extraction
// check compares them exactly.
//
// # Why not an existing library
//
// Measured on images made by mksquashfs 4.5.1:
// github.com/CalebQ42/squashfs v1.4.1 drops setuid from Mode, reports a
// character device as a block device, fails to read empty files ("invalid
// block index"), cannot open lz4 images (it expects lz4 frames; squashfs
// stores raw blocks), and File.WriteTo on an 8 MB file did not return
// (ReadFile of the same file did); it also has no metadata cache. go-diskfs
// (v1.9.4) cannot read lz4 images ("unable to read root inode") nor xz
// images with BCJ filters ("xz: unsupported filter count"), and drops
// setuid.
//
// # Guarantees and limits
//
// Images are untrusted. Every offset, length, count and table start read
// from the image is checked against the image (bytes_used, which must fit
// in the given size) and against fixed limits before use; problems are
// returned as *FormatError values naming the structure, its offset and
// the cause (ErrCorrupt, ErrBounds, ErrTruncated, ErrUnsupported, ErrBadMagic, or a
// codec's error), never panics. Decompressors never produce more than a
// block (8 KiB for metadata, at most 1 MiB for data) nor use a dictionary
// or window over 1 MiB. Limits: 256 entries per directory header, 2^20
// entries per directory, 2^22 entries held by a Walker's open directories,
// nesting depth 1024, 2^24 blocks per file, symlink targets of 64 KiB, 4096
// xattrs per inode with values of 64 KiB. A directory reached twice (a
// cycle or a hard-linked directory), a listing shared by two directories
// and a listing not in strcmp order (duplicate names included: the
// kernel's lookup relies on the order, and unsquashfs refuses it) are
// errors, as are names "", ".", "..", or with "/" or NUL, and, in a lookup,
// a directory index entry that does not name the entry it points at.
//
// Memory: a Reader caches at most 512 decoded metadata blocks (4 MiB) and 4
// decoded fragment blocks (4 block sizes), and pools its block buffers. A
// Walker holds the listings of the open directories and 8 bytes per
// directory visited. A file reader holds one block buffer, returned to the
// pool at EOF. An FS lookup holds only the entries on its path; a directory
// opened through FS holds its listing until it is closed or every entry
// has been read.
//
// Concurrency: Reader methods, including Open, OpenFile, FS and the FS's
// methods, and reading the readers they return, are safe for concurrent
// use; a Walker, a stream from Open and a file opened through FS are each
// for one goroutine (a *File's ReadAt may be called concurrently).
package squashfs
