package report

import "strings"

// Explanation says how, and probably why, a diverging file's two versions
// differ: what the explain stage found by reading both as their format
// (gzip, ELF, cpio, tar, zip, FAT, text, ...). It is data; Text renders it.
//
// The explain stage lists its explanations in its own Stage.Explanations,
// each naming the file it explains by Scope and Path (the content finding's);
// a stage may also explain a finding of its own in Finding.Explanation (the
// header stage names the damage a finding follows from).
// Report.ExplanationOf finds a finding's explanation either way.
type Explanation struct {
	// Scope and Path name the diverging file explained (top level only).
	Scope Scope  `json:"scope,omitzero"`
	Path  string `json:"path,omitempty"`
	// Name is, for a child, the member or payload it is about inside its
	// parent ("data.tar.xz", "usr/bin/x", "payload").
	Name string `json:"name,omitempty"`
	// Format is what both sides were read as: gzip, xz, zstd, bzip2, lz4,
	// elf, cpio, ar, deb, tar, zip, jar, pyc, fat, text, data, or
	// "checksum list".
	Format string `json:"format,omitempty"`
	// Summary is one line: "ELF: only the build id differs".
	Summary string `json:"summary"`
	// Details are more lines: the differing fields, a unified diff, hex
	// windows (capped; "... (details truncated)" ends a cut text).
	Details string `json:"details,omitempty"`
	// Hints are the likely causes, own and children's, as ids from the
	// README's hint table (reproducible-builds.org issue names where one
	// exists: timestamps_in_gzip_headers, build_id_differences_only, ...).
	Hints []string `json:"hints,omitempty"`
	// Complete is set when the whole difference is accounted for (an ELF
	// file that differs only in its build-id note): another tool would add
	// nothing, and diffoscope is not run on it.
	Complete bool `json:"complete"`
	// SameAs names (as the short answer does) the diverging file whose
	// explanation this is: the pair holds the same bytes on each side as
	// that one, explained once.
	SameAs string `json:"same_as,omitempty"`
	// FollowsFromOthers is set when the difference only follows from other
	// diverging files (a checksum list whose differing lines are those of
	// diverging files): listed, but left out of the short answer.
	FollowsFromOthers bool `json:"follows_from_others,omitempty"`
	// Children explain differing members and payloads.
	Children []Explanation `json:"children,omitempty"`
}

// Hint is the hints joined with ", ".
func (e *Explanation) Hint() string {
	if e == nil {
		return ""
	}
	return strings.Join(e.Hints, ", ")
}

// Headline is the explanation's first line, as the short answer gives it.
func (e *Explanation) Headline() string {
	if e == nil {
		return ""
	}
	if e.SameAs != "" {
		return "same contents on each side as " + e.SameAs + ": " + e.Summary
	}
	return e.Summary
}

// Text renders the explanation as lines: the headline, then the details,
// then each child's summary and its own lines, indented.
func (e *Explanation) Text() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(e.Headline())
	b.WriteByte('\n')
	e.render(&b, "")
	return strings.TrimRight(b.String(), "\n")
}

func (e *Explanation) render(b *strings.Builder, indent string) {
	if d := strings.TrimRight(e.Details, "\n"); d != "" {
		for _, line := range strings.Split(d, "\n") {
			b.WriteString(indent + line + "\n")
		}
	}
	for i := range e.Children {
		c := &e.Children[i]
		name := c.Name
		if name == "" {
			name = "payload"
		}
		b.WriteString(indent + name + ": " + c.Summary + "\n")
		c.render(b, indent+"  ")
	}
}

// Size is about how many bytes e holds, for a caller that charges what it
// keeps to a memory budget.
func (e *Explanation) Size() int64 {
	n := int64(160 + len(e.Scope.Container) + len(e.Path) + len(e.Name) + len(e.Format) + len(e.Summary) + len(e.Details) + len(e.SameAs))
	for _, h := range e.Hints {
		n += int64(len(h)) + 16
	}
	for i := range e.Children {
		n += e.Children[i].Size()
	}
	return n
}

// ExplanationOf returns f's explanation: its own (Finding.Explanation), else
// the explain stage's for f's Scope and Path, else nil.
func (r *Report) ExplanationOf(f Finding) *Explanation {
	if f.resolved != nil {
		return f.resolved
	}
	if f.Explanation != nil {
		return f.Explanation
	}
	if s := r.Stage(StageExplain); s != nil {
		for i := range s.Explanations {
			if e := &s.Explanations[i]; e.Scope == f.Scope && e.Path == f.Path {
				return e
			}
		}
	}
	return nil
}

// resolved returns r, or a shallow copy of it whose findings know their
// explanation (Finding.explanation), for the renderers: one index of the
// explain stage's explanations instead of a search per finding.
func (r *Report) resolved() *Report {
	ex := r.Stage(StageExplain)
	if ex == nil || len(ex.Explanations) == 0 {
		return r
	}
	type key struct {
		scope Scope
		path  string
	}
	index := make(map[key]*Explanation, len(ex.Explanations))
	for i := range ex.Explanations {
		e := &ex.Explanations[i]
		index[key{e.Scope, e.Path}] = e
	}
	c := *r
	c.Stages = make([]*Stage, len(r.Stages))
	for i, s := range r.Stages {
		sc := *s
		sc.Findings = make([]Finding, len(s.Findings))
		for j, f := range s.Findings {
			if f.Explanation == nil {
				f.resolved = index[key{f.Scope, f.Path}]
			}
			sc.Findings[j] = f
		}
		c.Stages[i] = &sc
	}
	return &c
}

// explanation is the finding's explanation as the renderers see it (after
// Report.resolved).
func (f *Finding) explanation() *Explanation {
	if f.resolved != nil {
		return f.resolved
	}
	return f.Explanation
}

// derived reports whether the finding follows from others: marked so by its
// stage, or explained as following from other diverging files.
func (f *Finding) derived() bool {
	return f.Derived || f.explanation() != nil && f.explanation().FollowsFromOthers
}
