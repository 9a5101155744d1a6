#!/usr/bin/env bash
# Keeps the persistent build directory from filling the disk (a full disk once failed CI at the
# link step). Drops incremental caches first and, as a last resort, the whole directory (a cold
# build then takes 25-40 minutes). Usage: scripts/ci-disk.sh [min-free-GiB]
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_gib="${1:-20}"
dir="$CARGO_TARGET_DIR"
free_gib() { df -P --block-size=1G "$(dirname "$dir")" | awk 'NR==2 {print $4}'; }
echo "ci-disk: $(free_gib) GiB free beside $dir"
[ -d "$dir" ] || exit 0
if [ "$(free_gib)" -lt "$need_gib" ]; then
  rm -rf "$dir"/debug/incremental
fi
if [ "$(free_gib)" -lt "$need_gib" ]; then
  echo "ci-disk: still under $need_gib GiB free, removing $dir"
  rm -rf "$dir"
fi
echo "ci-disk: $(free_gib) GiB free"
