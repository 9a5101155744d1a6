#!/usr/bin/env bash
# Sets up, builds and runs Eddy's demo: an embedded (in-process) Kafka cluster fed with generated
# events, read by the pipeline of examples/demo.yaml (10 s tumbling windows computed by the
# built-in WebAssembly aggregators), results read back from the result topic and printed as JSON
# lines on stdout; late events, dead letters, setup and build output on stderr, so stdout is
# only results (`scripts/demo.sh | jq .` works). No external services.
# Usage: scripts/demo.sh [--events N] [--keys N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh >&2
scripts/build-plugins.sh --rust-only >&2
cargo build --quiet -p eddy --bin eddy >&2
"$CARGO_TARGET_DIR/debug/eddy" demo "$@"
