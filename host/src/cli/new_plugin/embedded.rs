//! The SDK sources and scaffold templates, built into the binary so that `eddy plugin new`
//! writes a self-contained project wherever it runs (no path back to this checkout).
//!
//! Each list holds (path relative to its folder, contents). A test below checks that every
//! list still names every file of its folder, so an SDK file added later is not forgotten.

/// (path relative to a folder, contents).
pub type Files = &'static [(&'static str, &'static str)];

/// `include_str!` of each file under one folder of the repository.
macro_rules! files {
    ($base:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../../", $base, "/", $path)))),*]
    };
}

/// The workspace manifest: the concrete versions the SDK's `workspace = true` keys stand for.
pub const WORKSPACE_MANIFEST: &str = include_str!("../../../../Cargo.toml");

/// The workspace lock file: a generated Rust project starts pinned to the versions the SDK
/// was tested with (Cargo drops the entries it does not need).
pub const WORKSPACE_LOCK: &str = include_str!("../../../../Cargo.lock");

/// `wit/`: the host/plugin contract.
pub const WIT: Files = files!("wit": "aggregate.wit", "columns.wit", "transform.wit", "types.wit");

/// `sdk/Cargo.toml` as in the workspace (made standalone when written).
pub const RUST_SDK_MANIFEST: &str = include_str!("../../../../sdk/Cargo.toml");

/// `sdk/src/`: the Rust SDK.
pub const RUST_SDK: Files = files!("sdk/src":
    "adapter_aggregate.rs",
    "adapter_columns.rs",
    "adapter_transform.rs",
    "aggregator.rs",
    "bindings.rs",
    "columns.rs",
    "compensated.rs",
    "error.rs",
    "info.rs",
    "lib.rs",
    "log.rs",
    "testing.rs",
    "transform.rs",
);

/// `sdk/python/eddy_sdk/`: the Python SDK package.
pub const PYTHON_SDK: Files = files!("sdk/python/eddy_sdk":
    "__init__.py",
    "_aggregate.py",
    "_columns.py",
    "_errors.py",
    "_log.py",
    "_transform.py",
    "_wit.py",
    "build.py",
    "testing.py",
);

/// `sdk/python/`'s project files, beside the package.
pub const PYTHON_SDK_PROJECT: Files = files!("sdk/python": "pyproject.toml", "README.md");

/// `sdk/python/template/aggregator/`.
pub const PYTHON_AGGREGATOR: Files = files!("sdk/python/template/aggregator":
    ".gitignore", "README.md", "app.py", "build.sh", "conftest.py", "requirements-dev.txt",
    "test_app.py",
);

/// `sdk/python/template/map/`.
pub const PYTHON_MAP: Files = files!("sdk/python/template/map":
    ".gitignore", "README.md", "app.py", "build.sh", "conftest.py", "requirements-dev.txt",
    "test_app.py",
);

/// `sdk/python/template/filter/`.
pub const PYTHON_FILTER: Files = files!("sdk/python/template/filter":
    ".gitignore", "README.md", "app.py", "build.sh", "conftest.py", "requirements-dev.txt",
    "test_app.py",
);

/// `sdk/js/`: the JavaScript SDK package (its `node_modules` and tests left out).
pub const JS_SDK: Files = files!("sdk/js":
    "README.md",
    "bin/eddy-js-build.mjs",
    "package-lock.json",
    "package.json",
    "src/aggregate.js",
    "src/columns.js",
    "src/errors.js",
    "src/index.js",
    "src/log.js",
    "src/testing.js",
    "src/transform.js",
);

/// `sdk/js/template/aggregator/`.
pub const JS_AGGREGATOR: Files = files!("sdk/js/template/aggregator":
    ".gitignore", "README.md", "app.js", "package.json", "test/app.test.js",
);

/// `sdk/js/template/map/`.
pub const JS_MAP: Files = files!("sdk/js/template/map":
    ".gitignore", "README.md", "app.js", "package.json", "test/app.test.js",
);

/// `sdk/js/template/filter/`.
pub const JS_FILTER: Files = files!("sdk/js/template/filter":
    ".gitignore", "README.md", "app.js", "package.json", "test/app.test.js",
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every file under `dir` (relative paths), leaving out `skip`ped names anywhere.
    fn on_disk(dir: &str, skip: &[&str]) -> BTreeSet<String> {
        fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeSet<String>) {
            let entries = std::fs::read_dir(dir).expect("readable folder");
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if skip.contains(&name.as_str()) {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, skip, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.insert(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        let mut out = BTreeSet::new();
        walk(&root, &root, skip, &mut out);
        out
    }

    fn listed(files: Files) -> BTreeSet<String> {
        files.iter().map(|(p, _)| p.to_string()).collect()
    }

    const CACHES: [&str; 3] = ["__pycache__", ".pytest_cache", "node_modules"];

    #[test]
    fn every_sdk_file_is_embedded() {
        assert_eq!(listed(WIT), on_disk("wit", &[]));
        assert_eq!(listed(RUST_SDK), on_disk("sdk/src", &[]));
        assert_eq!(listed(PYTHON_SDK), on_disk("sdk/python/eddy_sdk", &CACHES));
        let skip = [&CACHES[..], &["test", "template", ".gitignore"]].concat();
        assert_eq!(listed(JS_SDK), on_disk("sdk/js", &skip));
    }

    #[test]
    fn every_template_file_is_embedded() {
        // `.eddy-sdk` is written by the scaffold, not copied.
        let skip = [&CACHES[..], &[".eddy-sdk"]].concat();
        for (kind, files) in [
            ("aggregator", PYTHON_AGGREGATOR),
            ("map", PYTHON_MAP),
            ("filter", PYTHON_FILTER),
        ] {
            let dir = format!("sdk/python/template/{kind}");
            assert_eq!(listed(files), on_disk(&dir, &skip), "{dir}");
        }
        for (kind, files) in [
            ("aggregator", JS_AGGREGATOR),
            ("map", JS_MAP),
            ("filter", JS_FILTER),
        ] {
            let dir = format!("sdk/js/template/{kind}");
            assert_eq!(listed(files), on_disk(&dir, &skip), "{dir}");
        }
    }
}
