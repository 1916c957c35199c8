// Package tree holds what the image readers share: the node model and walk order.
//
// The readers (ISO 9660, squashfs, EROFS) share it so that one merge-walk
// can compare any two of them: a node's metadata in a common shape, the
// order in which every reader yields its nodes, and SideError, which says
// which of two compared images an error came from.
//
// The order is that of a depth-first, pre-order walk in which each
// directory's children are sorted by name, byte by byte. Comparing two whole
// paths that way is not plain string order ("a.c" < "a/b" as strings, but the
// walk visits a/b first), so Compare treats the separator as lower than every
// byte a name can hold. Both readers yield nodes in Compare order, which lets
// the differ merge two streams without holding either tree in memory.
package tree

import (
	"bytes"
	"crypto/sha256"
	"io/fs"
	"strings"
	"time"
)

// Compare orders two slash-separated absolute paths ("/", "/a", "/a/b") in
// depth-first pre-order with children sorted bytewise. It returns -1, 0 or +1.
func Compare(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return +1
		}
		if ca < cb {
			return -1
		}
		return +1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return +1
	}
	return 0
}

// Join joins a directory path and a name in the form the readers use.
func Join(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}

// Xattr is one extended attribute, with its full name ("user.foo",
// "security.capability"). Values longer than XattrExcerpt bytes are kept as
// an excerpt: their first XattrExcerpt bytes, their length and their
// SHA-256, so that a node never carries copies of large values an image
// can repeat (one 64 KiB value referenced by thousands of keys).
type Xattr struct {
	Name  string
	Value []byte // the whole value, or its first XattrExcerpt bytes
	Size  int    // the value's length
	Sum   [sha256.Size]byte
}

// XattrExcerpt is the longest value an Xattr holds whole.
const XattrExcerpt = 64

// NewXattr returns the attribute name=value, excerpting a long value.
// value is copied, so the caller may reuse it.
func NewXattr(name string, value []byte) Xattr {
	x := Xattr{Name: name, Size: len(value)}
	if len(value) > XattrExcerpt {
		x.Sum = sha256.Sum256(value)
		value = value[:XattrExcerpt]
	}
	x.Value = bytes.Clone(value)
	if x.Value == nil {
		x.Value = []byte{}
	}
	return x
}

// Excerpted reports whether Value holds only the start of the value.
func (x Xattr) Excerpted() bool { return x.Size > len(x.Value) }

// SameValue reports whether x and y have equal values (by SHA-256 for
// excerpted values).
func (x Xattr) SameValue(y Xattr) bool {
	return x.Size == y.Size && bytes.Equal(x.Value, y.Value) && x.Sum == y.Sum
}

// MemSize is what the attribute holds in memory, for budgets.
func (x Xattr) MemSize() int64 { return int64(len(x.Name)+len(x.Value)) + 80 }

// Node is the metadata of one filesystem node, as both readers report it.
// Fields a format does not carry are left zero and named in the Has mask.
type Node struct {
	Path     string      // absolute, slash-separated; "/" is the root
	Mode     fs.FileMode // type bits plus permission, setuid, setgid and sticky bits
	UID, GID uint32
	Nlink    uint32
	Size     int64
	ModTime  time.Time
	Link     string // symlink target
	DevMajor uint32 // block and character devices
	DevMinor uint32
	Xattrs   []Xattr // sorted by name
	Inode    uint64  // reader-specific identity, for grouping hard links; never compared
	// Filter names the filter through which the reader decodes a regular
	// file's recorded bytes, in xorriso's words (the ISO reader's
	// "zisofs:pz:32k" for a zisofs file); "" when they are read as
	// recorded. Size and content are then the decoded ones, so that a file
	// compares equal to its unfiltered copy but for this field.
	Filter string
}

// TypeString is the one-letter type ls and unsquashfs print ("-", "d", "l",
// "c", "b", "p", "s").
func (n *Node) TypeString() string {
	return TypeLetter(n.Mode)
}

// TypeLetter returns the ls-style type letter of m.
func TypeLetter(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "d"
	case m&fs.ModeSymlink != 0:
		return "l"
	case m&fs.ModeCharDevice != 0:
		return "c"
	case m&fs.ModeDevice != 0:
		return "b"
	case m&fs.ModeNamedPipe != 0:
		return "p"
	case m&fs.ModeSocket != 0:
		return "s"
	}
	return "-"
}

// PermString renders the nine permission characters the way ls does,
// including s/S, t/T for setuid, setgid and sticky.
func PermString(m fs.FileMode) string {
	var b strings.Builder
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b.WriteByte(rwx[i])
		} else {
			b.WriteByte('-')
		}
	}
	s := []byte(b.String())
	special := func(pos int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if s[pos] == 'x' {
			s[pos] = lower
		} else {
			s[pos] = upper
		}
	}
	special(2, m&fs.ModeSetuid != 0, 's', 'S')
	special(5, m&fs.ModeSetgid != 0, 's', 'S')
	special(8, m&fs.ModeSticky != 0, 't', 'T')
	return string(s)
}

// ModeFromPOSIX converts a POSIX st_mode, as EROFS inodes and Rock Ridge
// PX entries record it, to an fs.FileMode: the permission bits, setuid,
// setgid and sticky, and the file type (S_IFMT). ok is false when the type
// bits name no file type; mode then holds the other bits only.
func ModeFromPOSIX(m uint32) (mode fs.FileMode, ok bool) {
	mode = fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch m & 0o170000 { // S_IFMT
	case 0o100000: // S_IFREG
	case 0o040000: // S_IFDIR
		mode |= fs.ModeDir
	case 0o120000: // S_IFLNK
		mode |= fs.ModeSymlink
	case 0o020000: // S_IFCHR
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000: // S_IFBLK
		mode |= fs.ModeDevice
	case 0o010000: // S_IFIFO
		mode |= fs.ModeNamedPipe
	case 0o140000: // S_IFSOCK
		mode |= fs.ModeSocket
	default:
		return mode, false
	}
	return mode, true
}
