//! A Python plugin: the template of its kind (`sdk/python/template/<kind>/`), the `eddy_sdk`
//! package in `eddy-sdk/` (named by `.eddy-sdk`, which the template's `conftest.py` and
//! `build.sh` read) and the contract in `wit/`, where `eddy_sdk.build` looks for it.

use std::path::Path;

use super::{Kind, ScaffoldError, embedded, make_executable, write, write_all, write_wit};

/// Writes the Python project `name` of `kind` at `root`.
pub(super) fn write_project(root: &Path, name: &str, kind: Kind) -> Result<(), ScaffoldError> {
    let template = match kind {
        Kind::Aggregator => embedded::PYTHON_AGGREGATOR,
        Kind::Map => embedded::PYTHON_MAP,
        Kind::Filter => embedded::PYTHON_FILTER,
    };
    write_all(root, "", template, Some(name))?;
    make_executable(root, "build.sh")?;
    write(root, ".eddy-sdk", "eddy-sdk\n")?;
    write_all(root, "eddy-sdk/eddy_sdk", embedded::PYTHON_SDK, None)?;
    write_all(root, "eddy-sdk", embedded::PYTHON_SDK_PROJECT, None)?;
    write_wit(root)
}
