#!/usr/bin/env bash
# Installs the Apache Kafka broker the integration tests start (tests/src/broker.rs): the
# broker jar `org.apache.kafka:kafka_2.13`, its runtime dependencies and a Log4j 2 backend,
# resolved by Maven from Maven Central as pinned in tests/kafka/pom.xml, copied into a
# per-machine cache: /var/tmp/eddy-kafka/<version>/libs (override the root with
# EDDY_KAFKA_CACHE). Idempotent: a cached install is checked in well under a second. Needs
# Java 17 and Maven (scripts/setup.sh installs them). Prints the libs folder.
# Usage: scripts/install-kafka.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pom=tests/kafka/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
root=${EDDY_KAFKA_CACHE:-/var/tmp/eddy-kafka}
dir="$root/$version"
# The cache is keyed by the pom's contents too: a changed pin resolves again.
stamp=$(sha256sum "$pom" | cut -c1-16)
if [ -f "$dir/.done-$stamp" ] && [ -f "$dir/libs/kafka_2.13-$version.jar" ]; then
  echo "$dir/libs"
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "install-kafka: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
echo "install-kafka: resolving Apache Kafka $version from Maven Central into $dir" >&2
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$(realpath "$dir.tmp")/libs" >&2
rm -rf "$dir"
mv "$dir.tmp" "$dir"
touch "$dir/.done-$stamp"
echo "$dir/libs"
