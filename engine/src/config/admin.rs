//! The admin API: where uploaded plugins are kept and who may change them.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Admin API settings (served on `http.listen` under `/v1`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token that uploads, activations, rollbacks and deletions must carry
    /// (`Authorization: Bearer <token>`); set it from the environment (`EDDY_ADMIN__TOKEN`).
    /// Unset: the API is read-only.
    pub token: Option<String>,
    /// A file holding the token (e.g. a Kubernetes Secret mounted as a file), read at start;
    /// surrounding whitespace is ignored. Set this or `token`, not both.
    pub token_file: Option<PathBuf>,
    /// Folder of the plugin registry (uploaded components and which version each stage runs).
    pub registry_dir: PathBuf,
    /// Largest component accepted, bytes. The default, 32 MiB, takes a Python plugin (about
    /// 19 MB: componentize-py puts CPython in every component) and a JavaScript one (12 MB).
    pub max_upload_bytes: usize,
    /// Requests with a missing or wrong token a client address may make in a minute; beyond
    /// that every change it asks for is answered 429 until its minute is over.
    pub failed_auth_per_minute: u32,
    /// Uploads read and validated at the same time; more are answered 503 (a Python
    /// component takes about 20 MB to hold and far more to compile).
    pub max_concurrent_uploads: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            registry_dir: PathBuf::from("eddy-registry"),
            max_upload_bytes: 32 << 20,
            failed_auth_per_minute: 10,
            max_concurrent_uploads: 2,
        }
    }
}
