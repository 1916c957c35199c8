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

# Pairs of small real files the explain stage reads (inner/NAME.a and
# NAME.b differ the way rebuilds differ: times, build ids, paths), for
# FuzzInner.
in=$out/inner
rm -rf "$in"
mkdir -p "$in"
w=$work/inner
mkdir -p "$w"
text=$w/changelog
for i in $(seq 1 40); do echo "  * change $i: rebuild with the new toolchain"; done >"$text"
for s in a b; do
	case $s in a) t=1709294400 ;; b) t=1709380800 ;; esac
	touch -d @$t "$text"
	gzip -c -9 "$text" >"$in/gzip.$s" # the name and mtime go in the header
	tree=$w/tree-$s
	mkdir -p "$tree/etc" "$tree/usr/bin"
	echo "root:x:0:0::/root:/bin/sh" >"$tree/etc/passwd"
	printf '#!/bin/sh\necho %s\n' "$s" >"$tree/usr/bin/hello"
	chmod 755 "$tree/usr/bin/hello"
	find "$tree" -exec touch -h -d @$t {} +
	(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc --quiet >"$in/cpio.$s")
	(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H odc --quiet >"$w/odc.$s")
	# An initramfs: an uncompressed early segment, then a gzip one.
	cat "$w/odc.$s" >"$in/initrd.$s"
	gzip -n -c "$in/cpio.$s" >>"$in/initrd.$s"
	tar --format=gnu --mtime=@$t --owner=0 --group=0 -C "$tree" -cf "$in/tar.$s" .
	(cd "$tree" && rm -f "$in/ar.$s" && ar rcU "$in/ar.$s" etc/passwd usr/bin/hello 2>/dev/null)
	(cd "$tree" && rm -f "$w/z.$s" && zip -q -X "$w/z.$s" etc/passwd usr/bin/hello && mv "$w/z.$s" "$in/zip.$s")
	# A .deb: ar of control.tar and data.tar, times from SOURCE_DATE_EPOCH.
	deb=$w/deb-$s
	mkdir -p "$deb/DEBIAN" "$deb/usr/bin"
	cp "$tree/usr/bin/hello" "$deb/usr/bin/"
	printf 'Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@x>\nDescription: hello\n' >"$deb/DEBIAN/control"
	find "$deb" -exec touch -h -d @$t {} +
	SOURCE_DATE_EPOCH=$t dpkg-deb --root-owner-group -Zgzip --build "$deb" "$in/deb.$s" >/dev/null
	# ELF: a static program without libc, differing in its build id, and
	# one differing in an embedded build path.
	printf 'const char path[] = BUILD_PATH;\nvoid _start(void) { for (;;) ; }\n' >"$w/prog.c"
	id=$([ $s = a ] && echo 0x1111111111111111111111111111111111111111 || echo 0x2222222222222222222222222222222222222222)
	gcc -Os -nostdlib -static -o "$in/elf.$s" -Wl,--build-id=$id -DBUILD_PATH='"/build/pkg-1.0"' "$w/prog.c"
	gcc -Os -nostdlib -static -o "$in/elfpath.$s" -Wl,--build-id=none -DBUILD_PATH="\"/build/$s/pkg-1.0\"" "$w/prog.c"
	strip -R .comment "$in/elf.$s" "$in/elfpath.$s"
	# A .pyc whose header records the source's mtime.
	printf 'x = 1\n' >"$w/mod.py"
	touch -d @$t "$w/mod.py"
	python3 -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)' "$w/mod.py" "$in/pyc.$s"
done
ls -l "$in"
