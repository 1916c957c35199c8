#!/usr/bin/env bash
# Benchmark isodiff on realistic live-ISO pairs, side by side with the floor
# (hashing both images concurrently in Go), sqfsdiff (squashfs-tools-ng) on
# the two squashfs images, and the shell pipeline isodiff replaces.
#
# The root filesystem is this Debian machine's own (/usr, /etc, /var/lib/dpkg,
# about 3 GB), hard-linked into a work folder (no copy), then changed per
# pair; each variant becomes an xz (or zstd) squashfs inside an isohybrid,
# El Torito bootable ISO. Nothing here is committed; images are reused when
# present (delete $BENCH_DIR to rebuild).
#
#   scripts/bench.sh                 # all pairs
#   PAIRS="typical identical" scripts/bench.sh
#   SCALE=small scripts/bench.sh     # a ~1 GB root filesystem (second size)
#   SCALE=huge scripts/bench.sh      # ~8 GB ISOs: a ~5 GiB multi-extent squashfs + ~3 GB of other files
#   SHELL_DIFFOSCOPE=1 DIFFOSCOPE_TIMEOUT=600 scripts/bench.sh   # the shell pipeline's last step too
#   ROUNDS=5 scripts/bench.sh        # isodiff and the floors this many times each (default 3)
#   PGO_OUT=cmd/isodiff/default.pgo scripts/bench.sh   # also write the CPU profile of isodiff
#                                    # on the xz pairs, merged: the profile go build optimises with
#
# isodiff and both floors run ROUNDS times, one after the other in each
# round (the machine's speed drifts, so each round's ratio compares runs
# made together): each column gives the fastest and slowest run, and the
# last column the range of the per-round ratios isodiff / floor and
# isodiff / floor+sqfs. The peers run once.
#
# Columns: isodiff; the floor (both images hashed concurrently); floor+sqfs
# (also each squashfs inside hashed, as sha256.txt and squashfs-sha256.txt
# need, all four hashes at once); sqfsdiff on the two squashfs images; the
# shell pipeline as the CI step runs it (sizes, sha256sum, cmp of the first
# 8 KiB, xorriso TOC diff, osirrox extraction, sha256sum of the squashfs,
# unsquashfs -lln diff, and with SHELL_DIFFOSCOPE diffoscope on the squashfs
# under a timeout).
#
# SCALE=huge is the size test of issue 15: the whole of /usr, /etc and
# /var/lib/dpkg in a squashfs whose data is stored uncompressed (-noD -noF;
# metadata xz), so that it is over 4 GiB and xorriso (-iso-level 3) records
# it as a multi-extent file, and a /pool of about 3 GB of other files (those
# of /usr/lib/x86_64-linux-gnu, /usr/lib/google-cloud-sdk and /usr/bin
# again) beside it in the ISO. Its three ISOs take about 25 GB of disk (the
# squashfs images are deleted once in an ISO); sqfsdiff and the shell
# pipeline are not run; the default pairs are typical and identical.
#
# Pairs: typical (same files and sizes; a gzip header mtime, an ELF build-id
# in a 110 MB library, a timestamp in a text file, three mtimes and a mode
# differ), shifted (files added, removed and resized early in the tree, so
# fragment packing shifts), identical, typical-zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# (a dot folder: the go tool ignores it, though the root filesystem holds .go files)
BENCH_DIR=${BENCH_DIR:-$repo/.bench-out}
SCALE=${SCALE:-full}
COMP=xz
if [ "$SCALE" = huge ]; then
	PAIRS=${PAIRS:-"typical identical"}
	SKIP_PEERS=${SKIP_PEERS:-1}
	COMP=raw # data and fragments stored, metadata xz: see squash
fi
PAIRS=${PAIRS:-"typical shifted identical typical-zstd"}
SKIP_PEERS=${SKIP_PEERS:-}
ROUNDS=${ROUNDS:-3}
PGO_OUT=${PGO_OUT:-}
epoch=1709294400
export LC_ALL=C TZ=UTC

for tool in mksquashfs xorriso sqfsdiff unsquashfs osirrox mkfs.vfat mcopy /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool missing (apt-get install squashfs-tools squashfs-tools-ng xorriso dosfstools mtools time isolinux)" >&2; exit 2; }
done
mkdir -p "$BENCH_DIR"
work=$BENCH_DIR/$SCALE
mkdir -p "$work"

go build -o "$BENCH_DIR/isodiff" ./cmd/isodiff
go build -o "$BENCH_DIR/floor" ./scripts/floor

# --- root filesystems --------------------------------------------------------
base=$work/root-base
if [ ! -d "$base" ]; then
	echo "bench: linking the root filesystem ($SCALE)" >&2
	mkdir -p "$base.tmp/usr" "$base.tmp/var/lib"
	if [ "$SCALE" = small ]; then
		# About 60 % of the full one, with the files the pairs change.
		dirs="usr/bin usr/sbin usr/libexec etc usr/share/doc usr/share/man"
		libs="usr/lib/x86_64-linux-gnu"
	elif [ "$SCALE" = huge ]; then
		# All of /usr: about 6 GB here, 5-5.5 GiB as a squashfs.
		dirs="$(cd / && ls -d usr/* | grep -v -x usr/lib) etc var/lib/dpkg"
		libs=$(cd / && ls -d usr/lib/*)
	else
		# About 3.5 GB on a Debian 12 builder (the large optional runtimes
		# left out, so that the ISO stays near 1 GB on machines with more
		# installed).
		dirs="usr/bin usr/sbin usr/share usr/libexec etc var/lib/dpkg"
		libs=$(cd / && ls -d usr/lib/* | grep -v -x -e usr/lib/google-cloud-sdk -e usr/lib/jvm -e usr/lib/R \
			-e usr/lib/postgresql -e 'usr/lib/llvm-1[0-9]')
	fi
	for d in $dirs $libs; do
		mkdir -p "$base.tmp/$(dirname "$d")"
		cp -al "/$d" "$base.tmp/$d" 2>/dev/null || cp -a "/$d" "$base.tmp/$d"
	done
	mv "$base.tmp" "$base"
fi

# unlink_copy makes PATH a private copy, so that changing it does not change
# the original it is hard-linked to; the parent directory keeps its mtime.
unlink_copy() {
	local dir; dir=$(dirname "$1")
	local stamp; stamp=$(stat -c %Y "$dir")
	cp -a "$1" "$1.tmp" && mv "$1.tmp" "$1"
	touch -d "@$stamp" "$dir"
}
# keep_mtime PATH CMD...: runs CMD, then gives PATH its old mtime back, so
# that a content change is only a content change.
keep_mtime() {
	local f=$1; shift
	local stamp; stamp=$(stat -c %Y "$f")
	"$@"
	touch -d "@$stamp" "$f"
}

variant() { # NAME: make root-NAME from the base
	local name=$1
	local root=$work/root-$name
	[ -d "$root" ] && return
	echo "bench: making root filesystem $name" >&2
	cp -al "$base" "$root.tmp"
	local r=$root.tmp
	case $name in
	typical)
		# gzip header mtime only (bytes 4-7 of the header)
		local gz
		gz=$(cd "$r" && find usr/share/doc -name 'changelog.Debian.gz' -size +2k | sort | sed -n 1p)
		unlink_copy "$r/$gz"
		printf '\x00\x00\x00\x60' | keep_mtime "$r/$gz" dd of="$r/$gz" bs=1 seek=4 conv=notrunc status=none
		# ELF build-id of the largest shared library
		local so id
		so=$(cd "$r" && find usr/lib -name 'libLLVM-1*.so.1' -type f | sort | sed -n 1p)
		unlink_copy "$r/$so"
		id=$(readelf -n "$r/$so" | awk '/Build ID/ {print $3}')
		keep_mtime "$r/$so" python3 - "$r/$so" "$id" <<'PY'
import sys
p, bid = sys.argv[1], bytes.fromhex(sys.argv[2])
b = bytearray(open(p, 'rb').read())
i = b.index(bid)
b[i + len(bid) - 1] ^= 0xff
open(p, 'wb').write(b)
PY
		# a timestamp in a text file
		# (the first dated small text file: its first date moves by a day, same length)
		local txt
		txt=$(cd "$r" && grep -rlE --include='*.txt' '20[0-9]{2}-[01][0-9]-[0-2][0-9]' usr/share/doc | sort | sed -n 1p)
		unlink_copy "$r/$txt"
		keep_mtime "$r/$txt" python3 -c '
import re, sys
p = sys.argv[1]
s = open(p, "rb").read()
m = re.search(rb"20[0-9]{2}-[01][0-9]-[0-2][0-9]", s)
i = m.end() - 1
open(p, "wb").write(s[:i] + bytes([48 + (s[i] - 47) % 10]) + s[i + 1:])
' "$r/$txt"
		# three mtimes, one mode
		for f in etc/hostname etc/issue usr/bin/env; do
			[ -e "$r/$f" ] || continue
			unlink_copy "$r/$f"
			touch -h -d @$((epoch + 3600)) "$r/$f"
		done
		unlink_copy "$r/usr/bin/id" && chmod 4755 "$r/usr/bin/id"
		;;
	shifted)
		mkdir -p "$r/etc/aaa-added"
		for i in $(seq 1 200); do printf 'added file %d\n' "$i" >"$r/etc/aaa-added/f$i"; done
		rm -f "$r"/etc/adduser.conf "$r"/etc/bash.bashrc
		unlink_copy "$r/etc/debian_version" && printf '12.0 resized and longer\n' >>"$r/etc/debian_version"
		;;
	esac
	mv "$root.tmp" "$root"
}

squash() { # ROOTNAME COMP -> path
	local out=$work/$1.$2.sqfs
	if [ ! -f "$out" ]; then
		echo "bench: mksquashfs $1 ($2)" >&2
		local comp=(-comp "$2")
		if [ "$2" = raw ]; then
			comp=(-comp xz -noD -noF)
		fi
		mksquashfs "$work/root-$1" "$out.tmp" "${comp[@]}" -noappend -no-progress -quiet \
			-mkfs-time $epoch -all-root >/dev/null
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

iso() { # ROOTNAME COMP DATE -> path
	local out=$work/$1.$2.$3.iso
	if [ ! -f "$out" ]; then
		local sq tree=$work/iso-$1-$2-$3
		sq=$(squash "$1" "$2")
		echo "bench: xorriso $out" >&2
		rm -rf "$tree" && mkdir -p "$tree"/{live,isolinux,boot/grub,.disk}
		cp /usr/lib/ISOLINUX/isolinux.bin "$tree/isolinux/"
		printf 'default live\n' >"$tree/isolinux/isolinux.cfg"
		printf 'Bench Live %s\n' "$3" >"$tree/.disk/info"
		SOURCE_DATE_EPOCH=$epoch mkfs.vfat --invariant -C -n EFIBOOT -i 12345678 "$tree/boot/grub/efi.img" 1440 >/dev/null
		ln "$sq" "$tree/live/filesystem.squashfs"
		local level=()
		if [ "$SCALE" = huge ]; then
			# Files over 4 GiB: multi-extent (ISO 9660 level 3). And other
			# content beside the squashfs, as a DVD's package pool.
			level=(-iso-level 3)
			mkdir -p "$tree/pool"
			for d in usr/lib/x86_64-linux-gnu usr/lib/google-cloud-sdk usr/bin; do
				cp -al "$base/$d" "$tree/pool/$(echo "$d" | tr / _)" || exit 1
			done
		fi
		# (the pool's files are hard links into the root filesystems: their
		# times are left alone, and are the same in every ISO)
		find "$tree" -path "$tree/pool/*" -prune -o -exec touch -h -d @$epoch {} +
		xorriso -as mkisofs -quiet -o "$out.tmp" "${level[@]}" -R -J -V BENCH_LIVE --modification-date="$3" \
			-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
			-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
			-eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat "$tree" 2>/dev/null
		rm -rf "$tree"
		mv "$out.tmp" "$out"
		if [ "$SCALE" = huge ]; then
			rm -f "$sq" # 5 GiB, in the ISO; sqfsdiff is not run at this scale
		fi
	fi
	echo "$out"
}

# measure LABEL CMD...: runs CMD under /usr/bin/time -v, prints "seconds maxrss_mib"
measure() {
	local label=$1; shift
	local tv=$BENCH_DIR/time.txt
	sync
	/usr/bin/time -v -o "$tv" "$@" >"$BENCH_DIR/$label.out" 2>"$BENCH_DIR/$label.err" || true
	awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; wall=s}
		/Maximum resident set size/ {rss=$2/1024}
		END {printf "%.2f %.0f\n", wall, rss}' "$tv"
}

shell_pipeline() { # A.iso B.iso: the staged shell steps isodiff replaces, as the CI step runs them
	local t; t=$(mktemp -d "$BENCH_DIR/pipe.XXXX")
	stat -c '%s %n' "$1" "$2" >"$t/sizes.txt"
	sha256sum "$1" "$2" >"$t/sha256.txt"
	cmp -l <(head -c 8192 "$1") <(head -c 8192 "$2") >"$t/iso-header-cmp.txt" || true
	xorriso -indev "$1" -find / -exec lsdl 2>/dev/null >"$t/a.toc"
	xorriso -indev "$2" -find / -exec lsdl 2>/dev/null >"$t/b.toc"
	diff "$t/a.toc" "$t/b.toc" >"$t/toc-diff.txt" || true
	osirrox -indev "$1" -extract /live/filesystem.squashfs "$t/a.sqfs" 2>/dev/null
	osirrox -indev "$2" -extract /live/filesystem.squashfs "$t/b.sqfs" 2>/dev/null
	sha256sum "$t/a.sqfs" "$t/b.sqfs" >"$t/squashfs-sha256.txt"
	unsquashfs -lln "$t/a.sqfs" >"$t/a.ls"
	unsquashfs -lln "$t/b.sqfs" >"$t/b.ls"
	diff "$t/a.ls" "$t/b.ls" >"$t/sqfs-ls-diff.txt" || true
	if [ -n "${SHELL_DIFFOSCOPE:-}" ]; then
		# the last step, bounded as the CI step bounds it: a timeout
		timeout "${DIFFOSCOPE_TIMEOUT:-600}" diffoscope --text "$t/sqfs-diff.txt" "$t/a.sqfs" "$t/b.sqfs" >/dev/null 2>&1 || true
	fi
	rm -rf "$t"
}
export -f shell_pipeline
export BENCH_DIR SHELL_DIFFOSCOPE DIFFOSCOPE_TIMEOUT

# rounds LABEL CMD...: runs CMD once (measure) and prints "wall rss".
# span FILE: "min-max" of the first column of FILE's lines, and of the second.
span() { awk 'NR==1 {a=b=$1; c=d=$2} {if($1<a)a=$1; if($1>b)b=$1; if($2<c)c=$2; if($2>d)d=$2}
	END {x=sprintf("%.2f", a); if (b>a) x=x sprintf("-%.2f", b); y=sprintf("%.0f", c); if (sprintf("%.0f", d)!=y) y=y sprintf("-%.0f", d); print x, y}' "$1"; }
profiles=()
printf '%-14s %9s | %-24s | %-24s | %-24s | %-18s | %-18s | %s\n' pair "iso MB" "isodiff s / MiB" "floor s / MiB" "floor+sqfs s / MiB" "sqfsdiff s / MiB" "shell s / MiB" "isodiff / floor, / floor+sqfs (per round); sqfsdiff, shell / isodiff"
for pair in $PAIRS; do
	case $pair in
	typical) a=$(variant base; iso base $COMP 2024030112000000); variant typical; b=$(iso typical $COMP 2024030212000000); comp=$COMP ;;
	shifted) a=$(iso base $COMP 2024030112000000); variant shifted; b=$(iso shifted $COMP 2024030112000000); comp=$COMP ;;
	identical) a=$(iso base $COMP 2024030112000000); b=$work/base-copy.iso; [ -f "$b" ] || cp "$a" "$b"; comp=$COMP ;;
	typical-zstd) a=$(iso base zstd 2024030112000000); variant typical; b=$(iso typical zstd 2024030212000000); comp=zstd ;;
	*) echo "bench: unknown pair $pair" >&2; exit 2 ;;
	esac
	mb=$(( $(stat -c %s "$a") / 1000000 ))
	# Every tool is timed from the page cache: read both images once first,
	# so that the first one measured does not pay for the disk.
	cat "$a" "$b" >/dev/null
	: >"$BENCH_DIR/i.txt"; : >"$BENCH_DIR/f.txt"; : >"$BENCH_DIR/g.txt"; : >"$BENCH_DIR/r.txt"
	for _ in $(seq "$ROUNDS"); do
		measure "isodiff-$pair" "$BENCH_DIR/isodiff" --output-dir "$BENCH_DIR/report-$pair" "$a" "$b" | tee -a "$BENCH_DIR/i.txt" >"$BENCH_DIR/last-i"
		measure "floor-$pair" "$BENCH_DIR/floor" "$a" "$b" | tee -a "$BENCH_DIR/f.txt" >"$BENCH_DIR/last-f"
		measure "floor2-$pair" "$BENCH_DIR/floor" -section /live/filesystem.squashfs "$a" "$b" | tee -a "$BENCH_DIR/g.txt" >"$BENCH_DIR/last-g"
		paste "$BENCH_DIR/last-i" "$BENCH_DIR/last-f" "$BENCH_DIR/last-g" | awk '{printf "%.2f %.2f\n", $1/$3, $1/$5}' >>"$BENCH_DIR/r.txt"
	done
	it=$(span "$BENCH_DIR/i.txt") ft=$(span "$BENCH_DIR/f.txt") gt=$(span "$BENCH_DIR/g.txt")
	rf=$(cut -d' ' -f1 "$BENCH_DIR/r.txt" | awk '{print $1, 0}' >"$BENCH_DIR/r1.txt"; span "$BENCH_DIR/r1.txt" | cut -d' ' -f1)x
	rg=$(cut -d' ' -f2 "$BENCH_DIR/r.txt" | awk '{print $1, 0}' >"$BENCH_DIR/r2.txt"; span "$BENCH_DIR/r2.txt" | cut -d' ' -f1)x
	it1=$(awk '{s+=$1} END {printf "%.2f", s/NR}' "$BENCH_DIR/i.txt") # the mean, for the peers' ratios
	if [ -n "$PGO_OUT" ] && [ "$comp" = xz ] && [ "$pair" != identical ]; then
		"$BENCH_DIR/isodiff" --cpuprofile "$BENCH_DIR/cpu-$pair.prof" "$a" "$b" >/dev/null 2>&1 || true
		profiles+=("$BENCH_DIR/cpu-$pair.prof")
	fi
	st=- sr=- pt=- pr=-
	if [ -z "$SKIP_PEERS" ]; then
		sa=$work/$(basename "$a" | cut -d. -f1,2).sqfs
		sb=$work/$(basename "$b" | cut -d. -f1,2).sqfs
		[ "$pair" = identical ] && sb=$sa
		read -r st sr < <(measure "sqfsdiff-$pair" sqfsdiff -a "$sa" -b "$sb")
		read -r pt pr < <(measure "shell-$pair" bash -c 'shell_pipeline "$0" "$1"' "$a" "$b")
	fi
	ratio() { { [ "$1" = - ] || [ "$2" = - ]; } && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }
	cell() { set -- $1; printf '%s s %s MiB' "$1" "$2"; }
	printf '%-14s %9s | %-24s | %-24s | %-24s | %7s s %6s MiB | %7s s %6s MiB | %s; %s, %s\n' \
		"$pair" "$mb" "$(cell "$it")" "$(cell "$ft")" "$(cell "$gt")" "$st" "$sr" "$pt" "$pr" \
		"$rf, $rg" "$(ratio "$st" "$it1")" "$(ratio "$pt" "$it1")"
	tail -n 25 "$BENCH_DIR/isodiff-$pair.out" >&2
done
if [ -n "$PGO_OUT" ] && [ ${#profiles[@]} -gt 0 ]; then
	go tool pprof -proto "${profiles[@]}" >"$PGO_OUT" 2>/dev/null
	echo "bench: wrote $PGO_OUT from ${#profiles[@]} profile(s)" >&2
fi
