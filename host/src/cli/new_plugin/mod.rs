//! `eddy plugin new NAME --kind aggregator|map|filter --lang rust|python|js`: a plugin project
//! that passes its own tests and builds to a component as generated, wherever it is made.
//!
//! The project carries its own copy of the SDK and of the WIT contract, written from files
//! built into this binary (the `embedded` module): nothing in it points back at the checkout
//! `eddy` was built from. Layout (`NAME/`):
//!
//! ```text
//! wit/          the eddy:plugin contract (the SDKs find it beside `eddy-sdk/`)
//! eddy-sdk/     the SDK: a crate (Rust), the `eddy_sdk` package (Python), an npm package (JS)
//! ...           the plugin: src/lib.rs + Cargo.toml | app.py, tests, build.sh | app.js, tests
//! ```

mod embedded;
mod js;
mod python;
mod rust;

use std::path::{Path, PathBuf};

/// A plugin kind a project can be made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A windowed aggregate: one value per group.
    Aggregator,
    /// A map: one event in, one out.
    Map,
    /// A filter: keeps or drops each event.
    Filter,
}

/// The language a plugin is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate on `eddy-sdk`, built with `cargo build --target wasm32-wasip2`.
    #[default]
    Rust,
    /// A Python module on `eddy_sdk`, built with componentize-py.
    Python,
    /// A JavaScript module on `@eddy/plugin-sdk`, built with componentize-js.
    Js,
}

/// Why a project could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a crate name.
    #[error("`{0}` is not a plugin name: lowercase letters, digits and -, starting with a letter")]
    Name(String),
    /// The folder exists.
    #[error("{0} already exists")]
    Exists(String),
    /// `--sdk` was given for a language other than Rust.
    #[error("--sdk is for Rust plugins only")]
    SdkOption,
    /// The embedded SDK manifest could not be made standalone.
    #[error("the embedded SDK manifest: {0}")]
    Manifest(String),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What to make.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Plugin (and crate or package) name.
    pub name: &'a str,
    /// What the plugin is.
    pub kind: Kind,
    /// What it is written in.
    pub lang: Lang,
    /// For Rust: depend on the `eddy-sdk` crate at this path instead of writing the SDK into
    /// the project.
    pub sdk: Option<&'a Path>,
}

/// Makes the project `request.name` in `dir/<name>` and returns its folder.
pub fn create(request: &Request<'_>, dir: &Path) -> Result<PathBuf, ScaffoldError> {
    let name = request.name;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    if request.sdk.is_some() && request.lang != Lang::Rust {
        return Err(ScaffoldError::SdkOption);
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists(root.display().to_string()));
    }
    match request.lang {
        Lang::Rust => rust::write_project(&root, name, request.kind, request.sdk)?,
        Lang::Python => python::write_project(&root, name, request.kind)?,
        Lang::Js => js::write_project(&root, name, request.kind)?,
    }
    Ok(root)
}

/// Writes `text` to `root/rel`, making its folders.
fn write(root: &Path, rel: &str, text: &str) -> Result<(), ScaffoldError> {
    let path = root.join(rel);
    let io = |source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&path, text).map_err(io)
}

/// Writes each of `files` under `root/under` (`""`: into `root`), with `__NAME__` replaced by
/// `name` when one is given (templates) and as they are otherwise (SDK sources).
fn write_all(
    root: &Path,
    under: &str,
    files: embedded::Files,
    name: Option<&str>,
) -> Result<(), ScaffoldError> {
    for (rel, text) in files {
        let rel = if under.is_empty() {
            (*rel).to_string()
        } else {
            format!("{under}/{rel}")
        };
        match name {
            Some(name) => write(root, &rel, &text.replace("__NAME__", name))?,
            None => write(root, &rel, text)?,
        }
    }
    Ok(())
}

/// Makes `root/rel` executable (a build script).
fn make_executable(root: &Path, rel: &str) -> Result<(), ScaffoldError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = root.join(rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(
            |source| ScaffoldError::Io {
                path: path.display().to_string(),
                source,
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = (root, rel);
    Ok(())
}

/// The WIT contract, at `root/wit` (where every SDK's build looks for it: beside `eddy-sdk/`).
fn write_wit(root: &Path) -> Result<(), ScaffoldError> {
    write_all(root, "wit", embedded::WIT, None)
}
