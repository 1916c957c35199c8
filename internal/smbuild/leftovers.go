package smbuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// OwnerLabel is the label naming the smbuild process that started a build
// container: host name, process id and the process's start time (in clock
// ticks since boot, from /proc), so that a later run can tell a container
// whose smbuild was killed (SIGKILL leaves `docker run --rm` containers
// running) from one whose smbuild is still at work.
const OwnerLabel = "smbuild.owner"

var (
	ownerOnce sync.Once
	owner     string
)

// Owner is this process's OwnerLabel value.
func Owner() string {
	ownerOnce.Do(func() {
		host, _ := os.Hostname()
		pid := os.Getpid()
		owner = host + "/" + strconv.Itoa(pid) + "/" + procStart(pid)
	})
	return owner
}

// procStart is the start time of process pid from /proc, or "" when there
// is no such process or no /proc.
func procStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22, starttime
}

// ownerGone reports whether the owner value names a process of this host
// that no longer runs. Containers of other hosts (a shared engine) are
// never judged gone.
func ownerGone(v string) bool {
	f := strings.Split(v, "/")
	if len(f) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(f[1])
	if f[0] != host || err != nil || pid <= 0 || f[2] == "" {
		return false
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return false // no /proc: cannot tell
	}
	return procStart(pid) != f[2]
}

// RemoveLeftovers removes the build containers of smbuild runs that were
// killed before they could (their owner process is gone), and containers of
// the commit short that carry no owner (made by an older smbuild). It says
// what it removed on progress.
func (d Docker) RemoveLeftovers(ctx context.Context, short string, progress io.Writer) error {
	out, err := d.output(ctx, "ps", "--all", "--filter", "label=smbuild", "--format", `{{.ID}}	{{.Names}}	{{.Label "smbuild"}}	{{.Label "`+OwnerLabel+`"}}`)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			continue
		}
		id, name, commit, own := f[0], f[1], f[2], f[3]
		var why string
		switch {
		case own != "" && ownerGone(own):
			why = "the smbuild process that started it is gone"
		case own == "" && commit == short:
			why = "a container of this commit left by an earlier smbuild"
		default:
			continue
		}
		fmt.Fprintf(progress, "smbuild: removing leftover container %s (%s)\n", name, why)
		d.ForceRemove(id)
	}
	return nil
}
