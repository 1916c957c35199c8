package report

import (
	"fmt"
	"strings"
)

// ScopeKind is what a Scope names.
type ScopeKind string

const (
	ScopeISO      ScopeKind = "iso"        // the ISO's own file tree
	ScopeHeader   ScopeKind = "iso-header" // structures outside the tree: descriptors, system area, MBR/GPT, El Torito
	ScopeSquashfs ScopeKind = "squashfs"   // the tree of a squashfs image inside the ISO
	ScopeEROFS    ScopeKind = "erofs"      // the tree of an EROFS image inside the ISO
)

// Scope says where a finding's, problem's or text's path lives: in the ISO's
// own tree, among its header structures, or in the tree of a root
// filesystem image inside the ISO. The zero Scope names nothing (a problem
// about the images as files).
//
// Its text form, used in report.json and the text files, is the Kind, with
// ":" and the Container path for a root filesystem image:
// "iso", "iso-header", "squashfs:/live/filesystem.squashfs",
// "erofs:/images/pxeboot/rootfs.img > root.erofs".
type Scope struct {
	Kind ScopeKind
	// Container is, for ScopeSquashfs and ScopeEROFS, the image's path in
	// the ISO; a member of an archive in the ISO is named
	// "<archive path> > <member path>".
	Container string
}

// The scopes outside any root filesystem image.
var (
	ISOTree   = Scope{Kind: ScopeISO}
	ISOHeader = Scope{Kind: ScopeHeader}
)

// ContainerScope is the scope of the tree of a root filesystem image of the
// given format ("squashfs" or "erofs") at path in the ISO.
func ContainerScope(format, path string) Scope {
	return Scope{Kind: ScopeKind(format), Container: path}
}

// InContainer returns the path in the ISO of the root filesystem image the
// scope names, and whether it names one.
func (s Scope) InContainer() (string, bool) {
	if s.Kind == ScopeSquashfs || s.Kind == ScopeEROFS {
		return s.Container, true
	}
	return "", false
}

// IsZero reports whether s names nothing.
func (s Scope) IsZero() bool { return s == Scope{} }

// String is the scope's text form.
func (s Scope) String() string {
	if s.Container != "" {
		return string(s.Kind) + ":" + s.Container
	}
	return string(s.Kind)
}

// Where names path in this scope as the short answer does: a path in a root
// filesystem image is "<image path> > <path>".
func (s Scope) Where(path string) string {
	if c, ok := s.InContainer(); ok {
		return c + " > " + path
	}
	return path
}

// MarshalText gives the text form.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the text form, so a Go program can load report.json
// back into a Report.
func (s *Scope) UnmarshalText(b []byte) error {
	p, err := ParseScope(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// ParseScope reads a scope's text form.
func ParseScope(text string) (Scope, error) {
	kind, container, _ := strings.Cut(text, ":")
	s := Scope{Kind: ScopeKind(kind), Container: container}
	switch s.Kind {
	case "":
		if text == "" {
			return Scope{}, nil
		}
	case ScopeISO, ScopeHeader:
		if container == "" {
			return s, nil
		}
	case ScopeSquashfs, ScopeEROFS:
		if container != "" {
			return s, nil
		}
	}
	return Scope{}, fmt.Errorf("report: not a scope: %q", text)
}
