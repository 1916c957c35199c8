//go:build !unix

package smbuild

import "os/exec"

func setProcessGroup(*exec.Cmd) {}
