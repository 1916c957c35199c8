// Package importer is a separate module that uses isodiff only through its
// exported packages, as an importer does, and holds the correctness and
// speed comparison of isodiff's readers with go-diskfs and CalebQ42/squashfs.
package importer
