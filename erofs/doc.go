// Package erofs reads EROFS images (the read-only root filesystems of
// Fedora, CoreOS, RHEL and Arch live media) from an io.ReaderAt, streaming
// and in bounded memory.
//
// Open checks the superblock. Walk (or All) yields every node as an Entry
// (tree.Node plus the nid and data layout) in tree.Compare order:
// depth-first pre-order from "/", each directory's children sorted
// bytewise. FS gives the same tree as an io/fs.FS. OpenFile gives random
// access to a file's data, decoding only the extents a read touches; Open
// streams it. Extents lists a file's stored extents (physical offset,
// stored and decoded length, compressed or not), so that a differ can
// compare two files by their stored bytes and decode only what differs.
package erofs
