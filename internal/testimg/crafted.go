package testimg

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// XattrBombSquashfs writes to out a squashfs image (made by mksquashfs,
// then given a new xattr table) whose file /f carries keys xattrs
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
