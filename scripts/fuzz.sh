#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a fixed number of executions,
# starting from the inputs in fuzz/seeds/<target> (valid records and configs, and every input a
# run once found, kept after its fix). Needs the machine's nightly toolchain (libFuzzer's
# instrumentation; its version is printed) and installs cargo-fuzz (pinned) when missing.
# Exits non-zero on the first finding, whose input is in fuzz/[host/]artifacts/<target>/; each
# target's log is in $EDDY_FUZZ_TARGET_DIR/<target>.log.
#
# Targets: json_decoder (against serde_json), config, handover (published hand-over files),
# checkpoint (checkpoint records, restored into an operator) with `runs` executions each, and
# upload (plugin uploads: the built plugins and examples, mutated) with runs/200, since each
# valid component is compiled by Cranelift. upload builds the whole host (RocksDB and
# librdkafka too, once) from fuzz/host, a package of its own, without AddressSanitizer: our
# code is safe Rust, and what the sanitizer could watch there is wasmtime's own (fuzzed upstream).
# Usage: scripts/fuzz.sh [runs, default 1000000] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ=0.13.1
runs=${1:-1000000}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(json_decoder config handover checkpoint upload)

rustc +nightly --version
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ" --locked
fi
# Where the plugins are built (scripts/env.sh), and where the fuzz targets are.
plugin_target=${CARGO_TARGET_DIR:-}
fuzz_dir=${EDDY_FUZZ_TARGET_DIR:-/var/tmp/eddy-fuzz-target}
mkdir -p "$fuzz_dir"
for target in "${targets[@]}"; do
    args=(-O)
    limits=(-runs="$runs" -max_len=8192)
    dir=fuzz
    if [[ $target == upload ]]; then
        dir=fuzz/host
        mkdir -p "$dir/corpus/$target"
        # Valid components to mutate: the Rust built-ins, examples and misbehaving fixtures.
        [[ -f dist/plugins/count.wasm ]] ||
            CARGO_TARGET_DIR=$plugin_target scripts/build-plugins.sh --rust-only >/dev/null
        cp dist/plugins/*.wasm dist/examples/*.wasm dist/fixtures/*.wasm "$dir/corpus/$target/"
        largest=$(stat -c %s "$dir/corpus/$target"/* | sort -n | tail -1)
        args+=(-s none --fuzz-dir .)
        limits=(-runs=$((runs / 200)) -max_len="$largest" -timeout=60)
    fi
    mkdir -p "$dir/corpus/$target" "$dir/seeds/$target"
    export CARGO_TARGET_DIR=$fuzz_dir/${dir#fuzz}
    log=$fuzz_dir/$target.log
    if (cd "$dir" && cargo +nightly fuzz run "${args[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        "${limits[@]}" -print_final_stats=1 >"$log" 2>&1); then
        echo "fuzz $target: $(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | tr -s ' ') , nothing found"
    else
        tail -30 "$log" >&2
        echo "fuzz $target: FOUND something ($dir/artifacts/$target/)" >&2
        exit 1
    fi
done
