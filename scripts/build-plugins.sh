#!/usr/bin/env bash
# Builds every built-in plugin and example plugin to a WebAssembly component and copies them to
# dist/plugins/<name>.wasm (built-ins, which the host loads by default),
# dist/examples/<name>.wasm and dist/fixtures/<name>.wasm (misbehaving plugins for the tests).
# The built-ins are also copied to $CARGO_TARGET_DIR/{debug,release}/plugins where those folders
# exist: `plugins/` beside the binary is where `eddy` looks for them when plugins.dir is not set
# and ./dist/plugins is not there (so `eddy run` works from any directory).
# Then the Python and JavaScript examples (scripts/build-polyglot.sh: installs the pinned
# componentize-py and npm packages when missing) unless --rust-only (the demo needs none of them).
# Usage: scripts/build-plugins.sh [--rust-only]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
# Where cargo builds (CARGO_TARGET_DIR, see scripts/env.sh).
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
out="$target_dir/wasm32-wasip2/release"

builtins=(count sum avg min max stddev percentile)
examples=(spread enrich-map threshold-filter column-threshold-filter column-enrich-map)
fixtures=(hostile clock-reader panicky-filter hostile-column-filter sum-v2 sum-v3 panicky-sum)
args=()
for p in "${builtins[@]}"; do args+=(-p "eddy-$p"); done
for p in "${examples[@]}"; do args+=(-p "eddy-example-$p"); done
for p in "${fixtures[@]}"; do args+=(-p "eddy-fixture-$p"); done
mkdir -p dist/plugins dist/examples dist/fixtures
cargo build --release --target wasm32-wasip2 "${args[@]}"
for p in "${builtins[@]}"; do cp "$out/eddy_$p.wasm" "dist/plugins/$p.wasm"; done
for p in "${examples[@]}"; do cp "$out/eddy_example_${p//-/_}.wasm" "dist/examples/$p.wasm"; done
for p in "${fixtures[@]}"; do cp "$out/eddy_fixture_${p//-/_}.wasm" "dist/fixtures/$p.wasm"; done
# The composite links the other built-ins as libraries without their exports, so it is built on
# its own (cargo would unify it with their exporting builds) and after the copies above (that
# build rewrites their .wasm files without exports).
cargo build --release --target wasm32-wasip2 -p eddy-composite
cp "$out/eddy_composite.wasm" dist/plugins/composite.wasm
for profile in debug release; do
  if [[ -d "$target_dir/$profile" ]]; then
    mkdir -p "$target_dir/$profile/plugins"
    cp dist/plugins/*.wasm "$target_dir/$profile/plugins/"
  fi
done
if [[ "${1:-}" != "--rust-only" ]]; then
  scripts/build-polyglot.sh
fi
ls -l dist/plugins dist/examples
