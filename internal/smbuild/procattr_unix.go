//go:build unix

package smbuild

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the docker client in its own process group, so that
// the terminal's Ctrl-C reaches smbuild only and smbuild alone decides how
// the containers are stopped and removed.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
