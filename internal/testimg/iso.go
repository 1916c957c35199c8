package testimg

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Isolinux files of Debian's isolinux package, used by MakeHybridISO.
const (
	IsohybridMBR = "/usr/lib/ISOLINUX/isohdpfx.bin"
	IsolinuxBin  = "/usr/lib/ISOLINUX/isolinux.bin"
)

// Reproducible images: with SOURCE_DATE_EPOCH set in the environment
// (t.Setenv), xorriso stamps the volume dates and the volume UUID with it,
// and MakeHybridISO stamps the EFI image file and its FAT directories with
// it; file times are the source tree's, so give those fixed values too
// (os.Chtimes). Then two calls with the same source write byte-identical
// images, and differences can be injected one at a time.

// MakeISO writes an ISO image of srcDir to out with "xorriso -as mkisofs",
// passing args (for example "-R", "-J", "-iso-level", "3", "-V", "VOLID",
// "--modification-date=2024010203040500") before the source directory. It
// returns out.
func MakeISO(t testing.TB, srcDir, out string, args ...string) string {
	t.Helper()
	Need(t, "xorriso")
	argv := append([]string{"-as", "mkisofs", "-quiet", "-o", out}, args...)
	argv = append(argv, srcDir)
	Run(t, filepath.Dir(out), "xorriso", argv...)
	return out
}

// HybridBootFiles are the paths inside an image made by MakeHybridISO of
// the files it adds to the source tree.
const (
	HybridIsolinux = "/isolinux/isolinux.bin"
	HybridCatalog  = "/isolinux/boot.cat"
	HybridEFIImage = "/boot/grub/efi.img"
)

// MakeHybridISO writes an isohybrid, El Torito bootable image of srcDir to
// out the way live ISOs are made: isolinux for BIOS (no emulation, 4
// sectors, boot info table) with isohdpfx.bin as MBR, and a FAT EFI image as
// the alternate, no-emulation UEFI entry exposed as a GPT partition. The
// boot files are grafted in from a temporary directory (srcDir is not
// changed) at HybridIsolinux and HybridEFIImage, with the catalog at
// HybridCatalog. Rock Ridge and Joliet are on; extra arguments such as
// "-V", "VOLID" or "--modification-date=2024010203040500" come before the
// source. Note that -boot-info-table patches the image's copy of
// isolinux.bin, so its content differs from IsolinuxBin. It returns out.
func MakeHybridISO(t testing.TB, srcDir, out string, extra ...string) string {
	t.Helper()
	Need(t, "xorriso", "mkfs.vfat", "mmd", "mcopy")
	boot := t.TempDir()
	efiDir := filepath.Join(boot, "boot", "grub")
	if err := os.MkdirAll(efiDir, 0o755); err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(efiDir, "efi.img")
	MakeEFIImage(t, efi)
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			t.Fatalf("SOURCE_DATE_EPOCH=%q: %v", epoch, err)
		}
		stamp := time.Unix(sec, 0)
		// xorriso gives the directories it makes for a graft point the
		// time of the grafted file's directory.
		for _, p := range []string{efi, efiDir, filepath.Dir(efiDir), boot} {
			if err := os.Chtimes(p, stamp, stamp); err != nil {
				t.Fatal(err)
			}
		}
	}
	argv := []string{"-as", "mkisofs", "-quiet", "-o", out, "-R", "-J",
		"-isohybrid-mbr", IsohybridMBR,
		"-b", HybridIsolinux[1:], "-c", HybridCatalog[1:],
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", HybridEFIImage[1:], "-no-emul-boot",
		"-isohybrid-gpt-basdat",
	}
	argv = append(argv, extra...)
	argv = append(argv, "-graft-points",
		"/="+srcDir,
		HybridIsolinux+"="+IsolinuxBin,
		HybridEFIImage+"="+efi,
	)
	Run(t, filepath.Dir(out), "xorriso", argv...)
	return out
}

// MakeEFIImage writes a small (1440 KiB) FAT image to out holding
// /EFI/BOOT/BOOTX64.EFI (a placeholder), as an EFI El Torito image. The
// FAT serial and the file's time are fixed; mtools stamps the directories
// with the current time, so two images made in different seconds differ.
func MakeEFIImage(t testing.TB, out string) {
	t.Helper()
	Need(t, "mkfs.vfat", "mmd", "mcopy")
	dir := filepath.Dir(out)
	Run(t, dir, "mkfs.vfat", "--invariant", "-C", "-n", "EFIBOOT", "-i", "12345678", out, "1440")
	Run(t, dir, "mmd", "-i", out, "::/EFI", "::/EFI/BOOT")
	payload := filepath.Join(t.TempDir(), "BOOTX64.EFI")
	if err := os.WriteFile(payload, []byte("MZ placeholder EFI binary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(payload, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, "mcopy", "-m", "-i", out, payload, "::/EFI/BOOT/BOOTX64.EFI")
}
