#!/usr/bin/env bash
# Sets up, builds and runs Eddy's demo: an embedded (in-process) Kafka cluster fed with generated
# events, read by the pipeline of examples/demo.yaml (10 s tumbling windows computed by the
# built-in WebAssembly aggregators), results read back from the result topic and printed as JSON
# lines on stdout; late events and dead letters on stderr. No external services.
# Usage: scripts/demo.sh [--events N] [--keys N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/build-plugins.sh >/dev/null
cargo run --quiet -p eddy -- demo "$@"
