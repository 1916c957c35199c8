#!/usr/bin/env bash
# Makes the small real images the fuzz targets start from (committed in
# seeds/): squashfs images with each compressor and an ISO with Rock Ridge,
# Joliet, El Torito and an isohybrid MBR/GPT, all a few KiB to a few hundred.
set -euo pipefail
cd "$(dirname "$0")"
out=$PWD/seeds
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=1709294400
root=$work/root
mkdir -p "$root/dir/sub" "$root/.hidden"
printf 'hello\n' >"$root/dir/a.txt"
head -c 9000 /dev/zero | tr '\0' 'x' >"$root/dir/sub/big"
: >"$root/empty"
ln -s dir/a.txt "$root/link"
ln "$root/dir/a.txt" "$root/hard"
chmod 4755 "$root/dir/sub/big"
mkfifo "$root/fifo"
setfattr -n user.k -v v "$root/dir/a.txt" 2>/dev/null || true
find "$root" -exec touch -h -d @1709294400 {} +
sqfs() { # NAME ARGS...
	local name=$1
	shift
	env -u SOURCE_DATE_EPOCH mksquashfs "$root" "$out/$name.sqfs" "$@" -b 4K -noappend -quiet \
		-no-progress -processors 1 -mkfs-time 1709294400 -p "dev c 644 0 0 300 70000" >/dev/null
}
for c in gzip xz lzo lz4 zstd; do
	sqfs "$c" -comp "$c"
done
# Inodes, directories, fragments, xattrs and ids stored uncompressed: mutated
# bytes then land in the tables themselves rather than in a codec's stream.
sqfs plain -comp gzip -noI -noD -noF -noX
# An ISO with Rock Ridge, Joliet, two El Torito entries (tiny no-emulation
# boot images) and the uncompressed squashfs; MBR/GPT seeds come from the
# demo pair.
iso=$work/iso
mkdir -p "$iso/boot" "$iso/live"
cp "$out/plain.sqfs" "$iso/live/filesystem.squashfs"
cp -a "$root/." "$iso/"
rm -f "$iso/fifo"
head -c 2048 /dev/zero | tr '\0' 'B' >"$iso/boot/bios.img"
head -c 4096 /dev/zero | tr '\0' 'E' >"$iso/boot/efi.img"
find "$iso" -exec touch -h -d @1709294400 {} +
xorriso -as mkisofs -quiet -o "$out/boot.iso" -R -J -V SEED -no-pad \
	-b boot/bios.img -c boot/boot.cat -no-emul-boot -boot-load-size 1 \
	-eltorito-alt-boot -e boot/efi.img -no-emul-boot "$iso" 2>/dev/null
# The same ISO cut where the file data starts: descriptors, path tables and
# directory records only, so that more mutations hit the tree.
first=$(xorriso -indev "$out/boot.iso" -find / -type f -exec report_lba -- 2>/dev/null |
	awk -F, '/^File data lba:/ && $3+0 > 0 { print $2+0 }' | sort -n | head -n 1)
head -c $((first * 2048)) "$out/boot.iso" >"$out/tree.iso"
ls -l "$out"
