// Package fakelive writes a small but real live ISO: an ISO 9660 image with
// Rock Ridge extensions that carries a squashfs root filesystem at
// /live/filesystem.squashfs, the layout of a Debian live image. It exists so
// that smbuild's tests can run a builder without network access, without a
// base image and without external tools inside the container.
//
// Both filesystems are written with github.com/diskfs/go-diskfs, which is not
// deterministic on its own: it stamps time.Now() into the ISO primary volume
// descriptor and into the squashfs superblock, and copies each staged file's
// inode change time (which no program can set) into the Rock Ridge TF entries.
// Write therefore sets every time it can (modification and access times of
// every staged file and directory) from the given epoch, writes the image,
// and then normalises the remaining clock-derived fields in place: the
// squashfs mkfs time, the four volume descriptor dates, and every time in
// every Rock Ridge TF entry (found by walking the directory tree of the
// written ISO); it also sets the owner in every Rock Ridge PX entry to root
// (go-diskfs copies the writing process's uid and gid there). With that, two
// runs with the same input give identical bytes, whoever runs them.
package fakelive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
)

// File is one regular file of an image. Path is slash-separated and relative
// to the image root ("etc/hostname"); parent directories are made with mode
// 0755. Mode holds permission bits only; 0 means "leave what the process
// umask gives", which is how a leaky builder behaves.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// Stage writes files under dir and sets the modification and access times of
// every file and directory under dir (dir included) to mtime.
func Stage(dir string, files []File, mtime time.Time) error {
	for _, f := range files {
		clean := path.Clean(f.Path)
		if clean == "." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
			return fmt.Errorf("bad image path %q", f.Path)
		}
		p := filepath.Join(dir, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o666); err != nil {
			return err
		}
		if f.Mode != 0 {
			if err := os.Chmod(p, f.Mode.Perm()); err != nil {
				return err
			}
		}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
}

// FixDirModes sets every directory under dir (dir included) to 0755.
// Directories that Stage makes get 0755 minus the process umask; a builder
// that wants an image independent of the umask calls FixDirModes.
func FixDirModes(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
}

// WriteSquashfs writes the tree staged under dir (see Stage) as a
// gzip-compressed squashfs at out, owned by root, with its mkfs time set to
// mtime. out must not exist.
func WriteSquashfs(out, dir string, mtime time.Time) error {
	size, err := treeSize(dir)
	if err != nil {
		return err
	}
	b, err := file.CreateFromPath(out, size*2+1<<20)
	if err != nil {
		return err
	}
	sq, err := squashfs.Create(b, 0, 0, 0)
	if err != nil {
		b.Close()
		return err
	}
	// Move the staged tree into the writer's own workspace, keeping times.
	ws := sq.Workspace()
	if err := os.Remove(ws); err != nil {
		b.Close()
		return err
	}
	if err := os.Rename(dir, ws); err != nil {
		// Different filesystems: fall back to a copy.
		if err := copyTree(dir, ws); err != nil {
			b.Close()
			return err
		}
	}
	defer os.RemoveAll(ws)
	var root uint32
	err = sq.Finalize(squashfs.FinalizeOptions{
		Compression: &squashfs.CompressorGzip{},
		FileUID:     &root,
		FileGID:     &root,
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("squashfs: %w", err)
	}
	return fixSquashfs(out, mtime)
}

// fixSquashfs sets the superblock's mkfs time and cuts the file after the
// 4 KiB-padded bytes_used (the writer leaves the preallocated tail).
func fixSquashfs(out string, mtime time.Time) error {
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	sb := make([]byte, 96)
	if _, err := f.ReadAt(sb, 0); err != nil {
		return err
	}
	if string(sb[:4]) != "hsqs" {
		return errors.New("squashfs: no superblock magic")
	}
	binary.LittleEndian.PutUint32(sb[8:12], uint32(mtime.Unix()))
	if _, err := f.WriteAt(sb[8:12], 8); err != nil {
		return err
	}
	used := int64(binary.LittleEndian.Uint64(sb[40:48]))
	if err := f.Truncate((used + 4095) &^ 4095); err != nil {
		return err
	}
	return f.Close()
}

// WriteISO writes the tree staged under dir (see Stage) as an ISO 9660 image
// with Rock Ridge at out, with the volume identifier volID and every date set
// to mtime. out must not exist.
func WriteISO(out, dir, volID string, mtime time.Time) error {
	size, err := treeSize(dir)
	if err != nil {
		return err
	}
	b, err := file.CreateFromPath(out, size+4<<20)
	if err != nil {
		return err
	}
	iso, err := iso9660.Create(b, 0, 0, 2048, dir)
	if err != nil {
		b.Close()
		return err
	}
	err = iso.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: volID})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	return fixISO(out, mtime)
}

const sector = 2048

// fixISO rewrites the clock-derived fields that the writer takes from the
// clock or from inode change times, and cuts the file to the volume size.
func fixISO(out string, mtime time.Time) error {
	img, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if len(img) < 17*sector || string(img[16*sector+1:16*sector+6]) != "CD001" || img[16*sector] != 1 {
		return errors.New("iso9660: no primary volume descriptor at sector 16")
	}
	pvd := img[16*sector : 17*sector]
	// Volume descriptor dates: creation, modification, expiration, effective
	// (ECMA-119 8.4.26-29), 17 bytes each starting at byte 813.
	dec := decDate(mtime)
	for off := 813; off < 813+4*17; off += 17 {
		copy(pvd[off:off+17], dec)
	}
	volBlocks := int(binary.LittleEndian.Uint32(pvd[80:84]))
	if volBlocks*sector > len(img) {
		return fmt.Errorf("iso9660: volume of %d blocks exceeds file", volBlocks)
	}
	root := pvd[156 : 156+34]
	w := &walker{img: img, stamp: dirDate(mtime), seen: map[uint32]bool{}}
	if err := w.dir(binary.LittleEndian.Uint32(root[2:6]), binary.LittleEndian.Uint32(root[10:14])); err != nil {
		return err
	}
	return os.WriteFile(out, img[:volBlocks*sector], 0o644)
}

type walker struct {
	img   []byte
	stamp []byte
	seen  map[uint32]bool
}

// dir visits the directory extent at block loc of size bytes: it sets each
// record's date and the times of its Rock Ridge TF entry, and recurses.
func (w *walker) dir(loc, size uint32) error {
	if w.seen[loc] {
		return nil
	}
	w.seen[loc] = true
	start := int(loc) * sector
	end := start + int(size)
	if end > len(w.img) {
		return fmt.Errorf("iso9660: directory at block %d runs past the image", loc)
	}
	for off := start; off < end; {
		n := int(w.img[off])
		if n == 0 { // records do not cross sectors: go to the next one
			off = (off/sector + 1) * sector
			continue
		}
		if off+n > end || n < 34 {
			return fmt.Errorf("iso9660: bad directory record at byte %d", off)
		}
		rec := w.img[off : off+n]
		copy(rec[18:25], w.stamp)
		nameLen := int(rec[32])
		su := 33 + nameLen
		if nameLen%2 == 0 {
			su++
		}
		if err := w.susp(rec[su:]); err != nil {
			return err
		}
		isSelfOrParent := nameLen == 1 && (rec[33] == 0 || rec[33] == 1)
		if rec[25]&2 != 0 && !isSelfOrParent {
			if err := w.dir(binary.LittleEndian.Uint32(rec[2:6]), binary.LittleEndian.Uint32(rec[10:14])); err != nil {
				return err
			}
		}
		off += n
	}
	return nil
}

// susp rewrites the TF entries and the owners of the PX entries in a system
// use area and follows CE.
func (w *walker) susp(area []byte) error {
	for len(area) >= 4 {
		sig, n := string(area[:2]), int(area[2])
		if n < 4 || n > len(area) {
			break
		}
		switch sig {
		case "TF":
			flags := area[4]
			width := 7
			if flags&0x80 != 0 {
				return errors.New("iso9660: long-form TF entry not expected")
			}
			for off := 5; off+width <= n; off += width {
				copy(area[off:off+width], w.stamp)
			}
		case "PX":
			// The owner is the builder's uid and gid; a live image's
			// files belong to root (xorriso -chown_r 0).
			if n >= 36 {
				clear(area[20:36])
			}
		case "CE":
			blk := binary.LittleEndian.Uint32(area[4:8])
			off := binary.LittleEndian.Uint32(area[12:16])
			ln := binary.LittleEndian.Uint32(area[20:24])
			s := int(blk)*sector + int(off)
			if s+int(ln) > len(w.img) {
				return errors.New("iso9660: CE area runs past the image")
			}
			if err := w.susp(w.img[s : s+int(ln)]); err != nil {
				return err
			}
		case "ST":
			return nil
		}
		area = area[n:]
	}
	return nil
}

// dirDate is the 7-byte date of ECMA-119 9.1.5, in UTC.
func dirDate(t time.Time) []byte {
	t = t.UTC()
	return []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// decDate is the 17-byte date of ECMA-119 8.4.26.1, in UTC.
func decDate(t time.Time) []byte {
	t = t.UTC()
	s := fmt.Sprintf("%04d%02d%02d%02d%02d%02d00", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second())
	return append([]byte(s), 0)
}

func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size() + 4096
		return nil
	})
	return n, err
}

func copyTree(from, to string) error {
	var dirs []string
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return os.MkdirAll(dst, fi.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			return err
		}
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, p := range dirs {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			return err
		}
		if err := os.Chtimes(dst, fi.ModTime(), fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}
