package isodiff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/isodiff/isodiff/internal/field"
	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/internal/parttable"
	"github.com/isodiff/isodiff/report"
)

// comparePartitionTables decodes the MBR and the GPT an isohybrid image
// carries in its system area and compares them field by field: disk
// signatures and GUIDs are a classic source of divergence.
func (s *session) comparePartitionTables(st *report.Stage) {
	var mbrs [2]*parttable.MBR
	var gpts [2]*parttable.GPT
	for i := range s.in {
		sector := make([]byte, parttable.MBRSize)
		if s.in[i].Size < int64(len(sector)) {
			continue
		}
		if _, err := s.in[i].R.ReadAt(sector, 0); err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, "", fmt.Errorf("MBR: %w", err)))
			continue
		}
		m, err := parttable.ParseMBR(sector)
		if err != nil && !errors.Is(err, parttable.ErrNoMBR) {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, "", err))
		}
		mbrs[i] = m
		g, err := parttable.ReadGPT(s.in[i].R, s.in[i].Size)
		if err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, "", err))
		}
		gpts[i] = g
	}
	s.addFieldDiff(st, "mbr", mbrFields(mbrs[0]), mbrFields(mbrs[1]))
	for p := 0; p < 4; p++ {
		s.addFieldDiff(st, fmt.Sprintf("mbr partition %d", p+1), mbrPartFields(mbrs[0], p), mbrPartFields(mbrs[1], p))
	}
	s.addFieldDiff(st, "gpt header", gptFields(gpts[0]), gptFields(gpts[1]))
	n := 0
	for _, g := range gpts {
		if g != nil {
			n = max(n, len(g.Partitions))
		}
	}
	for p := 0; p < n; p++ {
		s.addFieldDiff(st, fmt.Sprintf("gpt partition %d", p+1), gptPartFields(gpts[0], p), gptPartFields(gpts[1], p))
	}
}

func present(ok bool) []field.Field {
	return []field.Field{{Name: "present", Value: fmt.Sprint(ok)}}
}

func mbrFields(m *parttable.MBR) []field.Field {
	if m == nil {
		return present(false)
	}
	return append(present(true), m.Fields()...)
}

func mbrPartFields(m *parttable.MBR, i int) []field.Field {
	if m == nil || m.Partitions[i].Empty() {
		return present(false)
	}
	return append(present(true), m.Partitions[i].Fields()...)
}

func gptFields(g *parttable.GPT) []field.Field {
	if g == nil {
		return present(false)
	}
	return append(present(true), g.Fields()...)
}

func gptPartFields(g *parttable.GPT, i int) []field.Field {
	if g == nil || i >= len(g.Partitions) {
		return present(false)
	}
	return append(present(true), g.Partitions[i].Fields()...)
}

// compareElTorito compares the boot catalogs and, entry by entry, the boot
// images by their SHA-256.
func (s *session) compareElTorito(ctx context.Context, st *report.Stage, a, b *iso9660.Image) {
	ims := [2]*iso9660.Image{a, b}
	var cats [2]*iso9660.BootCatalog
	for i, im := range ims {
		c, err := im.BootCatalog()
		if err != nil && !errors.Is(err, iso9660.ErrNoBootCatalog) {
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, "", err))
		}
		cats[i] = c
	}
	catFields := func(c *iso9660.BootCatalog) []field.Field {
		if c == nil {
			return present(false)
		}
		return append(present(true), c.Fields()...)
	}
	s.addFieldDiff(st, "el torito catalog", catFields(cats[0]), catFields(cats[1]))
	n := 0
	for _, c := range cats {
		if c != nil {
			n = max(n, len(c.Entries))
		}
	}
	for e := 0; e < n; e++ {
		var fs [2][]field.Field
		var images [2][]field.Field
		failed := false
		for i, c := range cats {
			if c == nil || e >= len(c.Entries) {
				fs[i] = present(false)
				continue
			}
			entry := c.Entries[e]
			fs[i] = append(present(true), entry.Fields()...)
			sum, size, err := bootImageSum(ctx, ims[i], entry)
			if err != nil {
				st.Problems = append(st.Problems, s.problem(i, st.Name, int64(entry.LoadRBA)*iso9660.SectorSize, "", fmt.Errorf("El Torito entry %d boot image: %w", e, err)))
				failed = true
				continue
			}
			images[i] = []field.Field{{Name: "boot_image_size", Value: fmt.Sprint(size)}, {Name: "boot_image_sha256", Value: sum}}
		}
		if !failed { // a side that could not be read is a problem, not a difference
			fs[0], fs[1] = append(fs[0], images[0]...), append(fs[1], images[1]...)
		}
		name := fmt.Sprintf("el torito entry %d", e)
		if c := cats[0]; c != nil && e < len(c.Entries) {
			name += " (" + iso9660.PlatformName(c.Entries[e].PlatformID) + ")"
		}
		s.addFieldDiff(st, name, fs[0], fs[1])
	}
}

func bootImageSum(ctx context.Context, im *iso9660.Image, e iso9660.BootEntry) (string, int64, error) {
	sec, err := im.BootImage(e)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, sec}); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), sec.Size(), nil
}

// headerLayout tells the header fields that only record sizes and where
// things were placed (and the checksums over them): they move whenever a
// file changes size, so they are reported as following from the rest.
func headerLayout(name string) bool {
	switch name {
	case "volume_space_size", "path_table_size", "l_path_table", "opt_l_path_table",
		"m_path_table", "opt_m_path_table", "root_directory_extent", "root_directory_size",
		"catalog_lba", "boot_catalog_lba", "load_rba", "first_lba", "last_lba", "sectors", "end_chs",
		"backup_lba", "last_usable_lba", "header_crc32", "entries_crc32":
		return true
	}
	// A descriptor's offset follows from the ones before it.
	return strings.HasPrefix(name, "backup_") || strings.HasSuffix(name, "_offset")
}
