// Module isodiff tells a release engineer why two builds of the same Linux
// live ISO are not byte-identical; this package only documents its packages.
//
// Comparing two images (start here):
//
//   - [github.com/isodiff/isodiff/isodiff]: Compare and CompareInputs run
//     the staged analysis (sizes, header, toc, squashfs, content, explain)
//     and return a report.
//   - [github.com/isodiff/isodiff/report]: the typed result (stages,
//     findings with their Scope, explanations as data, the short answer as
//     Locations) and its renderings: the CI step's text files, a summary,
//     Markdown, JSON and HTML.
//   - [github.com/isodiff/isodiff/sqfsdiff], [github.com/isodiff/isodiff/erofsdiff]:
//     two squashfs or EROFS images compared on their own.
//
// Reading images (each Open(io.ReaderAt, size), typed headers, a Walker and
// an iter.Seq2 in one shared order, an io/fs.FS view, random access to a
// file's bytes, raw layout access, FormatError with offsets):
//
//   - [github.com/isodiff/isodiff/iso9660]: ISO 9660 with Rock Ridge,
//     Joliet, El Torito, multi-extent files and zisofs.
//   - [github.com/isodiff/isodiff/squashfs]: squashfs 4.0 (gzip, xz with
//     BCJ, lzma, lzo, lz4, zstd).
//   - [github.com/isodiff/isodiff/erofs]: EROFS (uncompressed, lz4, lz4hc).
//   - [github.com/isodiff/isodiff/parttable]: the MBR and GPT of an
//     isohybrid image's system area.
//
// Shared by the readers: [github.com/isodiff/isodiff/tree] (the node model
// and walk order, tree.SideError), [github.com/isodiff/isodiff/field]
// (named header fields and their changes) and
// [github.com/isodiff/isodiff/budget] (the one memory budget a comparison
// charges everything image-derived to).
//
// The commands: cmd/isodiff (the CLI) and cmd/smbuild (build twice in a
// pinned container, compare, diagnose).
package isodiff
