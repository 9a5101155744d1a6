#!/usr/bin/env bash
# Sets up, builds and runs Eddy's demo: generated events through 10 s tumbling windows computed
# by the built-in WebAssembly aggregators; results as JSON lines on stdout, late events on
# stderr. No external services. Usage: scripts/demo.sh [--events N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-plugins.sh >/dev/null
cargo run --quiet -p eddy -- demo "$@"
