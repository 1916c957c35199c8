//go:build !linux

package smbuild

import "os"

// lutimes sets the times of p from fi, following a symbolic link (no
// portable call sets a link's own times).
func lutimes(p string, fi os.FileInfo) error {
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	return os.Chtimes(p, fi.ModTime(), fi.ModTime())
}
