package isodiff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/isodiff/isodiff/field"
	"github.com/isodiff/isodiff/internal/bytecmp"
	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/parttable"
	"github.com/isodiff/isodiff/report"
)

// comparePartitionTables decodes the MBR and the GPT an isohybrid image
// carries in its system area and compares them field by field: disk
// signatures and GUIDs are a classic source of divergence.
func (s *session) comparePartitionTables(st *report.Stage) {
	var mbrs [2]*parttable.MBR
	var gpts [2]*parttable.GPT
	// A structure cut off by the truncation of an image is damage, not a
	// difference between the builds: mbrCut, gptCut and backupCut mark
	// the comparisons that only follow from it.
	var mbrCut, gptCut, backupCut bool
	for i := range s.in {
		sector := make([]byte, parttable.MBRSize)
		if s.in[i].Size < int64(len(sector)) {
			mbrCut = mbrCut || s.truncatedSize(i) >= 0
			gptCut = gptCut || s.truncatedSize(i) >= 0
			continue
		}
		if _, err := s.in[i].R.ReadAt(sector, 0); err != nil {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, report.Scope{}, fmt.Errorf("MBR: %w", err)))
			continue
		}
		m, err := parttable.ParseMBR(sector)
		if err != nil && !errors.Is(err, parttable.ErrNoMBR) {
			st.Problems = append(st.Problems, s.problem(i, st.Name, 0, report.Scope{}, err))
		}
		mbrs[i] = m
		g, err := parttable.ReadGPTOptions(s.in[i].R, s.in[i].Size, parttable.Options{Budget: s.budget, Context: s.ctx})
		if g != nil {
			defer g.Release()
		}
		switch {
		case err != nil && errors.Is(err, parttable.ErrTruncated) && s.truncatedSize(i) >= 0:
			gptCut = true // the truncation cut its header or entries
		case err != nil:
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, report.Scope{}, err))
		case g == nil && s.truncatedSize(i) >= 0 && s.in[i].Size < 2*2048:
			gptCut = true // ends before where a header would be
		case g != nil && g.Backup == nil && s.truncatedSize(i) >= 0 &&
			int64(min(g.Primary.BackupLBA, 1<<48)+1)*int64(g.SectorSize) > s.in[i].Size:
			backupCut = true // its backup header lay past the end
		}
		gpts[i] = g
	}
	s.addFieldDiffDamage(st, "mbr", mbrFields(mbrs[0]), mbrFields(mbrs[1]), mbrCut)
	for p := 0; p < 4; p++ {
		s.addFieldDiffDamage(st, fmt.Sprintf("mbr partition %d", p+1), mbrPartFields(mbrs[0], p), mbrPartFields(mbrs[1], p), mbrCut)
	}
	if backupCut && !gptCut {
		// The primary header is compared on its own; the backup's fields
		// (the header of one image is missing) follow from the damage.
		isBackup := func(f field.Field) bool { return strings.HasPrefix(f.Name, "backup_") }
		ga, gb := gptFields(gpts[0]), gptFields(gpts[1])
		s.addFieldDiff(st, "gpt header", slices.DeleteFunc(slices.Clone(ga), isBackup), slices.DeleteFunc(slices.Clone(gb), isBackup))
		keep := func(f field.Field) bool { return !isBackup(f) }
		s.addFieldDiffDamage(st, "gpt backup header", slices.DeleteFunc(ga, keep), slices.DeleteFunc(gb, keep), true)
	} else {
		s.addFieldDiffDamage(st, "gpt header", gptFields(gpts[0]), gptFields(gpts[1]), gptCut)
	}
	n := 0
	for _, g := range gpts {
		if g != nil {
			n = max(n, len(g.Partitions))
		}
	}
	for p := 0; p < n; p++ {
		s.addFieldDiffDamage(st, fmt.Sprintf("gpt partition %d", p+1), gptPartFields(gpts[0], p), gptPartFields(gpts[1], p), gptCut)
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
	catCut := false
	for i, im := range ims {
		c, err := im.BootCatalog()
		switch {
		case err == nil, errors.Is(err, iso9660.ErrNoBootCatalog):
		case errors.Is(err, iso9660.ErrTruncated) && s.truncatedSize(i) >= 0:
			catCut = true // the catalog lay past the end of the truncated file
		default:
			st.Problems = append(st.Problems, s.problem(i, st.Name, -1, report.Scope{}, err))
		}
		cats[i] = c
	}
	catFields := func(c *iso9660.BootCatalog) []field.Field {
		if c == nil {
			return present(false)
		}
		return append(present(true), c.Fields()...)
	}
	s.addFieldDiffDamage(st, "el torito catalog", catFields(cats[0]), catFields(cats[1]), catCut)
	// Entries may all point at one extent (a catalog of thousands of
	// entries on one large image): each extent is hashed once per side.
	var sums [2]map[[2]int64]bootSum
	n := 0
	for _, c := range cats {
		if c != nil {
			n = max(n, len(c.Entries))
		}
	}
	for e := 0; e < n; e++ {
		var fs [2][]field.Field
		var images [2][]field.Field
		failed, cut := false, false
		for i, c := range cats {
			if c == nil || e >= len(c.Entries) {
				fs[i] = present(false)
				continue
			}
			entry := c.Entries[e]
			fs[i] = append(present(true), entry.Fields()...)
			extent := int64(entry.LoadRBA) * iso9660.SectorSize
			if s.bootImageCut(i, ims[i], entry) {
				// Cut short or off by the truncation: damage, not a
				// difference (its hash would be of what is left).
				cut = true
				images[i] = []field.Field{{Name: "boot_image", Value: fmt.Sprintf("cut off by the truncation (extent at offset %d)", extent)}}
				continue
			}
			if sums[i] == nil {
				sums[i] = map[[2]int64]bootSum{}
			}
			sum, size, err := bootImageSum(ctx, ims[i], entry, sums[i])
			if err != nil {
				st.Problems = append(st.Problems, s.problem(i, st.Name, extent, report.Scope{}, fmt.Errorf("El Torito entry %d boot image: %w", e+1, err)))
				failed = true
				continue
			}
			images[i] = []field.Field{{Name: "boot_image", Value: fmt.Sprintf("%d bytes, sha256 %s", size, sum)},
				{Name: "boot_image_size", Value: fmt.Sprint(size)}, {Name: "boot_image_sha256", Value: sum}}
		}
		name := fmt.Sprintf("el torito entry %d", e+1) // numbered from 1, as xorriso -report_el_torito does
		if c := cats[0]; c != nil && e < len(c.Entries) {
			name += " (" + iso9660.PlatformName(c.Entries[e].PlatformID) + ")"
		}
		switch {
		case cut && !failed:
			s.addFieldDiff(st, name, fs[0], fs[1])
			s.addFieldDiffDamage(st, name+" boot image", bootImageSummary(images[0]), bootImageSummary(images[1]), true)
			continue
		case !failed: // a side that could not be read is a problem, not a difference
			fs[0], fs[1] = append(fs[0], bootImageFields(images[0])...), append(fs[1], bootImageFields(images[1])...)
		}
		s.addFieldDiff(st, name, fs[0], fs[1])
	}
}

// bootImageFields are the size and hash fields of a boot image read whole
// (the one-field summary left out).
func bootImageFields(fs []field.Field) []field.Field {
	if len(fs) > 1 {
		return fs[1:]
	}
	return fs
}

// bootImageSummary is the one field a boot image is compared by when one
// side's is cut off: what it is on each side.
func bootImageSummary(fs []field.Field) []field.Field {
	if len(fs) > 0 {
		return fs[:1]
	}
	return present(false)
}

// bootSum is a boot image's hash and size, memoised by extent.
type bootSum struct {
	sum  string
	size int64
}

// bootImageSum hashes the boot image of e, or returns the hash memo holds
// for the same extent.
func bootImageSum(ctx context.Context, im *iso9660.Image, e iso9660.BootEntry, memo map[[2]int64]bootSum) (string, int64, error) {
	sec, err := im.BootImage(e)
	if err != nil {
		return "", 0, err
	}
	_, off, n := sec.Outer()
	if b, ok := memo[[2]int64{off, n}]; ok {
		return b.sum, b.size, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, bytecmp.ContextReader(ctx, sec)); err != nil {
		return "", 0, err
	}
	b := bootSum{hex.EncodeToString(h.Sum(nil)), sec.Size()}
	memo[[2]int64{off, n}] = b
	return b.sum, b.size, nil
}

// headerLayout tells the header fields that only record sizes and where
// things were placed (and the checksums over them): they move whenever a
// file changes size, so they are reported as following from the rest.
func headerLayout(name string) bool {
	switch name {
	case "volume_space_size", "path_table_size", "l_path_table", "opt_l_path_table",
		"m_path_table", "opt_m_path_table", "root_directory_extent", "root_directory_size",
		"catalog_lba", "boot_catalog_lba", "load_rba", "first_lba", "last_lba", "sectors", "start_chs", "end_chs",
		"backup_lba", "last_usable_lba", "header_crc32", "entries_crc32":
		return true
	}
	// A descriptor's offset follows from the ones before it.
	return strings.HasPrefix(name, "backup_") || strings.HasSuffix(name, "_offset")
}
