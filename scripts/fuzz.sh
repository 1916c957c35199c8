#!/usr/bin/env bash
# Runs every fuzz target for a while: scripts/fuzz.sh [SECONDS_EACH]
# Crashers land in fuzz/testdata/fuzz/<Target>/ (and the internal packages'
# testdata/fuzz/): fix them and keep them, they become regression seeds that
# `go test ./...` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-60}
run() { # PACKAGE TARGET
	echo "== $2 ($1, ${t}s)"
	# Large image seeds make minimizing slow; keep it short.
	go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "${t}s" -fuzzminimizetime 0 2>&1 | tail -n 3
}
run ./fuzz FuzzISO
run ./fuzz FuzzPartitionTables
run ./fuzz FuzzSquashfs
run ./fuzz FuzzCompare
run ./internal/iso9660 FuzzWalk
run ./internal/squashfs FuzzReader
