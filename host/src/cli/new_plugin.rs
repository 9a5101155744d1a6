//! `eddy plugin new NAME --kind aggregator|map|filter`: a plugin crate on the SDK that builds
//! (`cargo build --release --target wasm32-wasip2`) and passes its own tests as generated.

use std::path::{Path, PathBuf};

/// A plugin kind a crate can be made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A windowed aggregate: one value per group.
    Aggregator,
    /// A map: one event in, one out.
    Map,
    /// A filter: keeps or drops each event.
    Filter,
}

/// Why a crate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a crate name.
    #[error("`{0}` is not a plugin name: lowercase letters, digits and -, starting with a letter")]
    Name(String),
    /// The folder exists.
    #[error("{0} already exists")]
    Exists(String),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The SDK of the checkout this binary was built from, when it is still there.
pub fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    sdk.canonicalize().ok()
}

const AGGREGATOR: &str = r#"//! __NAME__: an aggregator. Each group (key × window) gets its own value of the type below;
//! the host calls `add` per event, `merge` for session windows, `finish` when the window fires.

use eddy_sdk::{Aggregator, NoConfig};
use serde::{Deserialize, Serialize};

/// The state of one group. It is saved at checkpoints: change its layout only with a new
/// `STATE_FORMAT`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plugin {
    total: f64,
}

impl Aggregator for Plugin {
    type Config = NoConfig;
    const NAME: &'static str = "__NAME__";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Sum of a field per group.";

    fn new(_: &NoConfig) -> Self {
        Self::default()
    }
    fn add(&mut self, value: f64) {
        if value.is_finite() {
            self.total += value;
        }
    }
    fn merge(&mut self, other: Self) {
        self.total += other.total;
    }
    fn finish(&self, _: &NoConfig, out: &mut Vec<f64>) {
        out.push(self.total);
    }
}

eddy_sdk::export_aggregator!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn adds_merges_and_round_trips() {
        let config = NoConfig {};
        let mut a: Plugin = accumulate(&config, &[1.0, 2.5, f64::NAN]);
        a.merge(accumulate(&config, &[0.5]));
        assert_eq!(finish(&a, &config), vec![4.0]);
        assert_eq!(round_trip(&a), a);
    }
}
"#;

const MAP: &str = r#"//! __NAME__: a map. Each event's payload in, a new payload out.

use eddy_sdk::{Error, Event, Map, NoConfig, Record};

/// Trims white space around each payload.
pub struct Plugin;

impl Map for Plugin {
    type Config = NoConfig;
    const NAME: &'static str = "__NAME__";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Trims white space around each event.";

    fn new(_: NoConfig) -> Result<Self, Error> {
        Ok(Self)
    }

    fn map(&mut self, event: &Event<'_>) -> Result<Record, Error> {
        Ok(Record {
            payload: event.payload.trim_ascii().to_vec(),
            timestamp: event.timestamp,
        })
    }
}

eddy_sdk::export_map!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims() {
        let mut map = Plugin::new(NoConfig {}).expect("configured");
        let event = Event { payload: b"  {\"a\":1} \n", timestamp: 7 };
        let out = map.map(&event).expect("mapped");
        assert_eq!(out.payload, b"{\"a\":1}");
        assert_eq!(out.timestamp, 7);
    }
}
"#;

const FILTER: &str = r#"//! __NAME__: a filter. Keeps or drops each event.

use eddy_sdk::{Error, Event, Filter, NoConfig};

/// Drops empty events.
pub struct Plugin;

impl Filter for Plugin {
    type Config = NoConfig;
    const NAME: &'static str = "__NAME__";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Drops empty events.";

    fn new(_: NoConfig) -> Result<Self, Error> {
        Ok(Self)
    }

    fn keep(&mut self, event: &Event<'_>) -> Result<bool, Error> {
        Ok(!event.payload.trim_ascii().is_empty())
    }
}

eddy_sdk::export_filter!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_empty_events() {
        let mut filter = Plugin::new(NoConfig {}).expect("configured");
        assert!(filter.keep(&Event { payload: b"{}", timestamp: 0 }).expect("kept"));
        assert!(!filter.keep(&Event { payload: b" ", timestamp: 0 }).expect("dropped"));
    }
}
"#;

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    std::fs::write(path, text).map_err(|source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Makes the crate `name` of `kind` in `dir/name`, depending on the SDK at `sdk` (and pinned
/// to the versions in the SDK's workspace lock file, when there is one).
pub fn create(name: &str, kind: Kind, dir: &Path, sdk: &Path) -> Result<PathBuf, ScaffoldError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root.display().to_string()));
    }
    let src = root.join("src");
    std::fs::create_dir_all(&src).map_err(|source| ScaffoldError::Io {
        path: src.display().to_string(),
        source,
    })?;
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
eddy-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}

# A crate of its own, not part of another workspace.
[workspace]
"#,
        sdk = sdk.display()
    );
    write(&root.join("Cargo.toml"), &cargo)?;
    let template = match kind {
        Kind::Aggregator => AGGREGATOR,
        Kind::Map => MAP,
        Kind::Filter => FILTER,
    };
    write(&src.join("lib.rs"), &template.replace("__NAME__", name))?;
    let readme = format!(
        "# {name}\n\nAn Eddy plugin. Test it natively, build the component, try it offline:\n\n\
         ```sh\ncargo test\ncargo build --release --target wasm32-wasip2\n\
         eddy plugin test target/wasm32-wasip2/release/{file}.wasm --input events.jsonl\n```\n\n\
         Upload it to a running host with `eddy plugin push` and make a stage run it with \
         `eddy plugin activate`.\n",
        file = name.replace('-', "_")
    );
    write(&root.join("README.md"), &readme)?;
    if let Some(lock) = sdk.parent().map(|p| p.join("Cargo.lock"))
        && lock.is_file()
    {
        std::fs::copy(&lock, root.join("Cargo.lock")).map_err(|source| ScaffoldError::Io {
            path: lock.display().to_string(),
            source,
        })?;
    }
    Ok(root)
}
