//! A JavaScript plugin: the template of its kind (`sdk/js/template/<kind>/`) depending on
//! `@eddy/plugin-sdk` at `file:./eddy-sdk` (the SDK package written there; `npm install`
//! brings its pinned build tools) and the contract in `wit/`, where `eddy-js-build` looks for
//! it.

use std::path::Path;

use super::{Kind, ScaffoldError, embedded, write, write_all, write_wit};

/// How the templates name the SDK (the repository's `sdk/js`, two folders up).
const TEMPLATE_SDK: &str = "\"@eddy/plugin-sdk\": \"file:../..\"";
/// How a generated project names it.
const PROJECT_SDK: &str = "\"@eddy/plugin-sdk\": \"file:./eddy-sdk\"";

/// Writes the JavaScript project `name` of `kind` at `root`.
pub(super) fn write_project(root: &Path, name: &str, kind: Kind) -> Result<(), ScaffoldError> {
    let template = match kind {
        Kind::Aggregator => embedded::JS_AGGREGATOR,
        Kind::Map => embedded::JS_MAP,
        Kind::Filter => embedded::JS_FILTER,
    };
    for (rel, text) in template {
        let mut text = text.replace("__NAME__", name);
        if *rel == "package.json" {
            if !text.contains(TEMPLATE_SDK) {
                return Err(ScaffoldError::Manifest(format!(
                    "the {kind:?} template's package.json does not name {TEMPLATE_SDK}"
                )));
            }
            text = text.replace(TEMPLATE_SDK, PROJECT_SDK);
        }
        write(root, rel, &text)?;
    }
    write_all(root, "eddy-sdk", embedded::JS_SDK, None)?;
    write_wit(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_names_the_sdk_as_expected() {
        for files in [
            embedded::JS_AGGREGATOR,
            embedded::JS_MAP,
            embedded::JS_FILTER,
        ] {
            let package = files
                .iter()
                .find(|(rel, _)| *rel == "package.json")
                .expect("a package.json");
            assert!(package.1.contains(TEMPLATE_SDK));
        }
    }
}
