//! A thin client of the admin API, for the `eddy plugin list | push | activate | rollback |
//! shadow | promote | stop-shadow` commands.

use std::path::Path;

use ureq::Agent;

/// Why a call to the admin API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host could not be reached or the exchange broke.
    #[error("admin API at {url}: {message}")]
    Transport {
        /// The URL called.
        url: String,
        /// What happened.
        message: String,
    },
    /// The host answered with an error.
    #[error("admin API answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The host's message.
        message: String,
    },
    /// The plugin file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A host refuses an upload over its `admin.max_upload_bytes` (413) before reading the body and
/// closes the connection, so a large upload usually ends in a broken pipe instead of the 413:
/// say what that most likely means.
fn cut_off(error: ClientError, size: usize) -> ClientError {
    match error {
        ClientError::Transport { url, message }
            if ["Broken pipe", "Connection reset", "connection reset"]
                .iter()
                .any(|cut| message.contains(cut)) =>
        {
            ClientError::Transport {
                url,
                message: format!(
                    "{message}: the host closed the connection during the upload of {size} bytes; \
                     an upload over its admin.max_upload_bytes is refused before it is read"
                ),
            }
        }
        other => other,
    }
}

/// A client of one host's admin API.
pub struct Client {
    agent: Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:9090`), sending `token` with
    /// changes.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    fn finish(
        &self,
        url: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, ClientError> {
        let mut response = result.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(body);
            Err(ClientError::Refused { status, message })
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token.as_deref().unwrap_or_default())
    }

    /// `GET path`: the JSON body.
    pub fn get(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let result = self.agent.get(&url).call();
        self.finish(&url, result)
    }

    /// Uploads the component at `file`: the stored version as JSON.
    pub fn push(&self, file: &Path) -> Result<String, ClientError> {
        let bytes = std::fs::read(file).map_err(|source| ClientError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let url = format!("{}/v1/plugins", self.base);
        let result = self
            .agent
            .post(&url)
            .header("Authorization", &self.bearer())
            .header("Content-Type", "application/wasm")
            .send(&bytes[..]);
        match self.finish(&url, result) {
            // The host may have refused the token before reading the body and closed the
            // connection while it was still being sent: ask it, without a body.
            Err(error @ ClientError::Transport { .. }) => Err(self
                .token_refusal(&url)
                .unwrap_or_else(|| cut_off(error, bytes.len()))),
            other => other,
        }
    }

    /// The host's 401 for this client's token at `url`, if it refuses it (asked with an empty
    /// body, which a host that takes the token refuses as no component instead).
    fn token_refusal(&self, url: &str) -> Option<ClientError> {
        let result = self
            .agent
            .post(url)
            .header("Authorization", &self.bearer())
            .send_empty();
        match self.finish(url, result) {
            Err(refused @ ClientError::Refused { status: 401, .. }) => Some(refused),
            _ => None,
        }
    }

    /// Asks stage `stage` of pipeline `main` to run version `digest`, configured by `config`
    /// when given.
    pub fn activate(
        &self,
        stage: &str,
        digest: &str,
        config: Option<serde_json::Value>,
    ) -> Result<String, ClientError> {
        self.post_version(stage, "activate", digest, config)
    }

    /// Asks stage `stage` of pipeline `main` to run version `digest` beside its live one (a
    /// shadow run), configured by `config` when given.
    pub fn shadow(
        &self,
        stage: &str,
        digest: &str,
        config: Option<serde_json::Value>,
    ) -> Result<String, ClientError> {
        self.post_version(stage, "shadow", digest, config)
    }

    /// Asks stage `stage` of pipeline `main` to activate the version its shadow run runs.
    pub fn promote(&self, stage: &str) -> Result<String, ClientError> {
        self.post_empty(&format!("/v1/pipelines/main/stages/{stage}/shadow/promote"))
    }

    /// Asks stage `stage` of pipeline `main` to end its shadow run.
    pub fn stop_shadow(&self, stage: &str) -> Result<String, ClientError> {
        self.delete_path(&format!("/v1/pipelines/main/stages/{stage}/shadow"))
    }

    /// Posts `{"digest", "config"}` to stage `stage`'s `action`.
    fn post_version(
        &self,
        stage: &str,
        action: &str,
        digest: &str,
        config: Option<serde_json::Value>,
    ) -> Result<String, ClientError> {
        let url = format!("{}/v1/pipelines/main/stages/{stage}/{action}", self.base);
        let mut body = serde_json::json!({ "digest": digest });
        if let Some(config) = config {
            body["config"] = config;
        }
        let body = body.to_string();
        let result = self
            .agent
            .post(&url)
            .header("Authorization", &self.bearer())
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        self.finish(&url, result)
    }

    /// Asks stage `stage` of pipeline `main` to go back to its previous version.
    pub fn rollback(&self, stage: &str) -> Result<String, ClientError> {
        self.post_empty(&format!("/v1/pipelines/main/stages/{stage}/rollback"))
    }

    /// Deletes version `digest` (refused while a stage runs it).
    pub fn delete(&self, digest: &str) -> Result<String, ClientError> {
        self.delete_path(&format!("/v1/plugins/{digest}"))
    }

    /// `POST path` without a body, with the token.
    fn post_empty(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let result = self
            .agent
            .post(&url)
            .header("Authorization", &self.bearer())
            .send_empty();
        self.finish(&url, result)
    }

    /// `DELETE path`, with the token.
    fn delete_path(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.base);
        let result = self
            .agent
            .delete(&url)
            .header("Authorization", &self.bearer())
            .call();
        self.finish(&url, result)
    }
}
