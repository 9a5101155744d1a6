#!/usr/bin/env bash
# Sets up (apt packages, wasm target, the tansu test broker), builds the plugins (Rust, Python and
# JavaScript), and runs every test of the workspace and of the Python and JavaScript SDKs. The
# Kafka tests start their own broker processes. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install-broker.sh
scripts/build-plugins.sh >/dev/null
# Python and JavaScript plugins (componentize-py, componentize-js) and their native tests.
scripts/build-polyglot.sh --test
cargo test --workspace
