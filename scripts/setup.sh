#!/usr/bin/env bash
# Installs what building and testing Eddy needs on a Debian machine with a Rust toolchain:
# the native libraries' build dependencies and Java 17 with Maven (apt), rustfmt and clippy,
# and the wasm32-wasip2 target. Installs only what is missing. Usage: scripts/setup.sh
set -euo pipefail

# make: jemalloc's build (tikv-jemalloc-sys), beside cmake for librdkafka and RocksDB.
# Java 17 and Maven: the Apache Kafka broker of the tests (scripts/install-kafka.sh).
# postgresql: the server binaries (initdb, pg_ctl) the PostgreSQL sink tests start their own
# server with.
packages=(cmake make clang libclang-dev libcurl4-openssl-dev libssl-dev libsasl2-dev zlib1g-dev libzstd-dev pkg-config
  openjdk-17-jre-headless maven postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

installed_targets=$(rustup target list --installed)
grep -qx wasm32-wasip2 <<<"$installed_targets" || rustup target add wasm32-wasip2
installed_components=$(rustup component list --installed)
for c in rustfmt clippy; do
  grep -q "^$c" <<<"$installed_components" || rustup component add "$c"
done
