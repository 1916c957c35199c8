#!/usr/bin/env bash
# Drop-in replacement for the staged diagnose step of a reproducibility
# gate: same arguments, same output files, same exit status.
#
#   scripts/diagnose-divergence.sh A.iso B.iso OUTDIR
#
# Writes sizes.txt sha256.txt iso-header-cmp.txt toc-diff.txt
# squashfs-sha256.txt sqfs-ls-diff.txt sqfs-diff.txt checklist.md (and
# report.json, report.html) into OUTDIR with isodiff, then prints the end of
# each file into the log in the order the old step did. Like the old step
# (every command `|| true`), it exits 0 whether the images are identical,
# differ, or could not be fully compared; only a wrong call exits 2. The
# isodiff exit status is printed and written to OUTDIR/isodiff-exit-status.
# When $GITHUB_STEP_SUMMARY is set (GitHub and Gitea Actions), checklist.md
# is appended to it, so the short answer shows on the run's page.
#
# Environment: ISODIFF (the binary; default: isodiff on PATH, else built
# from this checkout with go), ISODIFF_FLAGS (extra flags, e.g.
# "--timeout 20m --no-diffoscope"), TAIL_LINES (default 60).
set -uo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 A.iso B.iso OUTDIR" >&2
	exit 2
fi
a=$1 b=$2 out=$3
tail_lines=${TAIL_LINES:-60}

isodiff=${ISODIFF:-}
if [ -z "$isodiff" ]; then
	if command -v isodiff >/dev/null 2>&1; then
		isodiff=isodiff
	else
		here=$(cd "$(dirname "$0")/.." && pwd)
		isodiff=$(mktemp -d)/isodiff
		(cd "$here" && CGO_ENABLED=0 go build -o "$isodiff" ./cmd/isodiff) || {
			echo "diagnose-divergence: no isodiff on PATH and building it failed" >&2
			exit 2
		}
	fi
fi

mkdir -p "$out"
# shellcheck disable=SC2086 # ISODIFF_FLAGS is a list of flags
"$isodiff" ${ISODIFF_FLAGS:-} --output-dir "$out" -- "$a" "$b" >"$out/summary.txt" 2>"$out/isodiff.log"
status=$?
echo "$status" >"$out/isodiff-exit-status"

for f in sizes.txt sha256.txt iso-header-cmp.txt toc-diff.txt squashfs-sha256.txt sqfs-ls-diff.txt sqfs-diff.txt checklist.md; do
	echo "==> $out/$f <=="
	if [ -f "$out/$f" ]; then
		tail -n "$tail_lines" "$out/$f"
	else
		echo "(not written)"
	fi
	echo
done
cat "$out/isodiff.log" >&2
case $status in
0) echo "isodiff: the images are identical (exit 0)" ;;
1) echo "isodiff: the images differ (exit 1): see the short answer in $out/checklist.md" ;;
*) echo "isodiff: trouble (exit $status): the analysis is incomplete or an image is damaged; see $out/isodiff.log and $out/checklist.md" ;;
esac
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/checklist.md" ]; then
	cat "$out/checklist.md" >>"$GITHUB_STEP_SUMMARY"
fi
exit 0
