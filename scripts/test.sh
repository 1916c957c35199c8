#!/usr/bin/env bash
# The README's test command: installs the real tools the tests build and
# check images with (when missing), then runs every test with the race
# detector. Usage: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

# tool -> Debian package
declare -A need=(
	[xorriso]=xorriso
	[mksquashfs]=squashfs-tools
	[unsquashfs]=squashfs-tools
	[mkfs.vfat]=dosfstools
	[mcopy]=mtools
	[cpio]=cpio
	[setfattr]=attr
	[getfattr]=attr
	[diff]=diffutils
	[genisoimage]=genisoimage
	[isoinfo]=genisoimage
	[sfdisk]=fdisk
	[gcc]=gcc
	[strip]=binutils
	[python3]=python3
	[gzip]=gzip
	[zstd]=zstd
	[zip]=zip
	[dpkg-deb]=dpkg [dpkg-query]=dpkg [dpkg-divert]=dpkg [md5sum]=coreutils
	[diffoscope]=diffoscope-minimal
	[faketime]=faketime
	[setarch]=util-linux
	[cmark-gfm]=cmark-gfm
	[script]=bsdutils
	[chromium]=chromium
	[mkfs.erofs]=erofs-utils [dump.erofs]=erofs-utils [fsck.erofs]=erofs-utils
)
missing=()
for tool in "${!need[@]}"; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${need[$tool]}")
done
[ -f /usr/lib/ISOLINUX/isohdpfx.bin ] || missing+=(isolinux)
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing+=(syslinux-common)
if [ ${#missing[@]} -gt 0 ]; then
	pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
	echo "installing: $pkgs" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

go vet ./...
go test -race "$@" ./...
(cd importer && go vet ./... && go test -race "$@" ./...)
