#!/usr/bin/env bash
# Line coverage of the workspace's tests (unit and integration, including the Kafka, PostgreSQL
# and polyglot tests that run the `eddy` binary as a subprocess) with cargo-llvm-cov, reported per
# module of the host and the engine. Needs what scripts/test.sh needs; installs cargo-llvm-cov
# (pinned) and the llvm-tools component when missing. Builds an instrumented copy of the workspace
# in its own directory (CARGO_TARGET_DIR of scripts/env.sh plus `-cov`): 30-40 minutes the first
# time on 2 cores. Usage: scripts/coverage.sh  (EDDY_COVERAGE_JSON=FILE keeps the JSON export)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
LLVM_COV_VERSION=0.6.21
if ! cargo llvm-cov --version 2>/dev/null | grep -q "$LLVM_COV_VERSION"; then
  cargo install cargo-llvm-cov --version "$LLVM_COV_VERSION" --locked
fi
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools-preview
# Plugins and the test broker first, without instrumentation (Wasm has no profiler runtime).
scripts/setup.sh
scripts/install-kafka.sh >/dev/null
scripts/build-plugins.sh >/dev/null
scripts/build-polyglot.sh >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-cov"
eval "$(cargo llvm-cov show-env --export-prefix 2>/dev/null)"
# Instrument native code only: a test that builds a Wasm plugin with cargo inherits the flags.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$RUSTFLAGS"
unset RUSTFLAGS
cargo llvm-cov clean --workspace
cargo build -p eddy --bin eddy
status=0
cargo test --workspace --no-fail-fast || status=$?
json="${EDDY_COVERAGE_JSON:-$CARGO_TARGET_DIR/coverage.json}"
cargo llvm-cov report --json --summary-only --ignore-filename-regex '(^|/)(tests|examples)/' \
  --output-path "$json"
python3 scripts/coverage-by-module.py "$json"
if [ "$status" -ne 0 ]; then
  echo "coverage: some tests failed (exit $status); the figures count what ran" >&2
fi
exit "$status"
