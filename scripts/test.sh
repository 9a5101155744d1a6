#!/usr/bin/env bash
# Sets up (apt packages, wasm target, the tansu test broker), builds the plugins, and runs every
# test of the workspace. The Kafka tests start their own broker processes. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/install-broker.sh
scripts/build-plugins.sh >/dev/null
# The integration tests run the `eddy` binary, which `cargo test` alone does not build.
cargo build -p eddy --bin eddy
cargo test --workspace
