package squashfs

import (
	"io/fs"

	"github.com/isodiff/isodiff/internal/fsview"
	"github.com/isodiff/isodiff/tree"
)

// FS returns the image's tree as an io/fs.FS. It implements fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS, so fs.WalkDir, fs.ReadDir, fs.ReadFile,
// fs.Stat, fs.Lstat and fs.ReadLink work on it.
//
// A FileInfo's Mode is the full mode: permissions with setuid, setgid and
// sticky, and the type (directory, symlink, block or character device,
// named pipe, socket). ModTime is the inode's mtime, Size a regular
// file's length or a symlink target's, and Sys returns the *Entry, which
// holds the owner, link count, device numbers, xattrs and inode number.
//
// Symbolic links are never followed: Stat and Open describe the link
// itself, Read on it fails, and a path through a link does not exist.
// Opening a regular file gives an fs.File that also implements io.ReaderAt
// and io.Seeker (see OpenFile: only the blocks touched are decoded); a
// device, pipe or socket reads as empty.
//
// A lookup reads only the directories on its path, and in each only the
// metadata blocks its directory index points to, as the kernel does; the
// directories on a path must be distinct and at most 1024 deep, as in a
// Walk, so fs.WalkDir ends with an error on an image with a cycle. Like
// the kernel, it relies on the listing being sorted, which mksquashfs
// guarantees: in a crafted image whose listing is not, a name that Walk
// yields may not be found. A name that is not valid UTF-8 is listed by
// ReadDir but cannot be opened (io/fs paths are UTF-8; Walk yields every
// name).
//
// Errors are *fs.PathError values: fs.ErrNotExist for a missing name,
// fs.ErrInvalid for a path fs.ValidPath rejects (and ReadLink of a
// non-link), otherwise the reader's error (a *FormatError, a budget
// refusal, the Options context's error). The Reader's Options apply. The
// FS is safe for concurrent use; each fs.File it opens is for one
// goroutine at a time, except ReadAt, which may be called concurrently.
func (r *Reader) FS() fs.FS {
	return fsview.New(&fsview.Source[*Entry, dirent]{
		Node:   entryNode,
		Lookup: r.lookup,
		List: func(d *Entry) ([]dirent, func(), error) {
			ents, charged, err := r.readDir(d)
			if err != nil {
				return nil, nil, withPath(err, d.Path)
			}
			return ents, func() { r.budget.Release(charged) }, nil // held while open
		},
		Child: r.direntEntry,
		Open:  func(e *Entry) (fsview.File, error) { return r.OpenFile(e) },
		// Read errors are *fs.PathError values, as os.File's are.
		WrapReadErrors: true,
	})
}

func entryNode(e *Entry) *tree.Node { return &e.Node }

// lookup resolves name (an fs.ValidPath) to its entry. The directories on
// the path must be distinct (by inode number and by listing) and at most
// maxDepth deep, as in a Walk: otherwise a crafted image's cycle would make
// fs.WalkDir descend forever.
func (r *Reader) lookup(name string) (*Entry, error) {
	root, err := r.node("/", r.Super.RootInode, TypeDir)
	if err != nil {
		return nil, withPath(err, "/")
	}
	var dirs []*Entry // the directories above the one searched
	e, err := fsview.Resolve(root, name, entryNode, func(d *Entry, elem string) (*Entry, bool, error) {
		if err := checkOnPath(r, d, dirs); err != nil {
			return nil, false, withPath(err, d.Path)
		}
		dirs = append(dirs, d)
		de, ok, err := r.lookupName(d, elem)
		if err != nil || !ok {
			return nil, ok, withPath(err, d.Path)
		}
		e, err := r.direntEntry(d, de)
		return e, true, err
	})
	if err == nil && e.Mode.IsDir() {
		if err := checkOnPath(r, e, dirs); err != nil {
			return nil, withPath(err, e.Path)
		}
	}
	return e, err
}

// direntEntry returns the entry directory entry de of directory dir names.
func (r *Reader) direntEntry(dir *Entry, de dirent) (*Entry, error) {
	p := tree.Join(dir.Path, de.name)
	e, err := r.node(p, de.ref, de.typ)
	if err != nil {
		return nil, withPath(err, p)
	}
	return e, nil
}

// checkOnPath reports directory e as corrupt if it is too deep or one of
// the directories above it again, by inode number or by listing.
func checkOnPath(r *Reader, e *Entry, above []*Entry) error {
	off := int64(r.Super.InodeTableStart + e.ref>>16)
	if len(above) >= maxDepth {
		return corrupt(off, "directory", "nesting deeper than %d", maxDepth)
	}
	for _, a := range above {
		if a.Inode == e.Inode {
			return corrupt(off, "directory", "inode %d reached twice (cycle or hard-linked directory)", e.Inode)
		}
		// An empty directory's listing is zero bytes long and may start
		// where an ancestor's does (mksquashfs writes leaves first): it
		// reads nothing, so it cannot make a loop.
		if a.dirSize > 0 && e.dirSize > 0 && a.dirBlock == e.dirBlock && a.dirPos == e.dirPos {
			return corrupt(off, "directory", "listing %d:%d shared with another directory", e.dirBlock, e.dirPos)
		}
	}
	return nil
}
