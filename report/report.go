// Package report is isodiff's result model and its renderings.
//
// The analysis (package isodiff and package sqfsdiff) fills a Report: the two
// images, then one Stage per step of the staged comparison, each with its
// status, the problems it hit and its findings. This package only renders a
// Report — as the text files the reproducibility CI step has always
// published (sizes.txt, sha256.txt, iso-header-cmp.txt, toc-diff.txt,
// squashfs-sha256.txt, sqfs-ls-diff.txt, sqfs-diff.txt, checklist.md), as a
// human summary ending with the short answer, and as JSON (report.json,
// schema documented in schema.md). It never analyses: every number and every
// diff text it prints was put into the Report by a stage.
package report

import (
	"encoding/json"
	"time"

	"github.com/isodiff/isodiff/internal/field"
)

// SchemaVersion names the JSON layout of a Report. It changes only when a
// field is removed or changes meaning; adding fields keeps it.
const SchemaVersion = "isodiff.report/v1"

// Stage names, in pipeline order.
const (
	StageSizes    = "sizes"    // image sizes and SHA-256
	StageHeader   = "header"   // volume descriptors, system area, MBR/GPT, El Torito
	StageTOC      = "toc"      // the ISO's own file tree
	StageSquashfs = "squashfs" // each embedded squashfs: hash, superblock, inner listing
	StageContent  = "content"  // bytes of files present in both images
	StageExplain  = "explain"  // how and why each differing file differs
)

// Status is the outcome of one stage.
type Status string

const (
	StatusSame    Status = "same"    // ran to the end, found no difference
	StatusDiffers Status = "differs" // ran to the end, found differences
	StatusFailed  Status = "failed"  // hit at least one problem; findings may be partial
	StatusSkipped Status = "skipped" // nothing to do (e.g. no squashfs in either image)
)

// Report is the whole result of comparing two images.
type Report struct {
	Schema    string    `json:"schema"`
	Tool      string    `json:"tool"`
	Started   time.Time `json:"started"`
	Elapsed   Duration  `json:"elapsed"`
	A         Image     `json:"a"`
	B         Image     `json:"b"`
	Identical bool      `json:"identical"` // same size and SHA-256
	// Containers are the squashfs images found inside the ISOs.
	Containers []Container `json:"containers,omitempty"`
	Stages     []*Stage    `json:"stages"`
}

// Image identifies one input.
type Image struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Container is a squashfs image embedded in the ISO, as found in each side.
type Container struct {
	Path string       `json:"path"` // path inside the ISO, e.g. /live/filesystem.squashfs
	A    *ContainerAt `json:"a,omitempty"`
	B    *ContainerAt `json:"b,omitempty"`
}

// ContainerAt locates one side's copy of a Container.
type ContainerAt struct {
	Offset int64  `json:"offset"` // byte offset in the ISO
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Stage is one step of the comparison.
type Stage struct {
	Name     string    `json:"name"`
	Status   Status    `json:"status"`
	Elapsed  Duration  `json:"elapsed"`
	Problems []Problem `json:"problems,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	// Texts are diffs the stage computed for people to read, such as the
	// unified diff of two listings.
	Texts []Text `json:"texts,omitempty"`
}

// Problem is an error a stage met: which file, where, and what.
type Problem struct {
	File    string `json:"file"`            // the image (or inner file) being read
	Stage   string `json:"stage"`           // the stage that met it
	Offset  int64  `json:"offset"`          // byte offset in File, -1 when unknown
	Message string `json:"message"`         // the error, with its context
	Scope   string `json:"scope,omitempty"` // e.g. squashfs:/live/filesystem.squashfs
}

// Kind classifies a Finding.
type Kind string

const (
	KindAdded   Kind = "added"   // only in B
	KindRemoved Kind = "removed" // only in A
	KindChanged Kind = "changed" // metadata differs (see Fields)
	KindContent Kind = "content" // bytes differ (see Content)
	KindHeader  Kind = "header"  // a header or structure field differs (see Fields)
)

// Finding is one difference.
type Finding struct {
	// Scope says where Path lives: "iso" for the ISO's own tree, "iso-header"
	// for structures outside the tree, "squashfs:<path in ISO>" for a
	// squashfs image's tree.
	Scope string `json:"scope"`
	// Path is the node path inside Scope, or for headers the structure name
	// (e.g. "primary volume descriptor", "gpt header", "el torito entry 1").
	Path    string         `json:"path"`
	Kind    Kind           `json:"kind"`
	Type    string         `json:"type,omitempty"` // ls type letter of the node, when a node
	Fields  []field.Change `json:"fields,omitempty"`
	Content *ContentDiff   `json:"content,omitempty"`
	// Container is set when the differing file is itself a compared
	// container (its inner differences are listed under its own scope).
	Container bool `json:"container,omitempty"`
	// Derived is set when the difference follows from others, such as a
	// superblock's table offsets moving because a file grew. Derived
	// findings are listed but left out of the short answer.
	Derived bool `json:"derived,omitempty"`
	// Explanation and Hint say how and probably why the bytes differ.
	Explanation string `json:"explanation,omitempty"`
	Hint        string `json:"hint,omitempty"`
}

// ContentDiff describes how two files' bytes differ.
type ContentDiff struct {
	SizeA     int64 `json:"size_a"`
	SizeB     int64 `json:"size_b"`
	FirstDiff int64 `json:"first_diff"` // offset of the first differing byte
	// Ranges are differing byte ranges, when a stage enumerated them.
	Ranges []Range `json:"ranges,omitempty"`
}

// Range is a half-open byte range [Start, End).
type Range struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Text is a rendered diff a stage computed.
type Text struct {
	Name  string `json:"name"`            // e.g. "toc-diff", "sqfs-ls-diff", "system-area"
	Scope string `json:"scope,omitempty"` // e.g. squashfs:/live/filesystem.squashfs
	Body  string `json:"body"`
}

// Duration is a time.Duration that marshals as seconds.
type Duration time.Duration

// MarshalJSON renders d as a number of seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(formatSeconds(time.Duration(d))), nil
}

// UnmarshalJSON reads a number of seconds, so Go programs can load a
// report.json back into a Report.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return err
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Stage returns the stage with the given name, or nil.
func (r *Report) Stage(name string) *Stage {
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Failed reports whether any stage met a problem.
func (r *Report) Failed() bool {
	for _, s := range r.Stages {
		if s.Status == StatusFailed {
			return true
		}
	}
	return false
}

// ExitCode follows diff and cmp: 0 when the images are identical, 1 when
// they differ and every stage ran to the end, 2 when any stage met trouble
// (the report then holds what could be found).
func (r *Report) ExitCode() int {
	switch {
	case r.Identical:
		return 0
	case r.Failed():
		return 2
	}
	return 1
}

// Findings returns every finding of every stage, in stage order.
func (r *Report) Findings() []Finding {
	var all []Finding
	for _, s := range r.Stages {
		all = append(all, s.Findings...)
	}
	return all
}

// Finish sets a stage's status from its findings and problems.
func (s *Stage) Finish() {
	switch {
	case len(s.Problems) > 0:
		s.Status = StatusFailed
	case s.Status == StatusSkipped:
	case len(s.Findings) > 0 || s.Status == StatusDiffers:
		s.Status = StatusDiffers
	default:
		s.Status = StatusSame
	}
}
