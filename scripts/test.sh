#!/usr/bin/env bash
# Sets up (apt packages, wasm target, the Apache Kafka test broker and schema registry from Maven
# Central), builds the plugins (Rust, Python and JavaScript), and runs every test of the workspace
# and of the Python and JavaScript SDKs. The Kafka tests start their own broker processes. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/install-kafka.sh >/dev/null
# The schema registry of the Avro tests (Apicurio Registry, built from Maven Central once).
scripts/install-registry.sh >/dev/null
# schemathesis, which checks the admin API against docs/openapi.yaml (tests/tests/openapi.rs).
scripts/install-schemathesis.sh >/dev/null
scripts/build-plugins.sh >/dev/null
# Python and JavaScript plugins (componentize-py, componentize-js) and their native tests.
scripts/build-polyglot.sh --test
# The integration tests run the `eddy` binary, which `cargo test` alone does not build.
cargo build -p eddy --bin eddy
cargo test --workspace
# Kafka pipelines compute partitions on `workers` threads, one per core by default (two here):
# the crash, scale-out (with fencing) and live hot-swap tests again with the loop computing alone.
EDDY_WORKERS=1 cargo test -p eddy-tests --test crash --test scale_out --test upload_live
# No import circle between the top-level modules of the engine and of the host.
python3 scripts/module-graph.py >/dev/null
