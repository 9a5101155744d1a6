//! What the admin API's activations leave behind: per stage, the registry versions activated
//! (oldest first, the last runs) with the configuration each ran with, kept beside the
//! registry so a restart runs the same versions the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use eddy_engine::config::StageId;

/// One activation of a registry version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "KeptForm")]
pub struct Kept {
    /// The registry version.
    pub digest: String,
    /// The configuration it ran with; `None` in files written before activations could carry
    /// one (the stage's configuration then stays as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

/// A kept activation as written: a digest alone (older files) or with its configuration.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeptForm {
    Digest(String),
    Full {
        digest: String,
        #[serde(default)]
        config: Option<Value>,
    },
}

impl From<KeptForm> for Kept {
    fn from(form: KeptForm) -> Self {
        match form {
            KeptForm::Digest(digest) => Self {
                digest,
                config: None,
            },
            KeptForm::Full { digest, config } => Self { digest, config },
        }
    }
}

/// Per stage, the versions activated, oldest first (the last runs).
pub type Activations = BTreeMap<String, Vec<Kept>>;

/// What a stage runs: where its plugin is loaded from and its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlugin {
    /// The stage.
    pub stage: StageId,
    /// A built-in name or a `.wasm` path.
    pub plugin: String,
    /// The plugin's configuration.
    pub config: Value,
}

/// Where a stage goes: a plugin to load and, when known, the configuration to run it with.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// A built-in name or a `.wasm` path.
    pub source: String,
    /// The configuration (`None`: keep the stage's).
    pub config: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::{Activations, Kept};

    #[test]
    fn files_of_digests_alone_still_read_and_configs_are_kept() {
        let old: Activations =
            serde_json::from_str(r#"{"aggregates.s": ["aaa", "bbb"]}"#).expect("old form");
        assert_eq!(
            old["aggregates.s"][1],
            Kept {
                digest: "bbb".into(),
                config: None
            }
        );
        let new: Activations = serde_json::from_str(
            r#"{"aggregates.s": [{"digest": "aaa", "config": {"q": [0.5]}}]}"#,
        )
        .expect("new form");
        let again: Activations =
            serde_json::from_slice(&serde_json::to_vec(&new).expect("written")).expect("read");
        assert_eq!(again, new);
        assert_eq!(
            new["aggregates.s"][0].config,
            Some(serde_json::json!({"q": [0.5]}))
        );
    }
}
