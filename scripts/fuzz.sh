#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a fixed number of executions,
# starting from the inputs in fuzz/seeds/<target> (valid records and configs, and every input a
# run once found, kept after its fix). Needs the machine's nightly toolchain (libFuzzer's
# instrumentation; its version is printed) and installs cargo-fuzz (pinned) when missing.
# Exits non-zero on the first finding, whose input is in fuzz/artifacts/<target>/; each
# target's log is in $CARGO_TARGET_DIR/<target>.log. Usage: scripts/fuzz.sh [runs, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ=0.13.1
runs=${1:-1000000}

rustc +nightly --version
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ" --locked
fi
export CARGO_TARGET_DIR=${EDDY_FUZZ_TARGET_DIR:-/var/tmp/eddy-fuzz-target}
mkdir -p "$CARGO_TARGET_DIR"
cd fuzz
for target in json_decoder config handover; do
    mkdir -p "corpus/$target" "seeds/$target"
    log=$CARGO_TARGET_DIR/$target.log
    if cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -runs="$runs" -max_len=8192 -print_final_stats=1 >"$log" 2>&1; then
        echo "fuzz $target: $(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | tr -s ' ') , nothing found"
    else
        tail -30 "$log" >&2
        echo "fuzz $target: FOUND something (fuzz/artifacts/$target/)" >&2
        exit 1
    fi
done
