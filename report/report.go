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
	"fmt"
	"strings"
	"time"

	"github.com/isodiff/isodiff/field"
)

// SchemaVersion names the JSON layout of a Report. It changes only when a
// field is removed or changes meaning; adding fields keeps it.
const SchemaVersion = "isodiff.report/v2"

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
	// Damage lists what is wrong with the images themselves, such as a file
	// shorter than its own structures say (a truncated copy). The summary
	// states it before the short answer, findings that only follow from it
	// are marked FromDamage, and a damaged image makes ExitCode 2.
	Damage []Damage `json:"damage,omitempty"`
}

// HintFileTimes is the hint of entries that differ only in their
// modification time: the build does not clamp file times to
// SOURCE_DATE_EPOCH (or writes them at build time).
const HintFileTimes = "file_mtimes_not_clamped"

// Owner is the package a diverging file belongs to, on each side, and the
// verdict the package's shipped checksums give.
type Owner struct {
	Package  string `json:"package,omitempty"`   // empty when no package owns the file
	VersionA string `json:"version_a,omitempty"` // the owning package's version in image A
	VersionB string `json:"version_b,omitempty"`
	// Verdict is one of not_owned, owned_one_side, package_differs,
	// same_content, changed_after_install, shipped_this_way, unverified;
	// Meaning says it in words.
	Verdict string `json:"verdict"`
	Meaning string `json:"meaning"`
}

// String is the owner as the short answer says it.
func (o *Owner) String() string {
	if o.Package == "" {
		return o.Meaning
	}
	v := o.VersionA
	if o.VersionB != o.VersionA {
		v = orNone(o.VersionA) + " -> " + orNone(o.VersionB)
	}
	return "package " + o.Package + " " + v + ": " + o.Meaning
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Damage kinds.
const (
	// DamageTruncated: the file is shorter than its own structures say
	// (Claimed), or ends before a structure the other image has.
	DamageTruncated = "truncated"
	// DamageStructure: a structure says the image is longer than the file
	// while the other image, no longer, agrees with its own length: the
	// structure's field is damaged rather than the file cut short.
	DamageStructure = "structure"
	// DamageRepaired: a structure departs from the standard in a way the
	// Linux kernel and xorriso tolerate, and the image was read as they
	// read it (e.g. a root directory record of the wrong length). Said
	// first like other damage, but the comparison is complete: it alone
	// does not make ExitCode 2.
	DamageRepaired = "repaired"
)

// Damage is something wrong with one image as a file, found from its own
// structures, as opposed to a difference between two builds.
type Damage struct {
	Image string `json:"image"` // "A" or "B"
	Path  string `json:"path"`  // that image's path, as given
	Kind  string `json:"kind"`  // DamageTruncated or DamageStructure
	// Structure names what shows the damage, e.g. "volume space size in
	// the primary volume descriptor", and Offset is where it lies in the
	// image (for a truncation: the field that claims the length).
	Structure string `json:"structure"`
	Offset    int64  `json:"offset"`
	// Message says it in words, e.g. "truncated at 200,000 of 2,097,152
	// bytes (volume space size in the primary volume descriptor at offset
	// 32848)".
	Message string `json:"message"`
	// Size is the file's size; Claimed, when known, the length its
	// structures say it has.
	Size    int64 `json:"size"`
	Claimed int64 `json:"claimed,omitempty"`
	// CutOff names the structures that lie past the end of the file, wholly
	// or in part, e.g. "El Torito entry 1 (UEFI) boot image at offset 88064".
	CutOff []string `json:"cut_off,omitempty"`
	// Comparison says what is known of the damaged image against the other
	// one, e.g. "a truncated copy of image A: its first 200,000 bytes equal
	// image A's".
	Comparison string `json:"comparison,omitempty"`
}

// AddDamage records d, once: a second item for the same image, kind,
// structure and offset is dropped.
func (r *Report) AddDamage(d Damage) {
	for _, x := range r.Damage {
		if x.Image == d.Image && x.Kind == d.Kind && x.Structure == d.Structure && x.Offset == d.Offset {
			return
		}
	}
	r.Damage = append(r.Damage, d)
}

// damageLine is the summary's line for d: which image, what is wrong and
// where, and that what follows from it is not a build difference (then
// the structures cut off, on a line of their own).
func damageLine(d Damage) string {
	if d.Kind == DamageRepaired {
		return fmt.Sprintf("image %s (%s) departs from the standard: %s.", d.Image, inline(d.Path), inline(d.Message))
	}
	line := fmt.Sprintf("image %s (%s) is damaged: %s", d.Image, inline(d.Path), inline(d.Message))
	if d.Comparison != "" {
		line += "; " + inline(d.Comparison)
	}
	line += "; findings that follow from it are not listed as build differences."
	if len(d.CutOff) > 0 {
		line += "\n  cut off: " + strings.Join(inlineAll(d.CutOff), ", ")
	}
	return line
}

// Damaged reports whether either image is damaged (repairs aside).
func (r *Report) Damaged() bool {
	for _, d := range r.Damage {
		if d.Kind != DamageRepaired {
			return true
		}
	}
	return false
}

// withoutDamageFindings returns a shallow copy of r whose stages leave out
// the findings that follow from the damage: what the short answer lists.
func (r *Report) withoutDamageFindings() *Report {
	if len(r.Damage) == 0 {
		return r
	}
	c := *r
	c.Stages = make([]*Stage, len(r.Stages))
	for i, s := range r.Stages {
		sc := *s
		sc.Findings = nil
		for _, f := range s.Findings {
			if !f.FromDamage {
				sc.Findings = append(sc.Findings, f)
			}
		}
		c.Stages[i] = &sc
	}
	return &c
}

// Image identifies one input.
type Image struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Container is a root filesystem image (squashfs or EROFS) embedded in the
// ISO, as found in each side.
type Container struct {
	Path   string       `json:"path"`             // path inside the ISO, e.g. /live/filesystem.squashfs
	Format string       `json:"format,omitempty"` // "squashfs" or "erofs" (side A's when they differ)
	A      *ContainerAt `json:"a,omitempty"`
	B      *ContainerAt `json:"b,omitempty"`
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
	// Explanations are the explain stage's: how and probably why each
	// diverging file differs, naming the file by Scope and Path.
	Explanations []Explanation `json:"explanations,omitempty"`
}

// Problem is an error a stage met: which file, where, and what.
type Problem struct {
	File    string `json:"file"`           // the image (or inner file) being read
	Stage   string `json:"stage"`          // the stage that met it
	Offset  int64  `json:"offset"`         // byte offset in File, -1 when unknown
	Message string `json:"message"`        // the error, with its context
	Scope   Scope  `json:"scope,omitzero"` // e.g. squashfs:/live/filesystem.squashfs
	// Err is the error itself, when the problem came from one, for
	// errors.Is and errors.As (a reader's FormatError with its offset, a
	// *budget.ExceededError, context.DeadlineExceeded); not in the JSON.
	Err error `json:"-"`
}

// Error makes a Problem an error: its one-line form (String).
func (p Problem) Error() string { return p.String() }

// Unwrap returns the problem's error, so that errors.Is and errors.As see
// through a Problem.
func (p Problem) Unwrap() error { return p.Err }

// Location is one line of the short answer, as data: where (e.g.
// "/live/filesystem.squashfs > /usr/bin/tar"), what differs there (each
// field with its values, a content explanation's first line, the owning
// package), the hint ids, and the owner when known.
type Location struct {
	// Scope and Path say where as data: the tree (or, for ISOHeader, the
	// structure) and the path in it; a folded line (files of one package,
	// entries differing only in their times) gives one example's path.
	Scope Scope  `json:"scope"`
	Path  string `json:"path"`
	// Where says it as the summary does.
	Where string   `json:"where"`
	What  []string `json:"what"`
	Hints []string `json:"hints,omitempty"`
	Owner *Owner   `json:"owner,omitempty"`
}

// Locations returns the short answer as data: every diverging location
// once, outside in (headers, the ISO tree, each root image's tree), with
// what only follows from others (derived findings, damage, ignored ones)
// left out and what repeats folded as the summary folds it (entries that
// differ only in their times, files of one package). Unlike the terminal
// summary it is never cut to 40 lines.
func (r *Report) Locations() []Location {
	var out []Location
	for _, a := range answer(r.resolved().withoutDamageFindings()) {
		out = append(out, Location{Scope: a.scope, Path: a.path, Where: a.where, What: dedupe(a.what), Hints: dedupe(a.hints), Owner: a.owner})
	}
	return out
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
	// Scope says where Path lives: the ISO's own tree, the structures
	// outside it, or a root filesystem image's tree (see Scope).
	Scope Scope `json:"scope"`
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
	// FromDamage is set when the difference only follows from the damage
	// of an image (Report.Damage), such as a boot image cut short by a
	// truncation: it is not a difference between the builds. Such findings
	// are listed, with an Explanation naming the damage, but left out of
	// the short answer.
	FromDamage bool `json:"from_damage,omitempty"`
	// Ignored names the ignore rule that matched ("mtime", "path:/var/log/*"),
	// when one did: the difference is real and listed in the files, but
	// left out of the short answer, where the summary counts it.
	Ignored string `json:"ignored,omitempty"`
	// Owner, for a diverging file inside a root filesystem image with a
	// package database, says which package shipped it and why it differs.
	Owner *Owner `json:"owner,omitempty"`
	// Explanation is set when the finding's own stage explains it (on a
	// FromDamage finding, the header stage names the damage it follows
	// from). The explain stage's explanations of diverging files are in its
	// own Stage.Explanations: Report.ExplanationOf finds either.
	Explanation *Explanation `json:"explanation,omitempty"`

	resolved *Explanation // the renderers' lookup (Report.resolved)
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
	Name  string `json:"name"`           // e.g. "toc-diff", "sqfs-ls-diff", "system-area"
	Scope Scope  `json:"scope,omitzero"` // e.g. squashfs:/live/filesystem.squashfs
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
// or an image is damaged (the report then holds what could be found).
func (r *Report) ExitCode() int {
	switch {
	case r.Identical:
		return 0
	case r.Failed(), r.Damaged():
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
