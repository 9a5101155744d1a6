# Sourced by the other scripts: where cargo builds. One build directory outside the checkout
# (wasmtime, RocksDB and librdkafka take 25-40 minutes from scratch on 2 cores), shared by
# every checkout and by CI; set CARGO_TARGET_DIR to choose another. Plain `cargo` commands
# outside the scripts build in ./target as usual.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/eddy-target}"
