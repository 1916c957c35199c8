package iso9660

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/testimg"
)

// colonFields parses "Key : value" lines, keys trimmed.
func colonFields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.TrimPrefix(v, " ")
	}
	return m
}

func fieldMap(fs []field.Field) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		if _, dup := m[f.Name]; dup {
			panic("duplicate field " + f.Name)
		}
		m[f.Name] = f.Value
	}
	return m
}

// TestVolumeDescriptorsMatchXorriso sets every identifier and all four
// dates with xorriso and reads them back against -pvd_info and isoinfo -d.
func TestVolumeDescriptorsMatchXorriso(t *testing.T) {
	testimg.Need(t, "xorriso", "isoinfo")
	dir := t.TempDir()
	testimg.WriteFiles(t, filepath.Join(dir, "src"), map[string]string{"f": "x"})
	img := filepath.Join(dir, "v.iso")
	testimg.Run(t, dir, "xorriso", "-outdev", img, "-joliet", "on",
		"-volid", "MY_VOL", "-volset_id", "SetId", "-publisher", "Pub Lisher",
		"-application_id", "App Id 1", "-system_id", "SYSID", "-preparer_id", "Prep",
		"-copyright_file", "COPY.TXT", "-abstract_file", "ABS.TXT", "-biblio_file", "BIB.TXT",
		"-volume_date", "c", "2021010203040506", "-volume_date", "m", "2022030405060708",
		"-volume_date", "x", "2030010100000000", "-volume_date", "f", "2020060708091011",
		"-map", filepath.Join(dir, "src"), "/", "-commit")
	im, _ := openImage(t, img)
	pvd := colonFields(testimg.Run(t, dir, "xorriso", "-indev", img, "-pvd_info"))
	p := im.Primary
	for key, got := range map[string]string{
		"Volume Id": p.VolumeID, "Volume Set Id": p.VolumeSetID, "Publisher Id": p.PublisherID,
		"Preparer Id": p.DataPreparerID, "App Id": p.ApplicationID, "System Id": p.SystemID,
		"CopyrightFile": p.CopyrightFileID, "Abstract File": p.AbstractFileID, "Biblio File": p.BibliographicFileID,
		"Creation Time": p.Created.Digits(), "Modif. Time": p.Modified.Digits(),
		"Expir. Time": p.Expires.Digits(), "Eff. Time": p.Effective.Digits(),
	} {
		want, ok := pvd[key]
		if !ok {
			t.Errorf("-pvd_info has no %q", key)
		}
		if got != want {
			t.Errorf("%s: got %q, xorriso says %q", key, got, want)
		}
	}
	info := colonFields(testimg.Run(t, dir, "isoinfo", "-d", "-i", img))
	if got := strconv.Itoa(int(p.VolumeSpaceSize)); got != info["Volume size is"] {
		t.Errorf("volume space size %s, isoinfo says %s", got, info["Volume size is"])
	}
	if got := strconv.Itoa(int(p.LogicalBlockSize)); got != info["Logical block size is"] {
		t.Errorf("block size %s, isoinfo says %s", got, info["Logical block size is"])
	}
	f := fieldMap(p.Fields())
	for name, want := range map[string]string{
		"volume_id":                "MY_VOL",
		"volume_creation_date":     "2021-01-02T03:04:05.00+00:00",
		"volume_modification_date": "2022-03-04T05:06:07.00+00:00",
		"volume_expiration_date":   "2030-01-01T00:00:00.00+00:00",
		"volume_effective_date":    "2020-06-07T08:09:10.00+00:00",
		"logical_block_size":       "2048",
		"volume_space_size":        info["Volume size is"],
	} {
		if f[name] != want {
			t.Errorf("field %s = %q, want %q", name, f[name], want)
		}
	}
	if !p.Created.Time.Equal(time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("created %v", p.Created.Time)
	}

	// Joliet keeps case; xorriso uppercases the primary's identifiers.
	if im.Joliet == nil || im.Joliet.JolietLevel() != 3 {
		t.Fatalf("Joliet descriptor: %+v", im.Joliet)
	}
	j := fieldMap(im.Joliet.Fields())
	for name, want := range map[string]string{
		"volume_id": "MY_VOL", "publisher_id": "Pub Lisher", "application_id": "App Id 1",
		"volume_set_id": "SetId", "escape_sequences": "%/E",
		"volume_creation_date": "2021-01-02T03:04:05.00+00:00",
	} {
		if j[name] != want {
			t.Errorf("Joliet field %s = %q, want %q", name, j[name], want)
		}
	}
	var types []string
	for _, d := range im.Descriptors {
		types = append(types, strconv.Itoa(int(d.Type))+d.Identifier)
	}
	if got := strings.Join(types, " "); got != "1CD001 2CD001 255CD001" {
		t.Errorf("descriptors %s", got)
	}
}

func TestDateTime(t *testing.T) {
	for _, c := range []struct {
		raw  string
		off  int8
		want string
	}{
		{"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 0, "unset"},
		{"0000000000000000", 0, "unset"},
		{"2024010203040599", 0, "2024-01-02T03:04:05.99+00:00"},
		{"2024010203040500", 8, "2024-01-02T03:04:05.00+02:00"},
		{"2024010203040500", -20, "2024-01-02T03:04:05.00-05:00"},
		{"2024130203040500", 0, `invalid "2024130203040500" offset 0`},
		{"2024 10203040500", 0, `invalid "2024 10203040500" offset 0`},
	} {
		b := append([]byte(c.raw), byte(c.off))
		d := decodeDateTime(b)
		if d.String() != c.want {
			t.Errorf("%q %d: %q, want %q", c.raw, c.off, d.String(), c.want)
		}
	}
	d := decodeDateTime(append([]byte("2024010203040500"), 8))
	if !d.Time.Equal(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)) || d.Time.Location() != time.UTC {
		t.Errorf("UTC time %v", d.Time)
	}
}
