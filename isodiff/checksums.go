package isodiff

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/report"
)

// Checksum lists inside an image (Debian live's /md5sum.txt, SHA256SUMS)
// change whenever a file they name changes: their differing lines follow
// from those files. The explain stage reads both lists (at most
// maxChecksumListBytes each), ties each differing entry to the diverging
// file it names, and checks the listed sums against that file's bytes.
// When every differing entry is a diverging file whose sums are right on
// both sides, the list's own difference is marked as following from them.

// HintChecksumList is the hint of such a list.
const HintChecksumList = "checksums_of_diverging_files"

const maxChecksumListBytes = 4 << 20

// maxVerifyBytes is the largest file whose listed sum is checked by reading
// it again: a live ISO's md5sum.txt lists its squashfs image (a GiB, read
// once already by the hashing pass, which computes SHA-256 only).
const maxVerifyBytes = 64 << 20

var checksumListNames = map[string]bool{
	"md5sum.txt": true, "md5sums.txt": true, "MD5SUMS": true, "sha1sum.txt": true, "SHA1SUMS": true,
	"sha256sum.txt": true, "sha256sums.txt": true, "SHA256SUMS": true, "sha512sum.txt": true, "SHA512SUMS": true,
}

var (
	reGNUSum = regexp.MustCompile(`^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128}) [ *](.+)$`)
	reBSDSum = regexp.MustCompile(`^(MD5|SHA1|SHA256|SHA512) \((.+)\) = ([0-9a-fA-F]+)$`)
)

// isChecksumList reports whether an ISO path names a checksum list.
func isChecksumList(scope report.Scope, p string) bool {
	return scope == report.ISOTree && checksumListNames[path.Base(p)]
}

// parseChecksumList reads "sum  path" (GNU) and "ALG (path) = sum" (BSD)
// lines into absolute paths, relative to the list's directory.
func parseChecksumList(r io.Reader, dir string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxChecksumListBytes))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		var sum, name string
		if m := reGNUSum.FindStringSubmatch(line); m != nil {
			sum, name = m[1], m[2]
		} else if m := reBSDSum.FindStringSubmatch(line); m != nil {
			sum, name = m[3], m[2]
		} else {
			continue
		}
		if !strings.HasPrefix(name, "/") {
			name = path.Join(dir, name)
		}
		out[path.Clean(name)] = strings.ToLower(sum)
	}
	return out
}

func hasherFor(sum string) hash.Hash {
	switch len(sum) {
	case 32:
		return md5.New()
	case 40:
		return sha1.New()
	case 64:
		return sha256.New()
	}
	return sha512.New()
}

// fileSum returns side i's hash of diverging file dv in the algorithm of
// want: the hashing pass's SHA-256 of a container when it is that, else
// by reading the file when it is at most maxVerifyBytes; known is false
// when it is neither.
func (s *session) fileSum(ctx context.Context, dv divergent, i int, want string) (sum string, known bool, err error) {
	if len(want) == 64 {
		for _, c := range s.containers {
			if c.path == dv.path && c.sum[i] != "" {
				return c.sum[i], true, nil
			}
		}
	}
	if dv.size[i] > maxVerifyBytes {
		return "", false, nil
	}
	r, err := dv.open[i]()
	if err != nil {
		return "", false, err
	}
	h := hasherFor(want)
	_, err = io.Copy(h, bytecmp.ContextReader(ctx, r))
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
	if err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), true, nil
}

// explainChecksumList explains diverging list d from the other diverging
// files (by ISO path). It returns the explanation and whether the list's
// difference follows from theirs entirely.
func (s *session) explainChecksumList(ctx context.Context, d divergent, diverging map[string]divergent) (string, bool, error) {
	var lists [2]map[string]string
	for i := range lists {
		r, err := d.open[i]()
		if err != nil {
			return "", false, err
		}
		lists[i] = parseChecksumList(bytecmp.ContextReader(ctx, r), path.Dir(d.path))
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		held := int64(0)
		for p, sum := range lists[i] {
			held += int64(len(p)+len(sum)) + 64
		}
		if err := s.budget.Charge(held, "checksum list "+d.path, -1); err != nil {
			return "", false, err
		}
		defer s.budget.Release(held)
	}
	var paths []string
	for p, a := range lists[0] {
		if lists[1][p] != a {
			paths = append(paths, p)
		}
	}
	for p := range lists[1] {
		if _, ok := lists[0][p]; !ok {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return "", false, nil // the lists agree on every entry: the difference is elsewhere
	}
	slices.Sort(paths)
	var follow, other, stale, unverified []string
	for _, p := range paths {
		dv, ok := diverging[p]
		if !ok {
			other = append(other, p)
			continue
		}
		follow = append(follow, p)
		for i := range lists {
			want, listed := lists[i][p]
			if !listed {
				continue
			}
			got, known, err := s.fileSum(ctx, dv, i, want)
			if err != nil {
				return "", false, err
			}
			switch {
			case !known:
				unverified = append(unverified, fmt.Sprintf("%s (%d bytes, not read again)", p, dv.size[i]))
			case got != want:
				stale = append(stale, fmt.Sprintf("%s in image %s (listed %.12s..., the file's is %.12s...)", p, "AB"[i:i+1], want, got))
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "checksum list: %d entr%s differ", len(paths), map[bool]string{true: "y", false: "ies"}[len(paths) == 1])
	if len(follow) > 0 {
		fmt.Fprintf(&b, "; %d for files that differ here (%s): they follow from them", len(follow), listCapped(follow, 5))
	}
	if len(other) > 0 {
		fmt.Fprintf(&b, "; %d for files that do not differ here (%s)", len(other), listCapped(other, 5))
	}
	switch {
	case len(stale) > 0:
		fmt.Fprintf(&b, "; the list does not match the file: %s", listCapped(stale, 5))
	case len(follow) > 0 && len(unverified) == 0:
		b.WriteString("; every listed sum matches its file")
	case len(follow) > 0:
		fmt.Fprintf(&b, "; the listed sums of the others match their files; not checked: %s", listCapped(unverified, 5))
	}
	return b.String(), len(other) == 0 && len(stale) == 0, nil
}
