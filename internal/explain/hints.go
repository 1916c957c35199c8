package explain

import (
	"regexp"
	"strings"
)

// Hints. Names with underscores are reproducible-builds.org issue names
// (https://tests.reproducible-builds.org/debian/index_issues.html); the
// others say the cause in words where no issue name fits.
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
	hintTextTimestamp    = "timestamp in text"
	hintBinaryTimestamp  = "timestamp in binary"
	hintRandomID         = "random id"
	hintPycMtime         = "source mtime in pyc header"
	hintFATSerial        = "random FAT volume serial"
	hintFATTimes         = "timestamps in FAT image"
	hintCompression      = "different compression settings"
	hintGzipName         = "file name in gzip header"
	hintGzipOS           = "gzip header OS byte (different compressor or platform)"
	hintDebuglinkCRC     = "debug file differs (.gnu_debuglink CRC)"
	hintFATOrder         = "random order in FAT directory"
	hintArchiveStructure = "archive structure (headers or padding)"
	hintInodes           = "inode numbers in cpio archive"
)

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
