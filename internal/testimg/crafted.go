package testimg

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// XattrBombSquashfs writes to out a squashfs image (made by mksquashfs,
// then given a new xattr table) whose files /f and /g carry keys xattrs
// user.k0000, user.k0001, ...: the first with an inline value of
// valueSize bytes of fill, every other one an out-of-line reference to
// that same value. It is the amplifier of issue 10: a few hundred KiB of
// image that a reader holding whole values turns into keys*valueSize
// bytes. The image stays valid for the kernel's and unsquashfs's rules.
func XattrBombSquashfs(t testing.TB, out string, keys, valueSize int, fill byte) {
	t.Helper()
	Need(t, "mksquashfs", "setfattr")
	src := filepath.Join(t.TempDir(), "root")
	WriteFiles(t, src, map[string]string{"f": "x", "g": "y"})
	Run(t, src, "setfattr", "-n", "user.seed", "-v", "1", "f")
	Run(t, src, "setfattr", "-n", "user.seed", "-v", "1", "g") // one xattr id for both
	MakeSquashfs(t, src, out, "-noI", "-noD", "-noF", "-noX", "-all-root", "-mkfs-time", "0", "-all-time", "0")
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	img = img[:le.Uint64(img[40:])] // bytes_used: drop the 4 KiB padding

	// The key/value stream: key 0 with its value inline, then keys that
	// point at key 0's value.
	var kv []byte
	name := func(i int) []byte {
		return []byte{'k', '0' + byte(i/1000%10), '0' + byte(i/100%10), '0' + byte(i/10%10), '0' + byte(i%10)}
	}
	kv = le.AppendUint16(kv, 0) // type user., inline
	kv = le.AppendUint16(kv, 5)
	kv = append(kv, name(0)...)
	valuePos := len(kv)
	kv = le.AppendUint32(kv, uint32(valueSize))
	for range valueSize {
		kv = append(kv, fill)
	}
	// A reference is the value's metadata block (relative to the table's
	// start) << 16 | its offset in the decoded block.
	ref := uint64(valuePos/metaBlock*(metaBlock+2))<<16 | uint64(valuePos%metaBlock)
	for i := 1; i < keys; i++ {
		kv = le.AppendUint16(kv, 0x100)
		kv = le.AppendUint16(kv, 5)
		kv = append(kv, name(i)...)
		kv = le.AppendUint32(kv, 8)
		kv = le.AppendUint64(kv, ref)
	}
	kvStart := uint64(len(img))
	img = appendMetadata(img, kv)
	idBlock := uint64(len(img))
	var id []byte
	id = le.AppendUint64(id, 0) // the set's keys start at the table's start
	id = le.AppendUint32(id, uint32(keys))
	id = le.AppendUint32(id, uint32(len(kv)))
	img = appendMetadata(img, id)
	tableStart := uint64(len(img))
	img = le.AppendUint64(img, kvStart)
	img = le.AppendUint32(img, 1)
	img = le.AppendUint32(img, 0)
	img = le.AppendUint64(img, idBlock)
	le.PutUint64(img[56:], tableStart)       // xattr_id_table_start
	le.PutUint64(img[40:], uint64(len(img))) // bytes_used
	img = append(img, make([]byte, 4096-len(img)%4096)...)
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
}

const metaBlock = 8192

// appendMetadata appends data as uncompressed squashfs metadata blocks.
func appendMetadata(img, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), metaBlock)
		img = binary.LittleEndian.AppendUint16(img, 0x8000|uint16(n))
		img = append(img, data[:n]...)
		data = data[n:]
	}
	return img
}

// SparseSquashfs writes to out a squashfs image, built byte by byte, whose
// root holds one regular file "big" of size bytes: every block is sparse
// (stored as nothing, read as zeros) but the last, stored uncompressed and
// filled with last. Block size 128 KiB, no fragments, metadata stored
// uncompressed. A 16 GiB file takes a 512 KiB block list: the image is a
// few hundred KiB and asks a reader to produce size bytes — the "time is
// not bounded by the image's size" case, for timeout and signal tests.
func SparseSquashfs(t testing.TB, out string, size int64, last byte) {
	t.Helper()
	const blockLog, bs = 17, 1 << 17
	if size <= 0 {
		t.Fatal("SparseSquashfs: size must be positive")
	}
	le := binary.LittleEndian
	blocks := (size + bs - 1) / bs
	tailLen := size - (blocks-1)*bs

	img := make([]byte, 96) // superblock, filled in at the end
	dataStart := uint64(len(img))
	for range tailLen {
		img = append(img, last)
	}

	// Inode table: the root directory at offset 0, the file at 32.
	var inodes []byte
	dirInode := func(listingSize int) {
		inodes = le.AppendUint16(inodes, 1) // basic directory
		inodes = le.AppendUint16(inodes, 0o755)
		inodes = le.AppendUint16(inodes, 0)
		inodes = le.AppendUint16(inodes, 0)
		inodes = le.AppendUint32(inodes, 0) // mtime
		inodes = le.AppendUint32(inodes, 1) // inode number
		inodes = le.AppendUint32(inodes, 0) // listing block (relative)
		inodes = le.AppendUint32(inodes, 3) // links
		inodes = le.AppendUint16(inodes, uint16(listingSize+3))
		inodes = le.AppendUint16(inodes, 0) // listing offset
		inodes = le.AppendUint32(inodes, 3) // parent
	}
	name := "big"
	dirInode(12 + 8 + len(name))
	inodes = le.AppendUint16(inodes, 9) // extended file
	inodes = le.AppendUint16(inodes, 0o644)
	inodes = le.AppendUint16(inodes, 0)
	inodes = le.AppendUint16(inodes, 0)
	inodes = le.AppendUint32(inodes, 0)
	inodes = le.AppendUint32(inodes, 2)
	inodes = le.AppendUint64(inodes, dataStart)
	inodes = le.AppendUint64(inodes, uint64(size))
	inodes = le.AppendUint64(inodes, uint64(size-tailLen)) // bytes saved by sparse blocks
	inodes = le.AppendUint32(inodes, 1)                    // links
	inodes = le.AppendUint32(inodes, 0xffffffff)           // no fragment
	inodes = le.AppendUint32(inodes, 0)
	inodes = le.AppendUint32(inodes, 0xffffffff) // no xattrs
	for range blocks - 1 {
		inodes = le.AppendUint32(inodes, 0) // sparse
	}
	inodes = le.AppendUint32(inodes, 1<<24|uint32(tailLen)) // stored uncompressed

	inodeStart := uint64(len(img))
	img = appendMetadata(img, inodes)
	var dir []byte
	dir = le.AppendUint32(dir, 0) // one entry
	dir = le.AppendUint32(dir, 0) // its inode's metadata block
	dir = le.AppendUint32(dir, 2) // base inode number
	dir = le.AppendUint16(dir, 32)
	dir = le.AppendUint16(dir, 0)
	dir = le.AppendUint16(dir, 2) // regular file
	dir = le.AppendUint16(dir, uint16(len(name)-1))
	dir = append(dir, name...)
	dirStart := uint64(len(img))
	img = appendMetadata(img, dir)
	idBlock := uint64(len(img))
	img = appendMetadata(img, le.AppendUint32(nil, 0))
	idStart := uint64(len(img))
	img = le.AppendUint64(img, idBlock)

	sb := img[:0]
	sb = le.AppendUint32(sb, 0x73717368)
	sb = le.AppendUint32(sb, 2)        // inodes
	sb = le.AppendUint32(sb, 0)        // mkfs time
	sb = le.AppendUint32(sb, bs)       // block size
	sb = le.AppendUint32(sb, 0)        // fragments
	sb = le.AppendUint16(sb, 1)        // gzip
	sb = le.AppendUint16(sb, blockLog) // block log
	sb = le.AppendUint16(sb, 0x1|0x2|0x8|0x10|0x200)
	sb = le.AppendUint16(sb, 1) // ids
	sb = le.AppendUint16(sb, 4) // version
	sb = le.AppendUint16(sb, 0)
	sb = le.AppendUint64(sb, 0) // root inode: block 0, offset 0
	sb = le.AppendUint64(sb, uint64(len(img)))
	sb = le.AppendUint64(sb, idStart)
	sb = le.AppendUint64(sb, ^uint64(0)) // no xattrs
	sb = le.AppendUint64(sb, inodeStart)
	sb = le.AppendUint64(sb, dirStart)
	sb = le.AppendUint64(sb, ^uint64(0)) // no fragment table
	_ = le.AppendUint64(sb, ^uint64(0))  // no export table
	img = append(img, make([]byte, 4096-len(img)%4096)...)
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
}
