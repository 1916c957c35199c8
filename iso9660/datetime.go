package iso9660

import (
	"fmt"
	"time"
)

// DateTime is a volume descriptor date and time (ECMA-119 8.4.26.1): sixteen
// ASCII digits "YYYYMMDDhhmmsscc" and a signed GMT offset in 15-minute units.
// Raw keeps the 17 bytes as recorded. A field of all zero bytes or all "0"
// digits means "not specified": Set is false and Time is zero.
type DateTime struct {
	Raw  [17]byte
	Time time.Time // in UTC
	Set  bool
	// Valid is false when Set is true but the digits do not form a date; the
	// raw bytes are then the only information.
	Valid bool
}

func decodeDateTime(b []byte) DateTime {
	var d DateTime
	copy(d.Raw[:], b)
	unset := true
	for i := 0; i < 16; i++ {
		if b[i] != 0 && b[i] != '0' {
			unset = false
			break
		}
	}
	if unset {
		return d
	}
	d.Set = true
	var n [7]int
	widths := [7]int{4, 2, 2, 2, 2, 2, 2}
	p := 0
	for i, w := range widths {
		for j := 0; j < w; j++ {
			c := b[p]
			p++
			if c < '0' || c > '9' {
				return d
			}
			n[i] = n[i]*10 + int(c-'0')
		}
	}
	if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 60 {
		return d
	}
	off := int(int8(b[16])) * 15 * 60
	d.Time = time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*10_000_000, time.FixedZone("", off)).UTC()
	d.Valid = true
	return d
}

// Digits returns the sixteen recorded digits, as xorriso -pvd_info prints them.
func (d DateTime) Digits() string { return printable(d.Raw[:16]) }

// GMTOffset returns the recorded offset from GMT in minutes.
func (d DateTime) GMTOffset() int { return int(int8(d.Raw[16])) * 15 }

// String renders the date for reports: "unset", the time in its recorded
// GMT offset with hundredths of a second ("2026-11-28T13:32:12.00+00:00"),
// or the raw digits when they do not form a date.
func (d DateTime) String() string {
	switch {
	case !d.Set:
		return "unset"
	case !d.Valid:
		return fmt.Sprintf("invalid %q offset %d", d.Raw[:16], int8(d.Raw[16]))
	}
	return d.Time.In(time.FixedZone("", d.GMTOffset()*60)).Format("2006-01-02T15:04:05.00-07:00")
}

// decodeRecordTime decodes the 7-byte directory record date (ECMA-119
// 9.1.5), also used by the short form of Rock Ridge TF. All zero means unset.
func decodeRecordTime(b []byte) time.Time {
	if b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 {
		return time.Time{}
	}
	off := int(int8(b[6])) * 15 * 60
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0,
		time.FixedZone("", off)).UTC()
}

// decodeLongTime decodes a 17-byte Rock Ridge TF stamp (LONG_FORM); an unset
// or invalid one is the zero time.
func decodeLongTime(b []byte) time.Time {
	d := decodeDateTime(b)
	if !d.Valid {
		return time.Time{}
	}
	return d.Time
}
