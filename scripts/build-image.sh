#!/usr/bin/env bash
# Builds the Eddy image (localhost/eddy:latest) with buildah — there is no Docker engine on these
# machines and no registry to pull a base from — FROM scratch around the release binary and the
# shared libraries it links, the built-in plugins and deploy/eddy.yaml.
# With --start, then starts eddy from the image's filesystem (buildah mount + chroot, as the
# image's user) on an embedded broker and waits until /health/ready answers 200.
# Usage: scripts/build-image.sh [--start]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
start=false
[[ "${1:-}" == "--start" ]] && start=true

if ! command -v buildah >/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y -q buildah
fi
[[ -f dist/plugins/count.wasm ]] || ./scripts/build-plugins.sh --rust-only
cargo build --release -p eddy --bin eddy
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/eddy"

rootfs=deploy/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/share/eddy/plugins" "$rootfs/etc/eddy" \
  "$rootfs/var/lib/eddy" "$rootfs/tmp" "$rootfs/etc/ssl/certs"
install -m 0755 "$bin" "$rootfs/usr/local/bin/eddy"
# The shared libraries the binary links, and the dynamic loader.
for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}'); do
  cp --parents -L "$lib" "$rootfs/"
done
cp dist/plugins/*.wasm "$rootfs/usr/share/eddy/plugins/"
cp deploy/eddy.yaml "$rootfs/etc/eddy/eddy.yaml"
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
printf 'root:x:0:0:root:/:/nonexistent\neddy:x:10001:10001:eddy:/var/lib/eddy:/nonexistent\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\neddy:x:10001:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chown -R 10001:10001 "$rootfs/var/lib/eddy"

buildah() { command buildah --storage-driver vfs "$@"; }
buildah bud --isolation chroot --format docker -f deploy/Containerfile -t localhost/eddy:latest deploy
buildah images localhost/eddy:latest

if $start; then
  ctr=$(buildah from localhost/eddy:latest)
  mnt=$(buildah mount "$ctr")
  # /var/lib/eddy is a volume: mount one, owned by the image's user, as Kubernetes would.
  volume=$(mktemp -d)
  chown 10001:10001 "$volume"
  mount --bind "$volume" "$mnt/var/lib/eddy"
  cleanup() {
    kill "${pid:-0}" 2>/dev/null || true
    wait "${pid:-0}" 2>/dev/null || true
    umount "$mnt/var/lib/eddy" 2>/dev/null || true
    rm -rf "$volume"
    buildah umount "$ctr" >/dev/null || true
    buildah rm "$ctr" >/dev/null || true
  }
  trap cleanup EXIT
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "starting eddy from the image's filesystem ($mnt) on 127.0.0.1:$port"
  chroot=$(command -v chroot)
  env -i EDDY_LOG=info EDDY_KAFKA__BROKERS=embedded EDDY_HTTP__LISTEN="127.0.0.1:$port" \
    EDDY_ADMIN__TOKEN=image-test-token \
    "$chroot" --userspec=10001:10001 "$mnt" /usr/local/bin/eddy run --config /etc/eddy/eddy.yaml &
  pid=$!
  for _ in $(seq 1 120); do
    if "$bin" probe --url "http://127.0.0.1:$port/health/ready" 2>/dev/null; then
      echo "ready: GET /health/ready answered 200"
      "$chroot" --userspec=10001:10001 "$mnt" /usr/local/bin/eddy probe --url "http://127.0.0.1:$port/health/live"
      echo "the image's own health check (eddy probe /health/live) passed"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "eddy exited"; exit 1; }
    sleep 0.5
  done
  echo "not ready within 60 s"; exit 1
fi
