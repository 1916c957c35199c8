package explain

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Formats, as detected from the first bytes.
const (
	fmtGzip  = "gzip"
	fmtXz    = "xz"
	fmtZstd  = "zstd"
	fmtBzip2 = "bzip2"
	fmtLz4   = "lz4"
	fmtELF   = "elf"
	fmtCpio  = "cpio"
	fmtAr    = "ar"
	fmtTar   = "tar"
	fmtZip   = "zip"
	fmtFAT   = "fat"
	fmtPyc   = "pyc"
	fmtText  = "text"
	fmtData  = "data"
	fmtEmpty = "empty"
)

// compression returns the compressed format a stream starts with, or "".
func compression(h []byte) string {
	switch {
	case len(h) >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 8:
		return fmtGzip
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return fmtXz
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return fmtZstd
	case len(h) >= 10 && bytes.HasPrefix(h, []byte("BZh")) && h[3] >= '1' && h[3] <= '9' &&
		bytes.Equal(h[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		return fmtBzip2
	case bytes.HasPrefix(h, []byte{0x04, 0x22, 0x4d, 0x18}), bytes.HasPrefix(h, []byte{0x02, 0x21, 0x4c, 0x18}):
		return fmtLz4
	}
	return ""
}

// isCpio reports whether h starts with a cpio header magic.
func isCpio(h []byte) bool {
	if len(h) >= 6 {
		switch string(h[:6]) {
		case "070701", "070702", "070707":
			return true
		}
	}
	return false
}

// detect names the format of a file from its first bytes.
func detect(h []byte) string {
	if len(h) == 0 {
		return fmtEmpty
	}
	if c := compression(h); c != "" {
		return c
	}
	switch {
	case bytes.HasPrefix(h, []byte("\x7fELF")):
		return fmtELF
	case isCpio(h):
		return fmtCpio
	case bytes.HasPrefix(h, []byte("!<arch>\n")):
		return fmtAr
	case len(h) >= 263 && (bytes.Equal(h[257:263], []byte("ustar\x00")) || bytes.Equal(h[257:263], []byte("ustar "))):
		return fmtTar
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return fmtZip
	case isPyc(h):
		return fmtPyc
	case isFAT(h):
		return fmtFAT
	case isText(h):
		return fmtText
	}
	return fmtData
}

// isPyc recognises a CPython bytecode header: a 16-bit magic number in
// the range CPython has used, then "\r\n".
func isPyc(h []byte) bool {
	if len(h) < 16 || h[2] != '\r' || h[3] != '\n' {
		return false
	}
	m := binary.LittleEndian.Uint16(h)
	return (m >= 3000 && m < 4000) || m == 62211 // 3.x, 2.7
}

// isFAT recognises a FAT boot sector: a jump, sane BPB values, the 0x55AA
// signature and a FAT file system type string.
func isFAT(h []byte) bool {
	if len(h) < 512 || h[510] != 0x55 || h[511] != 0xaa || (h[0] != 0xeb && h[0] != 0xe9) {
		return false
	}
	bps := binary.LittleEndian.Uint16(h[11:])
	spc := h[13]
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || h[16] == 0 {
		return false
	}
	return bytes.HasPrefix(h[54:], []byte("FAT1")) || bytes.HasPrefix(h[82:], []byte("FAT32"))
}

// isText reports whether h looks like text: valid UTF-8 (a rune cut at the
// end is allowed) without NUL or other control bytes besides whitespace
// and escape.
func isText(h []byte) bool {
	for i := 0; i < len(h); {
		c := h[i]
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1b {
			return false
		}
		if c == 0x7f {
			return false
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(h[i:])
		if r == utf8.RuneError && size <= 1 {
			if len(h)-i < utf8.UTFMax && !utf8.FullRune(h[i:]) {
				return true // cut at the end of the head
			}
			return false
		}
		i += size
	}
	return true
}
