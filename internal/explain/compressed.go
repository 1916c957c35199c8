package explain

import (
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

// newDecompressor returns a reader of the decompressed stream.
func newDecompressor(format string, r io.Reader) (io.ReadCloser, error) {
	switch format {
	case fmtGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return z, nil
	case fmtXz:
		z, err := xz.NewReader(r, xzDictMax)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(z), nil
	case fmtZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdWindowMax))
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

// newSegmentDecompressor is newDecompressor for one stream among others:
// gzip and xz stop at the end of their first stream instead of reading
// what follows as another.
func newSegmentDecompressor(format string, r io.Reader) (io.ReadCloser, error) {
	switch format {
	case fmtGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		z.Multistream(false)
		return z, nil
	case fmtXz:
		z, err := xz.NewReader(r, xzDictMax)
		if err != nil {
			return nil, err
		}
		z.Multistream(false)
		return io.NopCloser(z), nil
	}
	return newDecompressor(format, r)
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
		z, err := newDecompressor(format, rc)
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
