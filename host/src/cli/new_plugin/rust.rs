//! A Rust plugin: a crate on `eddy-sdk`, with the SDK crate written into `eddy-sdk/` (its
//! bindings read `../wit`, so the contract goes to the project's `wit/`) unless `--sdk` names
//! one, and the workspace's lock file so that it builds with the versions the SDK was tested
//! with (offline, when they are in Cargo's cache).

use std::path::Path;

use super::{Kind, ScaffoldError, embedded, write, write_all, write_wit};

/// Writes the crate `name` of `kind` at `root`.
pub(super) fn write_project(
    root: &Path,
    name: &str,
    kind: Kind,
    sdk: Option<&Path>,
) -> Result<(), ScaffoldError> {
    let sdk_path = match sdk {
        Some(sdk) => sdk.display().to_string(),
        None => {
            write_wit(root)?;
            write_all(root, "eddy-sdk/src", embedded::RUST_SDK, None)?;
            let manifest =
                standalone_manifest(embedded::RUST_SDK_MANIFEST, embedded::WORKSPACE_MANIFEST)?;
            write(root, "eddy-sdk/Cargo.toml", &manifest)?;
            "eddy-sdk".to_string()
        }
    };
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
eddy-sdk = {{ path = {sdk} }}
serde = {{ version = "1", features = ["derive"] }}

# A workspace of its own, not part of another one (a path dependency inside this folder,
# such as eddy-sdk/, is a member).
[workspace]
"#,
        sdk = toml_string(&sdk_path),
    );
    write(root, "Cargo.toml", &cargo)?;
    write(root, "Cargo.lock", embedded::WORKSPACE_LOCK)?;
    write(root, ".gitignore", "/target\n")?;
    let template = match kind {
        Kind::Aggregator => AGGREGATOR,
        Kind::Map => MAP,
        Kind::Filter => FILTER,
    };
    write(root, "src/lib.rs", &template.replace("__NAME__", name))?;
    let readme = format!(
        "# {name}\n\nAn Eddy plugin. Test it natively, build the component, try it offline:\n\n\
         ```sh\ncargo test\ncargo build --release --target wasm32-wasip2\n\
         eddy plugin test target/wasm32-wasip2/release/{file}.wasm --input events.jsonl\n```\n\n\
         {sdk_note}Upload it to a running host with `eddy plugin push` and make a stage run it with \
         `eddy plugin activate`.\n",
        file = name.replace('-', "_"),
        sdk_note = if sdk.is_some() {
            ""
        } else {
            "`eddy-sdk/` is the Eddy SDK and `wit/` the host/plugin contract, as of the `eddy` \
             that made this project.\n\n"
        },
    );
    write(root, "README.md", &readme)
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `[section]` a line opens, if it opens one.
fn section(line: &str) -> Option<&str> {
    let line = line.trim();
    line.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// `key = value` lines of the table `table` in `manifest`, by key.
fn table<'a>(manifest: &'a str, table: &str) -> Vec<(&'a str, &'a str)> {
    let mut current = None;
    let mut out = Vec::new();
    for line in manifest.lines() {
        if let Some(s) = section(line) {
            current = Some(s);
        } else if current == Some(table)
            && let Some((key, value)) = line.split_once('=')
        {
            out.push((key.trim(), value.trim()));
        }
    }
    out
}

/// The SDK's manifest with every `key.workspace = true` replaced by the workspace's value and
/// the `[lints]` table (the workspace's lints) left out: a crate that builds on its own.
fn standalone_manifest(sdk: &str, workspace: &str) -> Result<String, ScaffoldError> {
    let package = table(workspace, "workspace.package");
    let dependencies = table(workspace, "workspace.dependencies");
    let mut current = "";
    let mut out = String::new();
    for line in sdk.lines() {
        if let Some(s) = section(line) {
            current = s;
        }
        if current == "lints" {
            continue;
        }
        let inherited = line
            .split_once('=')
            .filter(|(_, value)| value.trim() == "true")
            .and_then(|(key, _)| key.trim().strip_suffix(".workspace"));
        match inherited {
            Some(key) => {
                let values = if current == "package" {
                    &package
                } else {
                    &dependencies
                };
                let value = values
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        ScaffoldError::Manifest(format!("no workspace value for `{key}`"))
                    })?;
                out.push_str(&format!("{key} = {value}\n"));
            }
            None if line.contains("workspace") => {
                return Err(ScaffoldError::Manifest(format!(
                    "cannot make `{line}` standalone"
                )));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out.trim_end().to_string() + "\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_manifest_becomes_standalone() {
        let manifest =
            standalone_manifest(embedded::RUST_SDK_MANIFEST, embedded::WORKSPACE_MANIFEST)
                .expect("standalone");
        assert!(!manifest.contains("workspace"), "{manifest}");
        assert!(manifest.contains("edition = \"2024\""), "{manifest}");
        assert!(
            manifest.contains("wit-bindgen = { version = "),
            "{manifest}"
        );
    }

    #[test]
    fn an_unknown_workspace_key_is_an_error() {
        let sdk = "[dependencies]\nnope.workspace = true\n";
        assert!(standalone_manifest(sdk, embedded::WORKSPACE_MANIFEST).is_err());
        let sdk = "[dependencies]\nserde = { workspace = true }\n";
        assert!(standalone_manifest(sdk, embedded::WORKSPACE_MANIFEST).is_err());
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
