package isodiff

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/report"
)

// Ignore rules leave differences out of the short answer and the exit
// status's "different" without hiding them: an ignored difference stays in
// the report, marked with the rule that matched (report.Finding.Ignored),
// counted in the summary and listed in the files. Rules, as Options.Ignore
// and --ignore take them:
//
//	mtime               modification times of files and directories
//	owner               uid and gid
//	nlink               link counts
//	timestamps          mtime, and every header date and time (volume
//	                    creation, modification, expiration, effective
//	                    dates, the root directory record's time, ...)
//	directory-metadata  every field of a directory but its type (as
//	                    diffoscope's --exclude-directory-metadata)
//	semantic            timestamps, directory-metadata and nlink (as
//	                    diffoci's --semantic)
//	path:GLOB           everything at paths matching GLOB (path.Match
//	                    syntax, on the path inside the ISO or inside a
//	                    squashfs, where a file is also matched by its full
//	                    path, e.g. /live/filesystem.squashfs/etc/hostname;
//	                    a GLOB ending in "/" matches a whole subtree),
//	                    e.g. path:/var/log/*, path:/var/cache/
var ignoreFieldRules = map[string]func(name string, f *report.Finding) bool{
	"mtime": func(n string, _ *report.Finding) bool { return n == "mtime" },
	"owner": func(n string, _ *report.Finding) bool { return n == "uid" || n == "gid" },
	"nlink": func(n string, _ *report.Finding) bool { return n == "nlink" },
	"timestamps": func(n string, _ *report.Finding) bool {
		return n == "mtime" || strings.HasSuffix(n, "_date") || strings.HasSuffix(n, "_time")
	},
	"directory-metadata": func(n string, f *report.Finding) bool { return f.Type == "d" && n != "type" },
}

var ignorePresets = map[string][]string{
	"semantic": {"timestamps", "directory-metadata", "nlink"},
}

// CheckIgnore reports the first rule of rules that is not one.
func CheckIgnore(rules []string) error {
	_, err := parseIgnore(rules)
	return err
}

// ReadIgnoreFile reads ignore rules from a file: one a line, blank lines
// and lines starting with # left out.
func ReadIgnoreFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var rules []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := parseIgnore([]string{line}); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		rules = append(rules, line)
	}
	return rules, nil
}

// ignoreRules is a parsed Options.Ignore.
type ignoreRules struct {
	fields []string // names in ignoreFieldRules
	globs  []string
}

// parseIgnore checks and expands rule specs.
func parseIgnore(specs []string) (ignoreRules, error) {
	var r ignoreRules
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		switch {
		case strings.HasPrefix(spec, "path:"):
			g := strings.TrimPrefix(spec, "path:")
			if !strings.HasPrefix(g, "/") {
				return r, fmt.Errorf("ignore rule %q: the glob must be an absolute path (path:/var/log/*)", spec)
			}
			if _, err := path.Match(strings.TrimSuffix(g, "/"), "/"); err != nil {
				return r, fmt.Errorf("ignore rule %q: %v", spec, err)
			}
			r.globs = append(r.globs, g)
		case ignorePresets[spec] != nil:
			r.fields = append(r.fields, ignorePresets[spec]...)
		case ignoreFieldRules[spec] != nil:
			r.fields = append(r.fields, spec)
		default:
			return r, fmt.Errorf("unknown ignore rule %q (mtime, owner, nlink, timestamps, directory-metadata, semantic, path:GLOB)", spec)
		}
	}
	slices.Sort(r.fields)
	r.fields = slices.Compact(r.fields)
	return r, nil
}

func (r ignoreRules) empty() bool { return len(r.fields) == 0 && len(r.globs) == 0 }

// pathRule returns the glob rule that matches p, or "".
func (r ignoreRules) pathRule(p string) string {
	for _, g := range r.globs {
		if strings.HasSuffix(g, "/") {
			if strings.HasPrefix(p+"/", g) {
				return "path:" + g
			}
			continue
		}
		if ok, _ := path.Match(g, p); ok {
			return "path:" + g
		}
	}
	return ""
}

// fieldRule returns the field rule that matches field name of f, or "".
func (r ignoreRules) fieldRule(name string, f *report.Finding) string {
	for _, rule := range r.fields {
		if ignoreFieldRules[rule](name, f) {
			return rule
		}
	}
	return ""
}

// apply marks the findings of st that the rules match. A finding whose
// fields are partly ignored is split: the ignored fields go to a finding of
// their own, appended at the end (the indexes of the others are kept).
func (r ignoreRules) apply(st *report.Stage) {
	if r.empty() {
		return
	}
	n := len(st.Findings)
	for i := 0; i < n; i++ {
		f := &st.Findings[i]
		if f.Ignored != "" || f.Scope == report.ISOHeader && len(f.Fields) == 0 {
			continue
		}
		if f.Scope != report.ISOHeader {
			rule := r.pathRule(f.Path)
			if inner, ok := f.Scope.InContainer(); ok && rule == "" {
				rule = r.pathRule(strings.TrimSuffix(inner, "/") + f.Path) // the squashfs's files by their full path too
			}
			if rule != "" {
				f.Ignored = rule
				continue
			}
		}
		if len(f.Fields) == 0 {
			continue
		}
		var kept, ignored []field.Change
		var rules []string
		for _, c := range f.Fields {
			if rule := r.fieldRule(c.Name, f); rule != "" {
				ignored = append(ignored, c)
				if !slices.Contains(rules, rule) {
					rules = append(rules, rule)
				}
				continue
			}
			kept = append(kept, c)
		}
		switch {
		case len(ignored) == 0:
		case len(kept) == 0:
			f.Ignored = strings.Join(rules, ", ")
		default:
			split := *f
			split.Fields, split.Ignored = ignored, strings.Join(rules, ", ")
			f.Fields = kept
			st.Findings = append(st.Findings, split) // f may move: not used after
		}
	}
}

// hidesMtime reports whether modification times are ignored: the listing
// diffs then leave them out (their differences are still findings, marked
// ignored).
func (r ignoreRules) hidesMtime() bool {
	return slices.Contains(r.fields, "mtime") || slices.Contains(r.fields, "timestamps")
}
