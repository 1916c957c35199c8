package explain

import (
	"regexp"
	"strings"
)

// Hints: one vocabulary of stable ids. Where reproducible-builds.org has
// an issue for the cause (https://tests.reproducible-builds.org/debian/index_issues.html)
// its name is used; otherwise an id of our own in the same style. Each
// has a one-line meaning in HintMeaning, which the README's table lists.
const (
	hintGzipTimestamp    = "timestamps_in_gzip_headers"
	hintBuildIDOnly      = "build_id_differences_only"
	hintBuildPath        = "captures_build_path"
	hintTarTimes         = "timestamps_in_tarball"
	hintTarUsers         = "users_and_groups_in_tarball"
	hintTarOrder         = "random_order_in_tarball"
	hintCpioTimes        = "timestamps_in_cpio_archive"
	hintCpioUsers        = "users_and_groups_in_cpio_archive"
	hintCpioOrder        = "random_order_in_cpio_archive"
	hintStaticTimes      = "timestamps_in_static_libraries"
	hintStaticOrder      = "random_order_in_static_libraries"
	hintArTimes          = "timestamps_in_ar_archive"
	hintArOrder          = "random_order_in_ar_archive"
	hintArUsers          = "users_and_groups_in_ar_archive"
	hintZipTimes         = "timestamps_in_zip"
	hintJarTimes         = "timestamps_in_jar"
	hintZipOrder         = "random_order_in_zip"
	hintJarOrder         = "random_order_in_jar"
	hintUmask            = "different_due_to_umask"
	hintTextTimestamp    = "timestamp_in_text"
	hintBinaryTimestamp  = "timestamp_in_binary"
	hintRandomID         = "random_id"
	hintPycMtime         = "source_mtime_in_pyc_header"
	hintFATSerial        = "random_fat_volume_serial"
	hintFATTimes         = "timestamps_in_fat_image"
	hintCompression      = "different_compression_settings"
	hintGzipName         = "filename_in_gzip_header"
	hintGzipOS           = "gzip_header_os_byte"
	hintDebuglinkCRC     = "debuglink_crc_differs"
	hintFATOrder         = "random_order_in_fat_directory"
	hintArchiveStructure = "archive_structure_differs"
	hintInodes           = "inode_numbers_in_cpio_archive"
)

// HintMeaning is the one-line meaning of each hint id.
var HintMeaning = map[string]string{
	hintGzipTimestamp:    "a gzip header records the compression time (gzip -n leaves it out)",
	hintBuildIDOnly:      "ELF files differ only in their build id note",
	hintBuildPath:        "the build directory's path is recorded in the file",
	hintTarTimes:         "tar members carry build-time timestamps",
	hintTarUsers:         "tar members carry the builder's user and group names or ids",
	hintTarOrder:         "tar members are stored in a different order",
	hintCpioTimes:        "cpio members (e.g. an initramfs) carry build-time timestamps",
	hintCpioUsers:        "cpio members carry the builder's user and group ids",
	hintCpioOrder:        "cpio members are stored in a different order",
	hintStaticTimes:      "members of a static library (ar) carry timestamps",
	hintStaticOrder:      "members of a static library are in a different order",
	hintArTimes:          "ar members carry timestamps",
	hintArOrder:          "ar members are in a different order",
	hintArUsers:          "ar members carry user and group ids",
	hintZipTimes:         "zip members carry build-time timestamps",
	hintJarTimes:         "jar members carry build-time timestamps",
	hintZipOrder:         "zip members are stored in a different order",
	hintJarOrder:         "jar members are stored in a different order",
	hintUmask:            "permissions differ as the builder's umask did",
	hintTextTimestamp:    "a date or time is written into a text file",
	hintBinaryTimestamp:  "a date or time is written into a binary file",
	hintRandomID:         "a random identifier (UUID, machine id, hash-like token) is generated per build",
	hintPycMtime:         "a .pyc header records its source's mtime",
	hintFATSerial:        "a FAT image's volume serial is random per build (mkfs.vfat -i sets it)",
	hintFATTimes:         "a FAT image's entries carry build-time timestamps",
	hintCompression:      "the same data compressed with other settings or another compressor",
	hintGzipName:         "a gzip header records the input file's name",
	hintGzipOS:           "a gzip header's OS byte differs (another compressor or platform)",
	hintDebuglinkCRC:     "the separate debug file differs, so the .gnu_debuglink CRC does",
	hintFATOrder:         "a FAT directory lists its entries in a different order",
	hintArchiveStructure: "archive headers or padding differ, not the members",
	hintInodes:           "cpio headers carry inode numbers of the build tree",
}
var (
	reDate = regexp.MustCompile(`(?i)` +
		`\b(19|20)\d\d[-/.](0[1-9]|1[0-2])[-/.](0[1-9]|[12]\d|3[01])` + // 2024-03-01
		`|\b\d{1,2}:\d\d(:\d\d)?\b` + // 12:00, 12:00:00
		`|\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*,? +(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)` + // Fri Mar
		`|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* +\d{1,2}\b` + // Mar  1
		`|\b\d{1,2} +(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* +\d{4}` + // 1 Mar 2024
		`|(^|[^0-9])(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(T?\d{4,8}Z?)?($|[^0-9])` + // 20240301, 20240301T120000, 2024030112000000 (xorriso, with centiseconds)
		`|\b1[0-9]{9}\b`) // Unix seconds 2001..2286
	reBuildPath = regexp.MustCompile(`(^|[^A-Za-z0-9_.])/(build|builds|tmp|var/tmp|home|root|srv|usr/src|buildd|sbuild|workspace|work|runner|__w|github/workspace|nix/build|private/tmp)(/|\b)`)
	reUUID      = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	reHexRun    = regexp.MustCompile(`(?i)[0-9a-f]{8,}`)
)

// tokenByte says whether c belongs to a token when a difference is widened
// to whole tokens: letters, digits and the punctuation of paths, ids,
// dates and times.
func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_.:/+~@=%", c) >= 0 || c >= 0x80
}

// differingTokens trims the common prefix and suffix of a and b, widens the
// rest to whole tokens and returns the differing parts of each.
func differingTokens(a, b string) (string, string) {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	widen := func(x string, lo, hi int) string {
		for lo > 0 && tokenByte(x[lo-1]) {
			lo--
		}
		for hi < len(x) && tokenByte(x[hi]) {
			hi++
		}
		return x[lo:hi]
	}
	return widen(a, p, len(a)-s), widen(b, p, len(b)-s)
}

// classify names the likely cause of a difference between two strings (a
// pair of lines, or the printable bytes around a differing byte range):
// a date or time, a build path, a random id. timestamp is the hint to use
// for a date or time.
func classify(a, b, timestamp string) []string {
	ta, tb := differingTokens(a, b)
	if ta == "" && tb == "" {
		return nil
	}
	var out []string
	if reDate.MatchString(ta) || reDate.MatchString(tb) || (reDate.MatchString(a) && reDate.MatchString(b) && digitsOnly(ta) && digitsOnly(tb)) {
		out = append(out, timestamp)
	}
	if isBuildPath(ta) || isBuildPath(tb) {
		out = append(out, hintBuildPath)
	}
	if len(out) == 0 && (looksRandom(ta) || looksRandom(tb)) {
		out = append(out, hintRandomID)
	}
	return out
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isBuildPath(s string) bool { return reBuildPath.MatchString(s) }

// looksRandom says whether a token looks like a random or hashed id: a
// UUID, or a run of at least 8 hex digits mixing letters and digits (or
// 16 or more of either).
func looksRandom(s string) bool {
	if reUUID.MatchString(s) {
		return true
	}
	for _, m := range reHexRun.FindAllString(s, -1) {
		letters, digits := 0, 0
		for i := 0; i < len(m); i++ {
			if m[i] >= '0' && m[i] <= '9' {
				digits++
			} else {
				letters++
			}
		}
		if (letters > 0 && digits > 0) || len(m) >= 16 {
			return true
		}
	}
	return false
}

// pathHints returns captures_build_path when any of the strings that differ
// looks like a build path.
func pathHints(strs ...[]string) []string {
	for _, ss := range strs {
		for _, s := range ss {
			if isBuildPath(s) {
				return []string{hintBuildPath}
			}
		}
	}
	return nil
}
