//! Helpers shared by Eddy's integration tests.

use std::path::PathBuf;

pub mod avro;
pub mod broker;
pub mod dataset;
pub mod pg_proxy;
pub mod pg_tables;
pub mod postgres;
pub mod otlp;
pub mod process;
pub mod protobuf;
pub mod proxy;
pub mod registry;
pub mod sasl_ssl;
pub mod swap;
pub mod topics;
pub mod uploads;

/// The repository root.
///
/// Read from `CARGO_MANIFEST_DIR` at run time (cargo sets it for test processes): cargo reuses
/// compiled test binaries across checkouts of the workspace in other folders, so a path baked
/// in at compile time can name a checkout that is gone.
pub fn repo_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().map(PathBuf::from).unwrap_or_default()
}

fn built(dir: &str, name: &str) -> PathBuf {
    let path = repo_root().join(dir).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the plugins first with scripts/build-plugins.sh \
         (scripts/test.sh does this before running the tests)",
        path.display()
    );
    path
}

/// The folder of the built-in plugins (`dist/plugins`).
pub fn plugin_dir() -> PathBuf {
    built("dist/plugins", "count");
    repo_root().join("dist/plugins")
}

/// A built example plugin (`dist/examples/<name>.wasm`).
pub fn example(name: &str) -> PathBuf {
    built("dist/examples", name)
}

/// A built test fixture plugin (`dist/fixtures/<name>.wasm`).
pub fn fixture(name: &str) -> PathBuf {
    built("dist/fixtures", name)
}

/// Relative difference of two numbers (0 when both are equal, including both infinite).
pub fn relative_error(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        ((got - want) / want).abs()
    }
}

pub use eddy_sdk::testing::rank_error;
