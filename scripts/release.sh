#!/usr/bin/env bash
# Builds the release binaries of isodiff and smbuild: static (CGO_ENABLED=0),
# reproducible (-trimpath, no build id, the commit time as the only date),
# for each GOOS/GOARCH in $PLATFORMS (default linux/amd64 linux/arm64), into
# dist/<version>/ with a SHA256SUMS file. The version is the module's, as
# the go command stamps it from the checkout (a tag vX.Y.Z gives vX.Y.Z),
# and `isodiff --version` prints it.
#
#   git tag v0.2.0 && scripts/release.sh        # dist/v0.2.0/isodiff-linux-amd64 ...
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=${PLATFORMS:-linux/amd64 linux/arm64}
version=$(git describe --tags --exact-match 2>/dev/null || git describe --tags --always --dirty)
out=dist/$version
rm -rf "$out"
mkdir -p "$out"
export CGO_ENABLED=0 SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
for p in $platforms; do
	os=${p%/*} arch=${p#*/}
	for cmd in isodiff smbuild; do
		GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=true -ldflags="-s -w -buildid=" \
			-o "$out/$cmd-$os-$arch" "./cmd/$cmd"
	done
done
(cd "$out" && sha256sum -- * > SHA256SUMS)
host="$out/isodiff-$(go env GOOS)-$(go env GOARCH)"
if [ -x "$host" ]; then
	"$host" --version
fi
echo "release binaries in $out:"
cat "$out/SHA256SUMS"
