package explain

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/mikelolasagasti/xz"
	"github.com/pierrec/lz4/v4"
)

const (
	xzDictMax     = 1 << 27 // bounds an xz decoder's dictionary (xz -9 uses 64 MiB)
	zstdWindowMax = 1 << 27 // bounds a zstd decoder's window (--long=27)
)

// decoderMemory returns what a decoder of format allocates for the
// stream starting with h, as its header declares (an xz dictionary, a zstd
// window, bzip2 and lz4 blocks), and the window limit to give the decoder
// so that it cannot allocate more than was charged: a stream declaring a
// larger window later is refused by the decoder.
func decoderMemory(format string, h []byte) (charge int64, window uint32) {
	switch format {
	case fmtXz:
		dict, ok := xzDict(h)
		if !ok {
			dict = xzDictUnknown
		}
		dict = min(dict, xzDictMax)
		return int64(dict) + 64<<10, dict
	case fmtZstd:
		w, ok := zstdWindow(h)
		if !ok {
			w = zstdWindowUnknown
		}
		w = min(max(w, 1<<10), zstdWindowMax)
		return int64(w) + 512<<10, uint32(w)
	case fmtBzip2:
		return 900000*4 + 64<<10, 0 // the largest block (-9), whatever the header says
	case fmtLz4:
		return 2*lz4Block(h) + 64<<10, 0
	}
	return 80 << 10, 0 // deflate: a 32 KiB window and its tables
}

const (
	xzDictUnknown     = 8 << 20 // xz -6, the default, when no block header is in view
	zstdWindowUnknown = 8 << 20
)

// xzDict reads the LZMA2 dictionary size from the first block header of
// an xz stream (after the 12-byte stream header).
func xzDict(h []byte) (uint32, bool) {
	if len(h) < 14 {
		return 0, false
	}
	bh := h[12:]
	if bh[0] == 0 {
		return 4096, true // no block: the index follows
	}
	size := (int(bh[0]) + 1) * 4
	if len(bh) < size {
		return 0, false
	}
	bh = bh[:size]
	p := 2
	varint := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && p < len(bh); i++ {
			c := bh[p]
			p++
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	flags := bh[1]
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} {
		if present {
			if _, ok := varint(); !ok {
				return 0, false
			}
		}
	}
	for i := 0; i <= int(flags&3); i++ {
		id, ok1 := varint()
		n, ok2 := varint()
		if !ok1 || !ok2 || n > uint64(len(bh)-p) {
			return 0, false
		}
		props := bh[p : p+int(n)]
		p += int(n)
		if id == 0x21 && n == 1 {
			b := props[0]
			switch {
			case b > 40:
				return 0, false
			case b == 40:
				return ^uint32(0), true
			}
			return uint32(2|b&1) << (b/2 + 11), true
		}
	}
	return 0, false
}

// zstdWindow reads the window size from a zstd frame header.
func zstdWindow(h []byte) (uint64, bool) {
	if len(h) < 6 {
		return 0, false
	}
	fhd := h[4]
	if fhd&0x20 == 0 { // a window descriptor
		wd := h[5]
		base := uint64(1) << (10 + wd>>3)
		return base + base/8*uint64(wd&7), true
	}
	// Single segment: the window is the frame content size.
	p := 5 + []int{0, 1, 2, 4}[fhd&3]
	n := []int{1, 2, 4, 8}[fhd>>6]
	if len(h) < p+n {
		return 0, false
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(h[p+i])
	}
	if n == 2 {
		v += 256
	}
	return v, true
}

// lz4Block is the block size an lz4 frame descriptor declares.
func lz4Block(h []byte) int64 {
	if len(h) >= 6 && h[0] == 0x04 {
		switch (h[5] >> 4) & 7 {
		case 4:
			return 64 << 10
		case 5:
			return 256 << 10
		case 6:
			return 1 << 20
		}
	}
	return 8 << 20 // 4 MiB blocks, or the legacy format's 8 MiB
}

// newDecoder returns a reader of the decompressed stream r holds, its
// window charged to the budget (for what at offset off) until Close.
// segment makes gzip and xz stop at the end of their first stream instead
// of reading what follows as another.
func (ex *explainer) newDecoder(format string, r *bufio.Reader, segment bool, what string, off int64) (io.ReadCloser, error) {
	h, _ := r.Peek(64)
	charge, window := decoderMemory(format, h)
	hold := ex.newHold()
	if err := ex.grow(&hold, charge, what+" decoder window", off); err != nil {
		return nil, err
	}
	z, err := openDecoder(format, r, segment, window)
	if err != nil {
		hold.Release()
		return nil, err
	}
	return &multiCloser{Reader: z, closers: []func() error{z.Close, func() error { hold.Release(); return nil }}}, nil
}

func openDecoder(format string, r io.Reader, segment bool, window uint32) (io.ReadCloser, error) {
	switch format {
	case fmtGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		z.Multistream(!segment)
		return z, nil
	case fmtXz:
		z, err := xz.NewReader(r, window)
		if err != nil {
			return nil, err
		}
		z.Multistream(!segment)
		return io.NopCloser(z), nil
	case fmtZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(uint64(window)))
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case fmtBzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case fmtLz4:
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("no decompressor for %s", format)
}

// payloadName names the decompressed payload of a file.
func payloadName(name, format string) string {
	for _, ext := range []string{".gz", ".tgz", ".xz", ".txz", ".zst", ".bz2", ".lz4", ".z"} {
		if strings.HasSuffix(strings.ToLower(name), ext) {
			base := name[:len(name)-len(ext)]
			if ext[1] == 't' {
				base += ".tar"
			}
			return base
		}
	}
	return name + "!" + format
}

// decompressed is the node of parent's decompressed payload, cut off at
// MaxStreamBytes.
func (ex *explainer) decompressed(format string, parent *node) *node {
	return &node{name: payloadName(parent.name, format), size: -1, open: func() (io.ReadCloser, error) {
		rc, err := ex.openNode(parent)
		if err != nil {
			return nil, err
		}
		z, err := ex.newDecoder(format, bufio.NewReaderSize(rc, 64<<10), false, format+" stream of "+excerpt(parent.name, 64), 0)
		if err != nil {
			rc.Close()
			return nil, err
		}
		return &multiCloser{
			Reader:  &capReader{r: z, max: ex.o.MaxStreamBytes, what: "decompressed " + format + " stream"},
			closers: []func() error{z.Close, rc.Close},
		}, nil
	}}
}

// compressed explains two xz, zstd, bzip2 or lz4 files by their payloads.
func (ex *explainer) compressed(format string, a, b *node, depth int) Result {
	pa, pb := ex.decompressed(format, a), ex.decompressed(format, b)
	same, _, err := ex.sameStreams(pa, pb)
	if err != nil {
		return ex.fallback(format, a, b, err)
	}
	r := Result{Format: format}
	if same {
		r.Summary = format + ": same payload, compressed differently"
		r.Details = "the decompressed bytes are identical; the compressed streams differ (compression level, options, or compressor version)\n"
		r.hint(hintCompression)
		r.Complete = true
		return r
	}
	c := ex.explain(pa, pb, depth+1)
	c.Name = "payload (" + format + "-decompressed)"
	r.Summary = format + " payload: " + c.Summary
	r.Complete = c.Complete
	r.Children = []Result{c}
	return r
}
