package erofs

import "errors"

var errLZ4 = errors.New("malformed lz4 block")

// decodeLZ4Partial decodes the LZ4 block at the start of src into dst and
// stops as soon as dst is full, as the kernel's
// LZ4_decompress_safe_partial does. It is used only for images without
// FeatureZeroPadding (mkfs.erofs -E legacy-compress): their pclusters
// hold the encoded bytes first and padding after, so the block's end is
// not recorded and a decoder that needs it (pierrec/lz4's UncompressBlock)
// cannot be given it. Every length is checked against src and dst; the
// work is linear in len(src) + len(dst).
func decodeLZ4Partial(dst, src []byte) (int, error) {
	di, si := 0, 0
	length := func(n int) (int, error) {
		for {
			if si >= len(src) {
				return 0, errLZ4
			}
			b := src[si]
			si++
			n += int(b)
			if b != 255 {
				return n, nil
			}
		}
	}
	for si < len(src) {
		token := src[si]
		si++
		lit := int(token >> 4)
		if lit == 15 {
			var err error
			if lit, err = length(lit); err != nil {
				return di, err
			}
		}
		if lit > len(src)-si {
			return di, errLZ4
		}
		n := min(lit, len(dst)-di)
		copy(dst[di:], src[si:si+n])
		di += n
		si += lit
		if di == len(dst) {
			return di, nil
		}
		if si+2 > len(src) {
			return di, errLZ4
		}
		off := int(src[si]) | int(src[si+1])<<8
		si += 2
		if off == 0 || off > di {
			return di, errLZ4
		}
		ml := int(token & 15)
		if ml == 15 {
			var err error
			if ml, err = length(ml); err != nil {
				return di, err
			}
		}
		ml = min(ml+4, len(dst)-di)
		if off >= ml {
			copy(dst[di:di+ml], dst[di-off:])
			di += ml
		} else {
			for end := di + ml; di < end; di++ {
				dst[di] = dst[di-off]
			}
		}
		if di == len(dst) {
			return di, nil
		}
	}
	return di, nil
}
