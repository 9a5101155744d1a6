#!/usr/bin/env bash
# Sets up (apt packages, wasm target, the Apache Kafka test broker from Maven Central), builds the
# plugins, and runs every test of the workspace. The Kafka tests start their own broker
# processes. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install-kafka.sh >/dev/null
scripts/build-plugins.sh >/dev/null
cargo test --workspace
