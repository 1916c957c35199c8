// Package parttable decodes the MBR and GPT of an isohybrid ISO's system area.
//
// It reads the MBR in sector 0 and the GPT that xorriso's
// -isohybrid-gpt-basdat (and grub-mkrescue) write after it, so that isodiff
// can say which header fields of two images differ.
//
// ParseMBR decodes the 512-byte master boot record: boot signature, disk
// signature, the four primary entries with their raw status byte and
// decoded CHS addresses, and a SHA-256 of the 440 bytes of boot code.
// ReadGPT finds a GPT header at LBA 1 with 512-byte sectors (then 2048),
// reads its entry array and the backup header (at the primary's alternate
// LBA, else in the image's last sector), and reports whether each header
// CRC and entry-array CRC verifies instead of failing on a mismatch: a
// differ must be able to show a broken table, not just refuse it.
//
// Why not github.com/diskfs/go-diskfs (v1.9.4) partition/mbr and
// partition/gpt: its MBR reader fails the whole table on any status byte
// other than 0x00 or 0x80, keeps only "Bootable", stores the CHS cylinder
// as one byte (losing the two high bits kept in the sector byte) and exposes
// neither the boot code nor the reserved word; its GPT reader rejects the
// table on a header or entry CRC mismatch instead of reporting it, keeps
// the revision, header size, CRCs, usable range and alternate LBA in
// unexported fields, and reads the backup header only as a fallback when the
// primary is unusable. The two small parsers here are about 300 lines.
//
// xorriso's isohybrid GPT has quirks this package tolerates as recorded:
// partition 1 ("ISOHybrid") starts at LBA 0 and overlaps the MBR, the GPT
// and the entry array (xorriso itself reports it as "overlapping"); the
// EFI image partition is typed "Microsoft basic data" with
// -isohybrid-gpt-basdat; the backup header is in the last 512-byte sector
// of the image. sgdisk calls such a table invalid; it is still what
// firmware reads.
//
// Guarantees: every offset and length read from the image is checked
// against its size before use; the entry array is read only if it fits in
// the image and in 4 MiB with entries of 128 to 4096 bytes, and then in
// 64 KiB chunks (checking the context between them, ReadGPTOptions), its
// entries decoded as they come, so that reading it holds at most 64 KiB
// besides the used entries; those are charged to the comparison's budget
// (Options.Budget, 256 bytes each) until GPT.Release. Errors are
// *FormatError values, a refused charge among them (wrapping the
// *budget.ExceededError, at the offset of the entry that asked).
package parttable
