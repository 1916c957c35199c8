package explain

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"unicode/utf8"
)

// excerptLen is how much of a long value (a name, a link target, a PAX
// record, an extra field) a listing keeps: the rest is represented by its
// length and SHA-256 digest, so that two long values still compare equal
// exactly when they are equal (up to SHA-256), without holding either.
const excerptLen = 256

// bounded returns s itself when it is at most excerptLen bytes long, else
// an excerpt of it with its length and digest.
func bounded(s string) string {
	if len(s) <= excerptLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return longValue(s[:excerptLen], int64(len(s)), sum[:])
}

// boundedText is bounded for text in a byte slice, without copying more
// than the excerpt.
func boundedText(b []byte) string {
	if len(b) <= excerptLen {
		return string(b)
	}
	sum := sha256.Sum256(b)
	return longValue(string(b[:excerptLen]), int64(len(b)), sum[:])
}

// boundedBytes is bounded for a byte slice, rendered by show (e.g. hex).
func boundedBytes(b []byte, show func([]byte) string) string {
	if len(b) <= excerptLen {
		return show(b)
	}
	sum := sha256.Sum256(b)
	return longValue(show(b[:excerptLen]), int64(len(b)), sum[:])
}

func longValue(head string, n int64, sum []byte) string {
	return fmt.Sprintf("%s... (%d bytes, sha256 %s)", cutUTF8(head), n, hex.EncodeToString(sum[:8]))
}

// cutUTF8 drops a rune cut in half at the end of s.
func cutUTF8(s string) string {
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// excerpt cuts s to about n bytes for a message.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8(s[:n]) + "..."
}

// valueSink takes a long value piece by piece and keeps what bounded
// would: its first excerptLen bytes, its length and its digest.
type valueSink struct {
	head []byte
	n    int64
	h    hash.Hash
}

func (v *valueSink) Write(p []byte) (int, error) {
	if len(v.head) < excerptLen {
		v.head = append(v.head, p[:min(len(p), excerptLen-len(v.head))]...)
	}
	if v.h == nil && v.n+int64(len(p)) > excerptLen {
		v.h = sha256.New()
		v.h.Write(v.head[:v.n])
	}
	if v.h != nil {
		v.h.Write(p)
	}
	v.n += int64(len(p))
	return len(p), nil
}

// String is the value (when short) or its excerpt, length and digest.
func (v *valueSink) String() string {
	if v.h == nil {
		return string(v.head)
	}
	return longValue(string(v.head), v.n, v.h.Sum(nil))
}

// skipBuffered discards n bytes of br without a copy buffer (io.CopyN into
// io.Discard takes one from a pool per call).
func skipBuffered(br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		k, err := br.Discard(int(min(n-done, 1<<30)))
		done += int64(k)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// cstringSink passes to its valueSink the bytes before the first NUL (a
// GNU long name is NUL-terminated within its data).
type cstringSink struct {
	v    *valueSink
	done bool
}

func (c *cstringSink) Write(p []byte) (int, error) {
	if c.done {
		return len(p), nil
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		c.done = true
		c.v.Write(p[:i])
		return len(p), nil
	}
	return c.v.Write(p)
}
