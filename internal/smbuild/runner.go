package smbuild

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

// Runner settings belong to the machine that builds, not to the source:
// mounts (the apt cache volume a CI runner keeps), extra environment (a
// proxy) and an override of the builder image (the CI job that has just
// built and pushed a new one). They come from flags or smbuild's own
// environment, never from config/*.conf. BUILD_INFO records the mount
// targets and the names of the extra variables, not their sources or
// values (a proxy URL may hold a password), and the image actually used.

// Mount is one --volume: a named docker volume or an absolute host path,
// mounted at Target in both builds.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ParseMount reads SOURCE:TARGET[:ro], SOURCE being a docker volume name or
// an absolute host path.
func ParseMount(s string) (Mount, error) {
	f := strings.Split(s, ":")
	var m Mount
	switch {
	case len(f) == 3 && f[2] == "ro":
		m.ReadOnly = true
	case len(f) == 3 && f[2] == "rw":
	case len(f) != 2:
		return m, fmt.Errorf("--volume %q is not SOURCE:TARGET or SOURCE:TARGET:ro", s)
	}
	m.Source, m.Target = f[0], f[1]
	if !strings.HasPrefix(m.Source, "/") && !volumeNameRE.MatchString(m.Source) {
		return m, fmt.Errorf("--volume %q: %q is neither an absolute host path nor a docker volume name", s, m.Source)
	}
	if !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target || m.Target == "/" {
		return m, fmt.Errorf("--volume %q: the target %q is not a clean absolute path in the container", s, m.Target)
	}
	for _, own := range []string{OutputPath, variantA.SourcePath, variantB.SourcePath} {
		if m.Target == own || strings.HasPrefix(m.Target+"/", own+"/") || strings.HasPrefix(own+"/", m.Target+"/") {
			return m, fmt.Errorf("--volume %q: the target %q would cover or lie in %s, which smbuild mounts", s, m.Target, own)
		}
	}
	return m, nil
}

func (m Mount) arg() string {
	fields := []string{"type=volume", "source=" + m.Source, "target=" + m.Target}
	if strings.HasPrefix(m.Source, "/") {
		fields[0] = "type=bind"
	}
	if m.ReadOnly {
		fields = append(fields, "readonly")
	}
	return mountArg(fields...)
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseRunnerEnv reads --env NAME=VALUE, or NAME to pass smbuild's own
// value of NAME, and returns NAME=VALUE.
func ParseRunnerEnv(s string) (string, error) {
	name, value, ok := strings.Cut(s, "=")
	if !envNameRE.MatchString(name) {
		return "", fmt.Errorf("--env %q: %q is not a variable name", s, name)
	}
	if !ok {
		v, set := os.LookupEnv(name)
		if !set {
			return "", fmt.Errorf("--env %s: %s is not set in smbuild's environment", name, name)
		}
		value = v
	}
	if strings.ContainsAny(value, "\x00\n") {
		return "", fmt.Errorf("--env %s: the value holds a NUL or newline", name)
	}
	return name + "=" + value, nil
}

// checkRunnerEnv refuses extra variables that smbuild sets itself or that
// the configuration sets (the build is defined by the commit: a runner may
// add, not change).
func checkRunnerEnv(env []string, c *Config) error {
	var errs multiError
	conf := map[string]bool{}
	for _, e := range c.Env {
		conf[e.Key] = true
	}
	seen := map[string]bool{}
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		switch {
		case reservedKeys[name] != "":
			errs = append(errs, fmt.Errorf("--env %s: smbuild sets %s itself", name, name))
		case conf[name]:
			errs = append(errs, fmt.Errorf("--env %s: the configuration sets %s; a runner may add variables, not change the build's", name, name))
		case seen[name]:
			errs = append(errs, fmt.Errorf("--env %s is given twice", name))
		}
		seen[name] = true
	}
	return errs.err()
}
