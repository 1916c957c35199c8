// Package fuzz holds isodiff's fuzz targets for every parser of image bytes.
//
// The targets: ISO 9660 volume descriptors, directory records, Rock
// Ridge and Joliet (FuzzISO); the El Torito catalog and boot images
// (FuzzISO); the MBR and GPT (FuzzPartitionTables); the squashfs superblock,
// inode, directory, fragment, id and xattr tables and every codec
// (FuzzSquashfs); the whole staged comparison of two images (FuzzCompare on
// a raw mutated image, FuzzComparePatch on a seed ISO changed by a patch
// program aimed at its metadata); and the explain stage's readers of the
// formats inside (gzip, cpio and initramfs, ar and .deb, tar, zip, ELF,
// .pyc: FuzzInner). iso9660, squashfs and internal/explain
// have their own (FuzzWalk, FuzzReader, FuzzExplain).
//
// Each target asserts that the input yields a result or an error carrying
// an offset, never a panic or a hang, that the bytes allocated stay within
// a bound relative to the input's size, and (for the comparisons) that the
// temporary directory is left empty. Seeds are small real images and files
// in testdata/seeds (made by testdata/make-seeds.sh with mksquashfs,
// xorriso, cpio, ar, dpkg-deb, gcc, ...) and the demo pair.
// `go test ./fuzz` runs the seeds and the regression corpus in
// testdata/fuzz; scripts/fuzz.sh runs each target for a while.
package fuzz
