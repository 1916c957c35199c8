package iso9660

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zlib"
)

// zisofs, as libisofs (xorriso's -zisofs and --zisofs filter) and
// mkzftree write it and Linux reads it (fs/isofs/compress.c), after
// libisofs's doc/zisofs_format.txt and doc/zisofs2_format.txt:
//
// A Rock Ridge ZF entry (or Z2, libisofs's alias for version 2) marks a
// regular file whose recorded bytes are a compressed form: a header, a
// table of block pointers (offsets in the recorded bytes; block i runs
// from pointer i to pointer i+1, an empty block reads as zeros), then the
// blocks, each an independent zlib stream of one block of the file (the
// last one shorter).
//
//	version 1 ("pz"): ZF version 1, algorithm "pz", header size / 4,
//	  log2(block size) in 15..17, uncompressed size as a both-byte-order
//	  32-bit word. Header: magic 37 E4 53 96 C9 DB D6 07, size (32-bit
//	  little endian), header size / 4, log2(block size), 2 reserved
//	  bytes; pointers are 32-bit.
//	version 2 ("PZ", zisofs2): ZF or Z2 version 2, algorithm "PZ" (zlib;
//	  the other zisofs2 algorithms are not written by xorriso 1.5.4 and
//	  not read here), header size / 4, log2(block size) in 15..20
//	  (xorriso's block_size_v2 goes to 1024k, past the specification's
//	  17), uncompressed size as a 64-bit little endian word. Header: magic
//	  EF 22 55 A1 BC 1B 95 A0, header version 0, header size / 4,
//	  algorithm 1, log2(block size), size (64-bit little endian), 4 bytes
//	  of padding; pointers are 64-bit.
//
// The block pointers start at header size (the ZF entry's, which must
// equal the header's) from the start of the data.

// zisofs limits and constants.
const (
	zfMinLog2   = 15
	zfMaxLog2V1 = 17
	zfMaxLog2V2 = 20
)

var (
	zfMagicV1 = [8]byte{0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07}
	zfMagicV2 = [8]byte{0xEF, 0x22, 0x55, 0xA1, 0xBC, 0x1B, 0x95, 0xA0}
)

// zfParams is what a ZF entry says.
type zfParams struct {
	version  byte   // 1: zisofs, 2: zisofs2
	alg      string // "pz" or "PZ"
	hdrWords byte   // header size / 4
	log2     byte   // log2 of the block size
	size     int64  // uncompressed size
	off      int64  // of the ZF entry in the image
}

// filter names the filter as xorriso's -show_stream does
// ("--zisofs-decode:pz:32k").
func (z zfParams) filter() string {
	return fmt.Sprintf("zisofs:%s:%dk", z.alg, (int64(1)<<z.log2)>>10)
}

// ptrSize is the size of one block pointer.
func (z zfParams) ptrSize() int64 {
	if z.version == 1 {
		return 4
	}
	return 8
}

// headerLen is the size of the fixed part of the file header.
func (z zfParams) headerLen() int64 {
	if z.version == 1 {
		return 16
	}
	return 24
}

// blocks is the number of blocks of the file.
func (z zfParams) blocks() int64 {
	bs := int64(1) << z.log2
	return z.size/bs + min(z.size%bs, 1)
}

// tableEnd is where the pointer table ends in the recorded bytes, or -1
// when that does not fit in an int64.
func (z zfParams) tableEnd() int64 {
	n := z.blocks() + 1
	if n > (math.MaxInt64-int64(z.hdrWords)*4)/z.ptrSize() {
		return -1
	}
	return int64(z.hdrWords)*4 + n*z.ptrSize()
}

// parseZF decodes a ZF or Z2 entry. An entry it refuses is damage at the
// entry: the file is then read as recorded, as Linux does with a ZF entry
// it does not know.
func parseZF(e suspEntry) (zfParams, error) {
	d := e.data
	if len(d) < 12 {
		return zfParams{}, errBadLength
	}
	z := zfParams{alg: string(d[0:2]), hdrWords: d[2], log2: d[3], off: e.off}
	maxLog := byte(zfMaxLog2V1)
	switch {
	case e.sig == [2]byte{'Z', 'F'} && e.ver == 1 && z.alg == "pz":
		z.version = 1
		le, be := binary.LittleEndian.Uint32(d[4:]), binary.BigEndian.Uint32(d[8:])
		if le != be {
			return zfParams{}, fmt.Errorf("zisofs uncompressed size %d (little endian) and %d (big endian) disagree", le, be)
		}
		z.size = int64(le)
	case e.ver == 2 && z.alg == "PZ":
		z.version = 2
		maxLog = zfMaxLog2V2
		size := binary.LittleEndian.Uint64(d[4:])
		if size > math.MaxInt64 {
			return zfParams{}, fmt.Errorf("zisofs2 uncompressed size %d too large", size)
		}
		z.size = int64(size)
	default:
		return zfParams{}, fmt.Errorf("zisofs version %d with algorithm %q not supported: the data is read as recorded", e.ver, d[0:2])
	}
	if int64(z.hdrWords)*4 < z.headerLen() {
		return zfParams{}, fmt.Errorf("zisofs header size %d bytes, less than the %d of its fields", int(z.hdrWords)*4, z.headerLen())
	}
	if z.log2 < zfMinLog2 || z.log2 > maxLog {
		return zfParams{}, fmt.Errorf("zisofs block size 2^%d outside 2^%d..2^%d", z.log2, zfMinLog2, maxLog)
	}
	return z, nil
}

// zisofsReader decodes a zisofs file, one block at a time: it holds a
// zlib decompressor (a 32 KiB window) and a 4 KiB read buffer, whatever
// the header says. Every value read from the data is checked before use:
// the header against the ZF entry, each pair of block pointers against the
// table's end and the recorded size, each block's output against the block
// size. The context is checked before each block.
type zisofsReader struct {
	ctx    context.Context
	stored storedData
	zf     zfParams
	bs     int64 // block size
	n      int64 // blocks
	table  int64 // end of the pointer table in the recorded bytes

	started bool
	err     error
	block   int64 // next block to start
	pos     int64 // uncompressed bytes returned
	left    int64 // bytes still to come from the current block
	zero    bool  // the current block is empty: zeros
	blkOff  int64 // recorded offset of the current block
	sec     io.SectionReader
	br      *bufio.Reader
	zr      io.ReadCloser
	one     [1]byte
}

func newZisofsReader(im *Image, e *Entry) *zisofsReader {
	return &zisofsReader{
		ctx:    im.ctx,
		stored: newStoredData(im, e.Extents),
		zf:     e.zf,
		bs:     int64(1) << e.zf.log2,
		n:      e.zf.blocks(),
	}
}

func (z *zisofsReader) fail(off int64, format string, args ...any) error {
	at := z.zf.off // no data at all: the ZF entry is at fault
	if len(z.stored.ext) > 0 {
		at = z.stored.imageOff(off)
	}
	z.err = formatErrf(at, "zisofs data", format, args...)
	return z.err
}

// start reads and checks the file header.
func (z *zisofsReader) start() error {
	z.started = true
	if z.zf.size == 0 && z.stored.size == 0 {
		return nil
	}
	hl := z.zf.headerLen()
	if z.stored.size < hl {
		return z.fail(0, "%w: %d recorded bytes, shorter than the %d-byte zisofs header", ErrTruncated, z.stored.size, hl)
	}
	var h [24]byte
	if _, err := z.stored.ReadAt(h[:hl], 0); err != nil {
		z.err = err
		return err
	}
	var size int64
	var hdrWords, log2 byte
	if z.zf.version == 1 {
		if [8]byte(h[:8]) != zfMagicV1 {
			return z.fail(0, "bad zisofs magic % x", h[:8])
		}
		size = int64(binary.LittleEndian.Uint32(h[8:]))
		hdrWords, log2 = h[12], h[13]
	} else {
		if [8]byte(h[:8]) != zfMagicV2 {
			return z.fail(0, "bad zisofs2 magic % x", h[:8])
		}
		if h[8] != 0 || h[10] != 1 {
			return z.fail(8, "zisofs2 header version %d, algorithm %d: only version 0 with algorithm 1 (zlib) is read", h[8], h[10])
		}
		s := binary.LittleEndian.Uint64(h[12:])
		if s > math.MaxInt64 {
			return z.fail(12, "zisofs2 uncompressed size %d too large", s)
		}
		size = int64(s)
		hdrWords, log2 = h[9], h[11]
	}
	switch {
	case size != z.zf.size:
		return z.fail(8, "zisofs header says %d uncompressed bytes, the Rock Ridge ZF entry at offset %d says %d", size, z.zf.off, z.zf.size)
	case hdrWords != z.zf.hdrWords || log2 != z.zf.log2:
		return z.fail(8, "zisofs header size %d and block size 2^%d, the Rock Ridge ZF entry at offset %d says %d and 2^%d",
			int(hdrWords)*4, log2, z.zf.off, int(z.zf.hdrWords)*4, z.zf.log2)
	}
	z.table = z.zf.tableEnd()
	if z.table < 0 || z.table > z.stored.size {
		return z.fail(int64(hdrWords)*4, "%w: the pointer table of %d blocks does not fit in the %d recorded bytes", ErrTruncated, z.n, z.stored.size)
	}
	return nil
}

// pointers reads the pointers of block i and i+1 and checks them.
func (z *zisofsReader) pointers(i int64) (start, end int64, err error) {
	ps := z.zf.ptrSize()
	at := int64(z.zf.hdrWords)*4 + i*ps
	var b [16]byte
	if _, err := z.stored.ReadAt(b[:2*ps], at); err != nil {
		z.err = err
		return 0, 0, err
	}
	var s, e uint64
	if ps == 4 {
		s, e = uint64(binary.LittleEndian.Uint32(b[0:])), uint64(binary.LittleEndian.Uint32(b[4:]))
	} else {
		s, e = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	}
	switch {
	case s < uint64(z.table):
		return 0, 0, z.fail(at, "zisofs block %d starts at %d, inside the header and pointer table (%d bytes)", i, s, z.table)
	case e < s:
		return 0, 0, z.fail(at+ps, "zisofs block pointers decrease: block %d runs from %d to %d", i, s, e)
	case e > uint64(z.stored.size):
		return 0, 0, z.fail(at+ps, "%w: zisofs block %d ends at %d, past the %d recorded bytes", ErrTruncated, i, e, z.stored.size)
	}
	return int64(s), int64(e), nil
}

// next starts block z.block.
func (z *zisofsReader) next() error {
	if err := z.ctx.Err(); err != nil {
		z.err = err
		return err
	}
	start, end, err := z.pointers(z.block)
	if err != nil {
		return err
	}
	z.left = min(z.bs, z.zf.size-z.block*z.bs)
	z.blkOff = start
	z.block++
	z.zero = start == end
	if z.zero {
		return nil
	}
	z.sec = *io.NewSectionReader(&z.stored, start, end-start)
	if z.br == nil {
		z.br = bufio.NewReaderSize(&z.sec, 4096)
	} else {
		z.br.Reset(&z.sec)
	}
	if z.zr == nil {
		z.zr, err = zlib.NewReader(z.br)
	} else {
		err = z.zr.(zlib.Resetter).Reset(z.br, nil)
	}
	if err != nil {
		return z.blockErr(err)
	}
	return nil
}

// blockErr turns an error met decoding the current block into the reader's
// error: a read failure of the image as it came, a bad stream at the
// block's offset.
func (z *zisofsReader) blockErr(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		z.err = err
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return z.fail(z.blkOff, "zisofs block %d: %v", z.block-1, err)
}

func (z *zisofsReader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if !z.started {
		if err := z.start(); err != nil {
			return 0, err
		}
	}
	for z.left == 0 {
		if z.block >= z.n {
			return 0, io.EOF
		}
		if err := z.next(); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	p = p[:min(int64(len(p)), z.left)]
	if z.zero {
		clear(p)
		z.left -= int64(len(p))
		z.pos += int64(len(p))
		return len(p), nil
	}
	n, err := z.zr.Read(p)
	z.left -= int64(n)
	z.pos += int64(n)
	switch {
	case err != nil && err != io.EOF:
		return n, z.blockErr(err)
	case err == io.EOF && z.left > 0:
		return n, z.fail(z.blkOff, "zisofs block %d decodes to %d bytes, short of %d", z.block-1, min(z.bs, z.zf.size-(z.block-1)*z.bs)-z.left, min(z.bs, z.zf.size-(z.block-1)*z.bs))
	case z.left == 0:
		// The stream must end here: reading on checks its checksum, and
		// a byte more is more than the block holds.
		m, err := io.ReadFull(z.zr, z.one[:])
		if m > 0 {
			return n, z.fail(z.blkOff, "zisofs block %d decodes to more than its %d bytes (block size %d)", z.block-1, min(z.bs, z.zf.size-(z.block-1)*z.bs), z.bs)
		}
		if err != io.EOF {
			return n, z.blockErr(err)
		}
	}
	return n, nil
}

// seek makes the next Read return the uncompressed bytes from off, for
// File.ReadAt: when off lies ahead in the block being decoded (or at the
// start of the next one), it decodes on to it; else it starts over at
// off's block, reading only that block's pair of pointers and zlib
// stream, so that a read decodes only the blocks it touches. Skipped
// bytes are decoded into scratch. An error of an earlier read is
// forgotten: the reader starts over.
func (z *zisofsReader) seek(off int64, scratch []byte) error {
	if b := off / z.bs; z.err != nil || off < z.pos || z.pos/z.bs != b {
		z.err, z.block, z.pos, z.left, z.zero = nil, b, b*z.bs, 0, false
	}
	for z.pos < off {
		k := min(int64(len(scratch)), off-z.pos)
		if _, err := io.ReadFull(z, scratch[:k]); err != nil {
			return err
		}
	}
	return nil
}
