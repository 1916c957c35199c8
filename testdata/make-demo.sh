#!/usr/bin/env bash
# Builds the committed demo pair testdata/demo/a.iso and b.iso: two small
# Debian-live-style ISOs (isohybrid MBR and GPT, El Torito BIOS + UEFI, an xz
# squashfs at /live/filesystem.squashfs) that differ the way real live-build
# pairs do. Needs: xorriso mksquashfs mkfs.vfat mtools gcc isolinux.
# Deterministic: running it again rewrites the same bytes.
set -euo pipefail
cd "$(dirname "$0")"
out=$PWD/demo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
epoch=1709294400 # 2024-03-01 12:00:00 UTC
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=$epoch

# build SIDE BUILD_TIME FAT_SERIAL
build() {
	local side=$1 when=$2 serial=$3
	local root=$work/$side/root iso=$work/$side/iso
	mkdir -p "$root"/{etc,usr/bin,usr/lib/demo,usr/share/doc/demo,var/log} "$iso"/{live,isolinux,boot/grub,.disk}
	printf 'PRETTY_NAME="Demo Live"\nID=debian\n' >"$root/etc/os-release"
	printf 'demo\n' >"$root/etc/hostname"
	# A random id that should have been emptied for the image.
	printf '%s\n' "$(printf '%s' "$side" | sha256sum | cut -c1-32)" >"$root/etc/machine-id"
	printf '#!/bin/sh\necho helper\n' >"$root/usr/bin/helper"
	chmod 0755 "$root/usr/bin/helper"
	[ "$side" = a ] && chmod u+s "$root/usr/bin/helper"
	printf 'build started %s\nall good\n' "$(date -u -d "@$when" '+%F %T')" >"$root/var/log/build.log"
	# A changelog gzipped without -n: its header carries the file's mtime.
	printf 'demo (1.0) unstable; urgency=low\n\n  * Initial release.\n' >"$work/$side/changelog"
	touch -d "@$when" "$work/$side/changelog"
	gzip -9 -c "$work/$side/changelog" >"$root/usr/share/doc/demo/changelog.gz"
	# The same C source built twice with different build ids.
	printf 'int demo(void) { return 42; }\n' >"$work/$side/demo.c"
	gcc -shared -fPIC -O2 -o "$root/usr/lib/demo/libdemo.so" "$work/$side/demo.c" \
		-Wl,--build-id=0x$(printf '%s' "$side$when" | sha1sum | cut -c1-40)
	for i in $(seq 1 40); do printf 'file %d\n' "$i" >"$root/usr/share/doc/demo/note$i.txt"; done
	find "$root" -exec touch -h -d "@$epoch" {} +
	env -u SOURCE_DATE_EPOCH mksquashfs "$root" "$iso/live/filesystem.squashfs" -comp xz -noappend -quiet -no-progress \
		-processors 1 -mkfs-time "$epoch" -all-root >/dev/null

	printf 'Demo Live - built %s\n' "$(date -u -d "@$when" '+%F %T')" >"$iso/.disk/info"
	printf 'kernel\n' >"$iso/live/vmlinuz"
	cp /usr/lib/ISOLINUX/isolinux.bin "$iso/isolinux/"
	printf 'default live\n' >"$iso/isolinux/isolinux.cfg"
	mkfs.vfat --invariant -C -n EFIBOOT -i "$serial" "$iso/boot/grub/efi.img" 160 >/dev/null
	find "$iso" -exec touch -h -d "@$epoch" {} +
	xorriso -as mkisofs -quiet -o "$out/$side.iso" -R -J -V DEMO_LIVE -no-pad \
		--modification-date="$(date -u -d "@$when" +%Y%m%d%H%M%S00)" \
		-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
		-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
		-eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat -partition_cyl_align off \
		"$iso" 2>/dev/null
}

mkdir -p "$out"
build a $epoch 12345678
build b $((epoch + 3600)) 9abcdef0
ls -l "$out"
