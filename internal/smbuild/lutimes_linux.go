package smbuild

import (
	"os"
	"syscall"
	"unsafe"
)

// lutimes gives p (a symbolic link itself, not its target) the access and
// modification times of fi.
func lutimes(p string, fi os.FileInfo) error {
	ts := []syscall.Timespec{syscall.NsecToTimespec(fi.ModTime().UnixNano()), syscall.NsecToTimespec(fi.ModTime().UnixNano())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ts[0] = st.Atim
	}
	name, err := syscall.BytePtrFromString(p)
	if err != nil {
		return err
	}
	const atSymlinkNofollow = 0x100
	atFDCWD := -100
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&ts[0])), atSymlinkNofollow, 0, 0)
	if e != 0 {
		return &os.PathError{Op: "utimensat", Path: p, Err: e}
	}
	return nil
}
