package smbuild

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Source is the git checkout being built.
type Source struct {
	Dir        string   // absolute path of the work tree's top level
	Commit     string   // full hash of HEAD
	CommitTime int64    // committer time of HEAD, seconds since the epoch
	Dirty      []string // set by CheckClean
	Submodules []Submodule
}

// Submodule is one line of `git submodule status`.
type Submodule struct {
	Path   string
	Commit string
	// State is ' ' (checked out at the recorded commit), '-' (not
	// initialised), '+' (checked out at another commit) or 'U' (conflict).
	State byte
}

// Short is the commit's first 12 hex digits, the name of its output folder.
func (s *Source) Short() string { return s.Commit[:12] }

// ReadSource reads the commit, its time and the submodules of the git work
// tree holding dir; Dirty is filled by CheckClean.
func ReadSource(ctx context.Context, dir string) (*Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	top, err := git(ctx, abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git work tree: %v", dir, err)
	}
	s := &Source{Dir: filepath.Clean(top)}
	if s.Commit, err = git(ctx, s.Dir, "rev-parse", "--verify", "HEAD^{commit}"); err != nil {
		return nil, fmt.Errorf("%s: no commit checked out: %v", s.Dir, err)
	}
	if !regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`).MatchString(s.Commit) {
		return nil, fmt.Errorf("git rev-parse HEAD printed %q", s.Commit)
	}
	ct, err := git(ctx, s.Dir, "log", "-1", "--format=%ct", s.Commit)
	if err != nil {
		return nil, err
	}
	if s.CommitTime, err = strconv.ParseInt(ct, 10, 64); err != nil {
		return nil, fmt.Errorf("git log -1 --format=%%ct printed %q", ct)
	}
	subs, err := git(ctx, s.Dir, "submodule", "status")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(subs, "\n") {
		if l == "" {
			continue
		}
		// " <sha> <path> (<describe>)", the first column being the state.
		f := strings.Fields(l[1:])
		if len(f) < 2 {
			return nil, fmt.Errorf("git submodule status printed %q", l)
		}
		s.Submodules = append(s.Submodules, Submodule{Path: f[1], Commit: f[0], State: l[0]})
	}
	return s, nil
}

// CheckClean lists in s.Dirty what differs from the commit in the work
// tree: changed tracked files and untracked files that are not ignored (the
// build sees the work tree, not the commit), leaving out the folder exclude
// when it lies inside the work tree (smbuild's own output).
func (s *Source) CheckClean(ctx context.Context, exclude string) error {
	args := []string{"status", "--porcelain", "--untracked-files=normal", "--", "."}
	if rel, err := filepath.Rel(s.Dir, exclude); exclude != "" && err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		args = append(args, ":(exclude)"+filepath.ToSlash(rel))
	}
	status, err := git(ctx, s.Dir, args...)
	if err != nil {
		return err
	}
	s.Dirty = nil
	for _, l := range strings.Split(status, "\n") {
		if len(l) > 3 {
			s.Dirty = append(s.Dirty, l[3:])
		}
	}
	return nil
}

// Toolchain picks the toolchain submodule: the one named (if name is not
// empty), else the only one; it returns nil when there is none.
func (s *Source) Toolchain(name string) (*Submodule, error) {
	if name != "" {
		for i := range s.Submodules {
			if s.Submodules[i].Path == name {
				return &s.Submodules[i], nil
			}
		}
		return nil, fmt.Errorf("TOOLCHAIN_SUBMODULE %q is not a submodule of %s", name, s.Dir)
	}
	switch len(s.Submodules) {
	case 0:
		return nil, nil
	case 1:
		return &s.Submodules[0], nil
	}
	paths := make([]string, len(s.Submodules))
	for i, m := range s.Submodules {
		paths[i] = m.Path
	}
	return nil, fmt.Errorf("the source has %d submodules (%s); name the toolchain one with TOOLCHAIN_SUBMODULE in config/*.conf", len(paths), strings.Join(paths, ", "))
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(cmd.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimRight(out.String(), "\n"), nil
}
