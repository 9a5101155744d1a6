#!/usr/bin/env bash
# Sets up, builds the plugins, and runs every test of the workspace. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-plugins.sh >/dev/null
cargo test --workspace
