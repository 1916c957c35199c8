// Package iso9660 reads ISO 9660 images as Linux live ISOs are made.
//
// It reads the volume descriptors, the directory tree with Rock Ridge or
// Joliet names and metadata, file contents (zisofs-compressed files
// decoded), and the El Torito boot catalog. It was written for isodiff,
// which explains why two builds of an image differ, so it reports
// everything as recorded, streams, holds little in memory, and treats
// every image as untrusted.
//
// # Use
//
// Open (or OpenOptions, with a memory budget and a context) reads the
// volume descriptors from an io.ReaderAt. Then:
//
//   - Image.All (a range-over-func iterator) or Image.Walk (a Walker whose
//     Next yields one *Entry per node) lists the tree in tree.Compare
//     order (depth first, pre order, each directory's children sorted
//     bytewise by their final name), so that two walks can be merged
//     without holding either tree;
//   - Image.FS is the same tree as an io/fs.FS (fs.WalkDir, fs.ReadFile,
//     fs.Stat, fs.ReadLink; the *Entry in FileInfo.Sys), which resolves a
//     path by reading only the directories on it;
//   - Image.Open streams a file's content over all its extents,
//     unbuffered; Image.OpenFile gives random access to it (a *File, an
//     io.ReaderAt: a multi-extent file's extents found by binary search, a
//     zisofs file's blocks decoded only where a read falls), so that a
//     squashfs inside the ISO can be read in place;
//   - Image.Section reads an extent's bytes as recorded (a zisofs file's
//     compressed form, a directory's records);
//   - BootCatalog and BootImage decode El Torito.
//
// # Why not github.com/diskfs/go-diskfs
//
// Its iso9660 reader (v1.9.4), checked against xorriso images, gets the
// things a differ must get right wrong:
//
//   - it strips a leading and a trailing "." from every file name, even a
//     Rock Ridge or Joliet one: ".hidden" is listed as "hidden", "end." as
//     "end";
//   - it keeps only the last SL entry of a symlink whose target spans
//     several: a 479-byte target of 20 components comes back as its last 239
//     bytes;
//   - it lists a multi-extent file once per extent and reads only the first
//     (a file in three extents appears three times, and reading it yields
//     4096 of its 10000 bytes);
//   - it uses the Joliet tree only when there is no Rock Ridge, and on a
//     Joliet-only image fails below the second level ("could not find Joliet
//     directory j/k");
//   - ModTime is the directory record's time, not Rock Ridge TF's; the PN
//     device numbers are parsed but not exposed; there is no El Torito
//     reader, only a writer.
//
// # What is read
//
//   - Volume descriptors: every descriptor of the recognition sequence
//     (including a UDF bridge's BEA01/NSR02/TEA01) in Image.Descriptors; the
//     primary, supplementary and enhanced descriptors with every field typed
//     (VolumeDescriptor.Fields for a differ); Joliet strings decoded from
//     UCS-2; dates with their GMT offset, all-zero or all-"0" meaning unset.
//   - Namespaces: Rock Ridge (RRIP 1.09 to 1.12, when the primary root's "."
//     record carries SUSP SP and Rock Ridge entries), else Joliet (levels
//     1-3, UTF-16 surrogates decoded), else bare ISO 9660 at any level, where
//     names lose their ";1" version and a trailing "." and, as xorriso shows
//     them, files are r-xr-xr-x and directories dr-xr-xr-x.
//   - SUSP: CE continuation areas, ST, padding, the SP skip length.
//   - RRIP: PX with and without serial number, PN, SL (all entries and
//     continuation areas joined, as libisofs joins them: a component
//     starts with "/" unless it continues the previous one or the target
//     so far ends with "/", a ROOT component is a "/", so that "usr//lib"
//     and ".///file", recorded with ROOT components in the middle, read
//     back as written, as xorriso and Linux list them; an SL entry after
//     one that did not continue is ignored, as damage), NM (continued), TF (short and long form,
//     any stamps; the modify stamp is the ModTime), CL/PL/RE relocation
//     (a CL placeholder becomes the directory it points to, named as the
//     placeholder, with the metadata of the target's "." record; RE
//     directories are not shown where they are recorded; rr_moved itself is
//     an ordinary directory, as xorriso shows it), ZF and Z2 (zisofs, see
//     below). AAIP (xorriso's ACLs and xattrs) is not read.
//   - Directory records: multi-sector directories, multi-extent files
//     (merged into one Entry), the hidden flag (kept in Entry.Flags);
//     associated files are skipped; extended attribute records are stepped
//     over; interleaved files are refused.
//   - Device numbers: mkisofs writes major and minor in PN's two words,
//     libisofs one 64-bit Linux dev_t split in two; with a nonzero high
//     word it is major/minor, else the low word is a Linux dev_t (which also
//     reads the old 8:8 form). xorriso 1.5.4 misreads mkisofs's PN; this
//     package reads both as Linux does.
//   - Node.Size is the data size of regular files (the uncompressed size of
//     a zisofs file) and 0 for other types, as xorriso lists them; Nlink is
//     PX's count (1 without Rock Ridge); Inode is the PX serial number,
//     else the data block for directories and non-empty files, else a
//     value derived from the record's position.
//
// # zisofs
//
// Files compressed by xorriso's zisofs filter (-zisofs, -set_filter
// --zisofs, mkisofs -z on a tree made by mkzftree) are read as their own
// bytes, as Linux and osirrox read them. The Rock Ridge ZF entry (Z2,
// xorriso's susp_z2=on alias, for version 2) gives the algorithm, the header
// size, the block size and the uncompressed size: zisofs ("pz", version 1,
// blocks of 2^15 to 2^17 bytes, sizes below 4 GiB) and zisofs2 ("PZ",
// version 2, zlib, blocks of 2^15 to 2^20 bytes as xorriso 1.5.4's
// block_size_v2 writes them). Entry.Zisofs is set, Node.Size is the
// uncompressed size and Node.Filter names the filter as xorriso's
// -show_stream does ("zisofs:pz:32k", "zisofs:PZ:1024k"), so that sizes and
// contents compare with a plain copy's and the filter is a difference of
// its own; Entry.StoredSize and Entry.Extents keep the recorded form. A ZF
// entry with other values (another algorithm, a block size out of range,
// a size whose two byte orders disagree) is damage at the entry, and the
// file is read as recorded, as Linux does.
//
// Image.Open decodes a zisofs file as it is read, one block at a time
// (zisofs.go): the header (magic, size, header size, block size) must agree
// with the ZF entry; each block's two pointers are read from the table when
// the block starts and must not point into the header or table, decrease,
// or pass the recorded bytes; an empty block (equal pointers) reads as
// zeros; a block is one zlib stream (checksum checked) that must decode to
// exactly its share of the file: one byte more or less is an error. Errors
// are *FormatErrors at the offset of the header word, pointer or block at
// fault. Nothing is allocated from a value the data holds: the reader
// holds one zlib decompressor (its 32 KiB window and tables, about 50 KiB)
// and a 4 KiB buffer whatever the header says, not charged to the budget
// (the reader has no Close to give it back), so a zlib bomb costs that and
// at most the declared size in output. The context (Options.Context) is
// checked before each block. OpenFile's File reads a zisofs file at any
// offset: it reads the pointers of the block the offset falls in and
// decodes from that block's start (or goes on from where the previous
// read stopped, when the offset is ahead in the same block), so a read
// costs the blocks it touches; the header is checked when the File is
// opened. The recorded bytes are at Extents (Section reads them).
//
// # Guarantees and limits
//
// Images are untrusted. No input makes the package panic, loop or allocate
// without bound (FuzzWalk, which walks, reads, walks the FS view and reads
// through OpenFile): every block number and length is checked
// against the image size before it is read; a directory whose records were
// already read (a loop, or a directory linked twice) is ErrLoop, nesting
// deeper than MaxDepth is ErrTooDeep; names are bounded to 4 KiB, link
// targets to 64 KiB, the boot catalog to 32 sectors (a section's entry
// count is checked against the room left in them before any is read).
//
// Memory is bounded by the image, and charged to the comparison's budget
// (Options.Budget): a walk holds the child lists of the open directories
// (each child charged for itself, its name, identifier, link target and
// extents, and given back when Next yields it; paths are made when a node
// is yielded, not held for every child), one word per directory read, and
// one bit per continuation area byte read. A walk decodes every byte of a
// continuation area at most once: a CE chain that comes back to an area is
// damage at the area's offset, and so is an area another record's chain
// already decoded (no writer shares them; a crafted image sharing one 2 KiB
// area among 5,000 records made each decode it 64 times, 3.7 GB). So the
// SUSP bytes a walk decodes, and the names and targets made of them, are
// at most the image's. The Image holds its descriptors, its boot catalog
// (decoded once), its boot image sizes and what FS keeps (the listings of
// the directories read last, up to 8 MiB of charges, and the path of
// every directory read, to refuse a directory reached by two paths as a
// walk does) until Close. A refused charge is
// a *FormatError wrapping the *budget.ExceededError, at the offset of the
// structure that asked. With the budget FuzzWalk gives every input (32
// MiB for up to 1 MiB), no input has exceeded it.
//
// Time: every loop whose count comes from the image (descriptors, records,
// continuation areas, boot catalog entries) checks the context
// (Options.Context, or Image.WalkContext's) at least every 64 records, so
// a cancelled walk ends within milliseconds of work; it then returns the
// context's error, not a FormatError.
//
// Errors are *FormatError values (offset, structure, cause) wrapping
// sentinels such as ErrTruncated, ErrLoop, ErrBadName; callers add the
// file name and stage. The offset is that of the bytes at fault: a
// directory record's for a malformed record, the data's for a file whose
// data lies past the end of the image or cannot be read (Image.Open's
// reader reports the first byte it could not read), a continuation area's
// for a loop or a shared area.
//
// Tolerated as the Linux kernel and xorriso tolerate them, and reported in
// Image.Repairs: a volume descriptor's root directory record whose length
// byte is not 34 (68 on the CSRG discs, as in libarchive's
// test_read_format_iso_3) or whose identifier is not the root's, and a
// root directory size there that differs from the root's own "." record
// (0, or past the end of the image): Linux and libisofs take only the
// extent from the descriptor and the rest from ".". Empty files, symlinks and devices may carry any
// block number (writers record arbitrary ones): it is not checked, and no
// extent is kept for them.
//
// A name holding "/" or NUL, an empty name, or a Rock Ridge NM of "." or
// ".." is an error (ErrBadName) rather than sanitized: a differ must not
// invent paths. Two children with the same final name are an error too.
// Malformed Rock Ridge entries are not: as Linux and libisofs do, what was
// decoded before the damage is kept, the rest of the record's entries
// ignored, and the damage reported in Entry.Damage (a *FormatError at the
// offset of the bytes at fault, without the path, which the caller adds);
// genisoimage, for one, writes SL entries over 255 bytes whose length byte
// wraps. Damage is not an error of the walk: the caller must report it
// (as a problem of the image) for every entry that carries it.
//
// The logical block size must be 2048. Only the descriptors from block 16
// on are read: there is no search for the sessions of a multi-session disc.
package iso9660
