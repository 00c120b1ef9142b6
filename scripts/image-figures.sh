#!/usr/bin/env bash
# Figures of the worker image, per architecture: its compressed size (manifest + config + layers:
# what a task start pulls, summed from an OCI layout's blobs), and the wall time of `cfnbuild build`
# cold (an empty Go build cache; modules already downloaded) and warm (the same cache again).
# The cold and warm builds must print the same digest: the script checks reproducibility too.
#
# Usage: scripts/image-figures.sh [ARCH...]   (ARCH: x86_64, arm64; default both)
#        CFNBUILD_MAIN=./other/main scripts/image-figures.sh   (default ./worker)
set -euo pipefail
cd "$(dirname "$0")/.."
main=${CFNBUILD_MAIN:-./worker}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 arm64)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/cfnbuild" ./cmd/cfnbuild

# build NAME ARCH: one timed `cfnbuild build` with GOCACHE=$tmp/gocache-ARCH into $tmp/NAME-ARCH.
build() {
  local start=$EPOCHREALTIME
  GOCACHE="$tmp/gocache-$2" "$tmp/cfnbuild" build --main "$main" --architecture "$2" \
    --oci-layout "$tmp/$1-$2" >"$tmp/$1-$2.digest" 2>"$tmp/$1-$2.log" || { cat "$tmp/$1-$2.log" >&2; exit 1; }
  awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", e - s }'
}

printf '%-8s %-73s %22s %12s %12s\n' arch digest "compressed size" "cold build" "warm build"
for arch in "${archs[@]}"; do
  cold=$(build cold "$arch")
  warm=$(build warm "$arch")
  digest=$(cat "$tmp/warm-$arch.digest")
  if [ "$digest" != "$(cat "$tmp/cold-$arch.digest")" ]; then
    echo "not reproducible: the cold build gave $(cat "$tmp/cold-$arch.digest"), the warm one $digest" >&2
    exit 1
  fi
  bytes=$(find "$tmp/warm-$arch/blobs" -type f -exec stat -c %s {} + | awk '{ n += $1 } END { print n }')
  size=$(awk -v n="$bytes" 'BEGIN { printf "%d B (%.2f MB)", n, n / 1e6 }')
  printf '%-8s %-73s %22s %12s %12s\n' "$arch" "$digest" "$size" "$cold" "$warm"
done
echo "main package: $main; go: $(go env GOVERSION); $(nproc) CPUs" >&2
