#!/bin/sh
# Regenerates the EROFS fixtures in this directory: small images written by
# mkfs.erofs of erofs-utils >= 1.9 in the configurations live media use
# (lzma with all-fragments, zstd with dedupe, ...) that the erofs-utils 1.5
# of CI cannot write, and for each what erofs-utils itself says about it:
#
#   NAME.erofs       the image
#   NAME.extract.txt fsck.erofs --extract of it, one line per path:
#                    path|type|mode|uid|gid|size|mtime|rdev major:minor|link target|sha256
#   NAME.dump.txt    dump.erofs -s, then for every path P the lines of
#                    dump.erofs -e --path=P with the nid, link count, layout,
#                    inode and xattr sizes and the extents
#
# plus lzma-fragments-fedora-b.erofs, the tree of lzma-fragments-fedora
# built with the same options but three injected differences (the last
# bytes of /usr/lib/mixed, the mtime of /etc/os-release, the mode of
# /usr/bin/tool): isodiff/erofs_test.go wraps the two into ISOs.
#
# Usage: EROFS_UTILS_BIN=/path/to/erofs-utils/bin sh make.sh
# Run as root (device nodes). Needs python3 for the deterministic content.
# erofs/fixtures_test.go compares the reader with the .txt files.
set -eu

: "${EROFS_UTILS_BIN:?set EROFS_UTILS_BIN to the directory of mkfs.erofs, fsck.erofs and dump.erofs (>= 1.9)}"
MKFS=$EROFS_UTILS_BIN/mkfs.erofs
FSCK=$EROFS_UTILS_BIN/fsck.erofs
DUMP=$EROFS_UTILS_BIN/dump.erofs
OUT=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export LC_ALL=C TZ=UTC

# tree DIR VARIANT writes the fixture tree; VARIANT b injects the
# differences.
tree() {
	python3 - "$1" "$2" <<'EOF'
import os, socket, sys
root, variant = sys.argv[1], sys.argv[2]
state = 12345
def rand(n):
    global state
    out = bytearray()
    for _ in range(n):
        state = (state * 1103515245 + 12345) & 0x7fffffff
        out.append(state >> 16 & 0xff)
    return bytes(out)
def text(n, seed):
    lines, i = [], 0
    while sum(map(len, lines)) < n:
        lines.append(("line %d of file %d: the quick brown fox %x\n" % (i, seed, (i * 7 + seed) % 13)).encode())
        i += 1
    return b"".join(lines)[:n]
def write(path, data, mode=0o644):
    p = os.path.join(root, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, mode)
doc = text(70000, 1)
mixed = text(30000, 2) + rand(20000) + text(30001, 3)
if variant == "b":
    mixed = mixed[:-10] + b"CHANGED!!\n"
write("etc/hostname", b"live\n")
write("etc/os-release", b"NAME=Fedora\nVERSION_ID=42\n")
write("usr/share/doc/text", doc)
write("usr/share/doc/copy-of-text", doc)
write("usr/share/doc/prefix-of-text", doc[:40000])
write("usr/share/doc/text-and-more", doc + b"a different tail\n")
write("usr/lib/mixed", mixed)
write("usr/lib/random", rand(9000))
write("usr/bin/tool", text(8192, 4), 0o700 if variant == "b" else 0o755)
write("usr/bin/suid", b"#!/bin/sh\n", 0o4755)
write("empty", b"")
for i in range(40):
    write("many/file-%02d" % i, ("small file %d\n" % i).encode() * (1 + i % 5))
for n in (4095, 4096, 4097):
    write("sizes/text%d" % n, text(n, n))
os.makedirs(os.path.join(root, "sticky"))
os.chmod(os.path.join(root, "sticky"), 0o1777)
os.symlink("os-release", os.path.join(root, "etc/link-short"))
os.symlink("/" + "long/target/" * 30 + "end", os.path.join(root, "link-long"))
os.link(os.path.join(root, "etc/hostname"), os.path.join(root, "etc/hardlink"))
os.makedirs(os.path.join(root, "dev"))
os.mknod(os.path.join(root, "dev/char"), 0o620 | 0o020000, os.makedev(1, 3))
os.mknod(os.path.join(root, "dev/block"), 0o660 | 0o060000, os.makedev(8, 1))
os.mkfifo(os.path.join(root, "dev/fifo"), 0o644)
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(root, "dev/socket"))
s.close()
# Mtimes: a fixed one per path (directories last), one changed in b.
paths = []
for d, dirs, files in os.walk(root):
    paths += [os.path.join(d, n) for n in files]
    paths += [os.path.join(d, n) for n in dirs]
paths.sort(key=lambda p: (-p.count("/"), p))
for i, p in enumerate(paths + [root]):
    t = 1700000000 + 1000 * i
    if variant == "b" and p.endswith("etc/os-release"):
        t += 86400
    os.utime(p, ns=(t * 10**9 + 123456789, t * 10**9 + 123456789), follow_symlinks=False)
EOF
}

# oracle NAME writes NAME.extract.txt and NAME.dump.txt for NAME.erofs.
oracle() {
	img=$OUT/$1.erofs
	x=$WORK/x-$1
	mkdir -p "$x"
	"$FSCK" "$img" >/dev/null
	# fsck.erofs 1.9.3 --extract with fragments first extracts the packed
	# inode to the target path; from --path=/ it does not.
	"$FSCK" --path=/ --extract="$x" --preserve "$img" >/dev/null
	(cd "$x" && find . -print | sort | while IFS= read -r p; do
		q=/${p#./}
		[ "$p" = . ] && q=/
		set -- $(stat -c '%F|%a|%u|%g|%s|%t:%T' "$p" | tr ' ' _)
		m=$(stat -c '%.9Y' "$p")
		l=
		[ -L "$p" ] && l=$(readlink "$p")
		h=
		[ -f "$p" ] && [ ! -L "$p" ] && h=$(sha256sum <"$p" | cut -d' ' -f1)
		printf '%s|%s|%s|%s|%s\n' "$q" "$1" "$m" "$l" "$h"
	done) >"$OUT/$1.extract.txt"
	{
		"$DUMP" -s "$img"
		(cd "$x" && find . -print | sort) | while IFS= read -r p; do
			q=/${p#./}
			[ "$p" = . ] && q=/
			echo "=== $q"
			if [ -f "$x/$p" ] && [ ! -L "$x/$p" ]; then
				"$DUMP" -e --path="$q" "$img"
			else
				"$DUMP" --path="$q" "$img"
			fi | grep -E '^(NID:|Inode size:| *[0-9]+: )'
		done
	} >"$OUT/$1.dump.txt"
}

# image NAME VARIANT MKFS-ARGS... builds NAME.erofs and its oracle files.
image() {
	name=$1 variant=$2
	shift 2
	src=$WORK/src-$variant
	[ -d "$src" ] || tree "$src" "$variant"
	rm -f "$OUT/$name.erofs"
	"$MKFS" --quiet -T1700000000 --mkfs-time --all-root \
		-U 6c0ffee0-1234-5678-9abc-def012345678 "$@" "$OUT/$name.erofs" "$src"
	oracle "$name"
}

image lzma a -zlzma
image lzma-fragments-fedora a -zlzma,level=6 -Eall-fragments,fragdedupe=inode -C1048576
image lzma-dict-coreos a -C524288 -zlzma,level=6,dictsize=524288
image deflate a -zdeflate
image zstd a -zzstd
image zstd-dedupe-fragments-lorax a -zzstd,8 -Ededupe,all-fragments -C65536
image lz4hc-fragments a -zlz4hc -Eall-fragments
image lzma-tail-fragments a -zlzma -Efragments -C16384
image zstd-dedupe a -zzstd -Ededupe -C16384
# The other half of the isodiff pair: same options, tree b.
image lzma-fragments-fedora-b b -zlzma,level=6 -Eall-fragments,fragdedupe=inode -C1048576

# packed-a/packed-b: 64 files of 3,000 bytes, each whole in the packed
# inode (all-fragments), which 4 KiB lzma pclusters cut in many; b changes
# one byte of the last file, so that only the last pcluster differs:
# erofsdiff proves the other files equal from the stored bytes
# (erofsdiff/content_test.go). No oracle files: the reader is checked on
# the other images.
for v in a b; do
	python3 - "$WORK/packed-$v" "$v" <<'EOF2'
import os, sys
root, variant = sys.argv[1], sys.argv[2]
os.makedirs(root)
state = 777
words = [b"erofs", b"packed", b"inode", b"fragment", b"pcluster", b"lzma", b"live", b"root", b"\n"]
for i in range(64):
    out = bytearray()
    while len(out) < 3000:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out += words[state >> 60 & 7 if state >> 63 == 0 else 8] + b" "
    out = out[:3000]
    if variant == "b" and i == 63:
        out[1500] ^= 1
    with open(os.path.join(root, "f%02d" % i), "wb") as f:
        f.write(out)
    os.utime(os.path.join(root, "f%02d" % i), (1700000000, 1700000000))
os.utime(root, (1700000000, 1700000000))
EOF2
	rm -f "$OUT/packed-$v.erofs"
	"$MKFS" --quiet -T1700000000 --mkfs-time --all-root -U 6c0ffee0-1234-5678-9abc-def012345678 \
		-zlzma -Eall-fragments -C4096 "$OUT/packed-$v.erofs" "$WORK/packed-$v"
done
ls -l "$OUT"
du -ch "$OUT"/*.erofs | tail -1
