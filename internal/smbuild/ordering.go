package smbuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The fileordering variation. reprotest varies the order in which
// directories list their entries with disorderfs, a FUSE file system, which
// needs /dev/fuse and CAP_SYS_ADMIN. smbuild does it without privileges:
// build b's source is a copy, on a tmpfs (OrderBase), in which every
// directory lists its entries in the reverse of the order in which the
// source's file system lists them (tmpfs lists a directory in the order its
// entries were made, or the reverse; ext4 in hash order, which a copy cannot
// change). The copy also gives build b's source files other inode numbers
// and change times, as disorderfs does.

// OrderBase is where build b's reordered copy of the source is made; it
// must be a file system that lists a directory in the order its entries
// were made or in the reverse (tmpfs), on the engine's host.
var OrderBase = "/dev/shm"

// orderPrefix starts the name of a copy in OrderBase; the owner (process
// id and start time) follows, so that RemoveLeftovers can remove the copy
// of a killed smbuild.
const orderPrefix = "smbuild-source-"

// probeOrder finds out how dir's file system orders a directory's entries:
// it reports reverse=false when they are listed in the order they were made,
// true for the reverse, and an error for any other order.
func probeOrder(dir string) (reverse bool, err error) {
	d, err := os.MkdirTemp(dir, "smbuild-probe-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(d)
	names := []string{"p3", "p1", "p7", "p0", "p5", "p2", "p6", "p4", "p9", "p8"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
			return false, err
		}
	}
	got, err := readdirnames(d)
	if err != nil {
		return false, err
	}
	if slices.Equal(got, names) {
		return false, nil
	}
	slices.Reverse(got)
	if slices.Equal(got, names) {
		return true, nil
	}
	return false, fmt.Errorf("%s lists a directory neither in the order its entries were made nor in the reverse, so smbuild cannot order a copy there", dir)
}

// readdirnames lists dir in the order its file system gives, unsorted.
func readdirnames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// reorderedCopy copies the tree src into a new folder under OrderBase so
// that each directory there lists its entries in the reverse of src's
// order. The folder empty (inside src: smbuild's output root) is copied as
// an empty directory. It returns the copy's root; the caller removes the
// folder holding it (filepath.Dir of the root). It stops, removing what it
// made, when ctx is cancelled.
func reorderedCopy(ctx context.Context, src, empty string) (string, error) {
	reverse, err := probeOrder(OrderBase)
	if err != nil {
		return "", err
	}
	holder, err := os.MkdirTemp(OrderBase, orderPrefix+ownerTag()+"-")
	if err != nil {
		return "", err
	}
	root := filepath.Join(holder, "source")
	c := &copier{ctx: ctx, reverse: reverse, empty: empty, links: map[[2]uint64]string{}, chown: os.Geteuid() == 0}
	if err := c.entry(src, root); err != nil {
		os.RemoveAll(holder)
		return "", fmt.Errorf("copying the source for the fileordering variation: %w", err)
	}
	return root, nil
}

type copier struct {
	ctx     context.Context
	reverse bool // the file system lists entries in the reverse creation order
	empty   string
	links   map[[2]uint64]string // (device, inode) of a hard-linked file -> its copy
	chown   bool
}

func (c *copier) entry(src, dst string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch mode := fi.Mode(); {
	case mode.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		if src != c.empty {
			names, err := readdirnames(src)
			if err != nil {
				return err
			}
			// The copy must list the reverse of names: make the entries
			// in that order, or in names' order where the file system
			// lists newest first.
			if !c.reverse {
				slices.Reverse(names)
			}
			for _, n := range names {
				if err := c.entry(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
					return err
				}
			}
		}
		if err := os.Chmod(dst, mode&(os.ModePerm|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	case mode.IsRegular():
		if st != nil && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if first, ok := c.links[key]; ok {
				return os.Link(first, dst)
			}
			c.links[key] = dst
		}
		if err := copyContent(src, dst); err != nil {
			return err
		}
		if err := os.Chmod(dst, mode&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s is a %s, which smbuild does not copy", src, mode.Type())
	}
	if c.chown && st != nil {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return lutimes(dst, fi)
}

func copyContent(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ownerTag is this process's id and start time, for names of things that a
// later run may remove once the process is gone.
func ownerTag() string {
	pid := os.Getpid()
	return strconv.Itoa(pid) + "-" + procStart(pid)
}

// removeLeftoverCopies removes the source copies in OrderBase whose smbuild
// process is gone, saying so on progress.
func removeLeftoverCopies(progress io.Writer) {
	ents, err := os.ReadDir(OrderBase)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), orderPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		f := strings.SplitN(rest, "-", 3)
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || f[1] == "" || procStart(pid) == f[1] {
			continue
		}
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return // no /proc: cannot tell
		}
		p := filepath.Join(OrderBase, e.Name())
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(progress, "smbuild: cannot remove leftover source copy %s: %v\n", p, err)
			continue
		}
		fmt.Fprintf(progress, "smbuild: removed leftover source copy %s (the smbuild process that made it is gone)\n", p)
	}
}
