#!/usr/bin/env bash
# Builds the schema registry the Avro tests start (tests/src/registry.rs): Apicurio Registry
# (Confluent-compatible API) as a runnable Quarkus jar, from Maven Central alone, as pinned in
# tests/registry/pom.xml, into a per-machine cache: /var/tmp/eddy-registry/<stamp>/ (override
# the root with EDDY_REGISTRY_CACHE). Idempotent: a cached build is found in well under a
# second; a first build takes about a minute. Needs Java 17 and Maven (scripts/setup.sh).
# Prints the runner jar's path.
# Usage: scripts/install-registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
src=tests/registry
root=${EDDY_REGISTRY_CACHE:-/var/tmp/eddy-registry}
# The cache is keyed by everything the build reads: a changed pin or source builds again.
stamp=$(find "$src" -type f -not -path "$src/target/*" | sort | xargs sha256sum | sha256sum | cut -c1-16)
dir="$root/$stamp"
jar="$dir/apicurio-runner-1.0-runner.jar"
if [ -f "$dir/.done" ] && [ -f "$jar" ]; then
  echo "$jar"
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "install-registry: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
echo "install-registry: building Apicurio Registry from Maven Central into $dir" >&2
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
cp -r "$src/pom.xml" "$src/src" "$dir.tmp/"
mvn -q -B -Dstyle.color=never -f "$dir.tmp/pom.xml" package >&2
mkdir -p "$dir.tmp/out"
mv "$dir.tmp/target/apicurio-runner-1.0-runner.jar" "$dir.tmp/target/lib" "$dir.tmp/out/"
rm -rf "$dir"
mv "$dir.tmp/out" "$dir"
rm -rf "$dir.tmp"
touch "$dir/.done"
echo "$jar"
