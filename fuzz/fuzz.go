// Package fuzz holds isodiff's native Go fuzz targets for every parser that
// reads image bytes: ISO 9660 volume descriptors, directory records, Rock
// Ridge and Joliet (FuzzISO); the El Torito catalog and boot images
// (FuzzISO); the MBR and GPT (FuzzPartitionTables); the squashfs superblock,
// inode, directory, fragment, id and xattr tables and every codec
// (FuzzSquashfs); and the whole staged comparison of two images (FuzzCompare).
//
// Each target asserts that the input yields a result or an error, never a
// panic or a hang, and that the bytes allocated stay within a fixed bound.
// Seeds are small real images in testdata/seeds (made by
// testdata/make-seeds.sh with mksquashfs and xorriso) and the demo pair.
// `go test ./fuzz` runs the seeds and the regression corpus in
// testdata/fuzz; scripts/fuzz.sh runs each target for a while.
package fuzz
