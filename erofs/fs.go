package erofs

import (
	"io/fs"
	"path"

	"github.com/isodiff/isodiff/internal/fsview"
	"github.com/isodiff/isodiff/tree"
)

// FS returns the image's tree as an io/fs.FS: fs.WalkDir, fs.ReadFile,
// fs.Stat, fs.ReadLink and fs.Lstat work on it, with full modes (setuid,
// setgid, sticky, device and socket types) and the *Entry in Sys().
// Symbolic links are never followed: Stat and Open describe the link
// itself, and a path through a link does not exist. A name that is not
// valid UTF-8 is listed by ReadDir but cannot be opened (io/fs paths are
// UTF-8; Walk yields every name). Its methods are safe for concurrent use.
func (r *Reader) FS() fs.FS {
	return fsview.New(&fsview.Source[*Entry, dirent]{
		Node:   entryNode,
		Lookup: r.lookup,
		List: func(d *Entry) ([]dirent, func(), error) {
			ents, charged, err := r.readDir(d)
			r.budget.Release(charged) // the listing is not held
			return ents, nil, err
		},
		Child: r.direntEntry,
		Open:  func(e *Entry) (fsview.File, error) { return r.OpenFile(e) },
		// Errors of an open file or directory name its Path.
		EntryPathInErrors: true,
	})
}

func entryNode(e *Entry) *tree.Node { return &e.Node }

// lookup resolves name (an fs.ValidPath) to its entry, reading only the
// directories on the path. A missing name is fs.ErrNotExist.
func (r *Reader) lookup(name string) (*Entry, error) {
	root, err := r.entryAt(uint64(r.Super.RootNid), "/", SuperblockOffset+14)
	if err != nil {
		return nil, err
	}
	return fsview.Resolve(root, name, entryNode, func(d *Entry, elem string) (*Entry, bool, error) {
		de, ok, err := r.lookupName(d, elem)
		if err != nil || !ok {
			return nil, ok, err
		}
		e, err := r.direntEntry(d, de)
		return e, true, err
	})
}

// direntEntry returns the entry directory entry de of directory dir names,
// checking that its type is the one de records.
func (r *Reader) direntEntry(dir *Entry, de dirent) (*Entry, error) {
	e, err := r.entryAt(de.nid, path.Join(dir.Path, de.name), de.off)
	if err != nil {
		return nil, err
	}
	if err := checkType(e, de.ftype); err != nil {
		return nil, err
	}
	return e, nil
}
