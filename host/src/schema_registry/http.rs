//! The registry's HTTP API: one request per call, no retries (the caller retries).

use std::sync::Arc;

use base64::Engine;
use eddy_engine::config::SchemaRegistryConfig;
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// Why the registry could not be asked, or cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `schema_registry.ca_file` cannot be read or is not PEM.
    #[error("schema_registry.ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No answer (connection, TLS, timeout).
    #[error("{url}: {message}")]
    Transport {
        /// The URL called (no credentials in it).
        url: String,
        /// What failed.
        message: String,
    },
    /// An answer that is an error of the registry or of the credentials.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message.
        message: String,
    },
}

/// What the registry says of a schema id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A schema: its type (`AVRO`, `PROTOBUF`, `JSON`) and its text.
    Schema(String, String),
    /// The registry does not know the id; its message.
    NotFound(String),
}

/// The HTTP client of one registry.
#[derive(Debug)]
pub struct RegistryHttp {
    agent: Agent,
    base: String,
    authorization: Option<String>,
}

impl RegistryHttp {
    /// A client of `config.url` (none when unset).
    pub fn new(config: &SchemaRegistryConfig) -> Result<Option<Self>, RegistryError> {
        let Some(url) = &config.url else {
            return Ok(None);
        };
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.request_timeout));
        if let Some(path) = &config.ca_file {
            let failed = |message: String| RegistryError::CaFile {
                path: path.display().to_string(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|e| failed(e.to_string()))?
                .to_owned();
            builder = builder.tls_config(
                TlsConfig::builder()
                    .provider(TlsProvider::NativeTls)
                    .root_certs(RootCerts::Specific(Arc::new(vec![certificate])))
                    .build(),
            );
        } else {
            builder = builder.tls_config(
                TlsConfig::builder()
                    .provider(TlsProvider::NativeTls)
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            );
        }
        let authorization = config.username.as_ref().map(|user| {
            let password = config.password.as_ref().map_or("", |p| p.expose());
            let pair = format!("{user}:{password}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        Ok(Some(Self {
            agent: builder.build().into(),
            base: url.expose().trim_end_matches('/').to_string(),
            authorization,
        }))
    }

    /// The registry's URL, password hidden.
    pub fn url(&self) -> String {
        eddy_engine::config::redact_password(&self.base)
    }

    /// `GET path`: the status and body.
    fn get(&self, path: &str) -> Result<(u16, String), RegistryError> {
        let url = format!("{}{path}", self.base);
        let shown = format!("{}{path}", self.url());
        let mut request = self.agent.get(&url);
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let transport = |e: ureq::Error| RegistryError::Transport {
            url: shown.clone(),
            message: e.to_string(),
        };
        let mut response = request.call().map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(transport)?;
        Ok((status, body))
    }

    /// Registers the Avro schema `schema` under `subject` (`POST
    /// /subjects/{subject}/versions`; the same schema again is not a new version): its id. A
    /// schema the registry refuses (incompatible with the subject's latest, or invalid) is an
    /// error with the registry's message.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let path = format!("/subjects/{subject}/versions");
        let url = format!("{}{path}", self.base);
        let shown = format!("{}{path}", self.url());
        let mut request = self
            .agent
            .post(&url)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json");
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let transport = |e: ureq::Error| RegistryError::Transport {
            url: shown.clone(),
            message: e.to_string(),
        };
        let body = serde_json::json!({ "schema": schema }).to_string();
        let mut response = request.send(body.as_bytes()).map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(transport)?;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        match (
            status,
            json["id"].as_u64().and_then(|id| u32::try_from(id).ok()),
        ) {
            (200, Some(id)) => Ok(id),
            _ => Err(RegistryError::Status {
                url: shown,
                status,
                message: json["message"]
                    .as_str()
                    .map_or_else(|| shorten(&body), str::to_string),
            }),
        }
    }

    /// The schema with `id` (`GET /schemas/ids/{id}`).
    pub fn schema(&self, id: u32) -> Result<Fetched, RegistryError> {
        let path = format!("/schemas/ids/{id}");
        let (status, body) = self.get(&path)?;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let message = json["message"]
            .as_str()
            .map_or_else(|| shorten(&body), str::to_string);
        match status {
            200 => match (json["schema"].as_str(), json["schemaType"].as_str()) {
                (Some(text), kind) => Ok(Fetched::Schema(
                    kind.unwrap_or("AVRO").to_string(),
                    text.to_string(),
                )),
                (None, _) => Err(RegistryError::Status {
                    url: format!("{}{path}", self.url()),
                    status,
                    message: format!("no schema in the answer: {}", shorten(&body)),
                }),
            },
            404 => Ok(Fetched::NotFound(format!(
                "not in the registry ({message})"
            ))),
            // Credentials, throttling and timeouts are the registry's state, not the id's.
            400..=499 if ![401, 403, 408, 429].contains(&status) => Ok(Fetched::NotFound(format!(
                "refused by the registry ({status}: {message})"
            ))),
            _ => Err(RegistryError::Status {
                url: format!("{}{path}", self.url()),
                status,
                message,
            }),
        }
    }
}

/// A body shortened for a message.
fn shorten(body: &str) -> String {
    match body.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_string(),
    }
}
