//! The schema registry that Avro records name their schemas in (Confluent's API, as Apicurio
//! Registry and Redpanda serve it too).

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretUrl;

/// Schema registry settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaRegistryConfig {
    /// Base URL of the registry's Confluent-compatible API, e.g. `http://registry:8081` (for
    /// Apicurio: `http://registry:8080/apis/ccompat/v7`); unset: no registry.
    pub url: Option<SecretUrl>,
    /// User for HTTP basic authentication.
    pub username: Option<String>,
    /// Password for HTTP basic authentication (better given as
    /// `EDDY_SCHEMA_REGISTRY__PASSWORD`).
    pub password: Option<Secret>,
    /// PEM file of the certificate authority an `https` registry is checked against (unset:
    /// the system's).
    pub ca_file: Option<PathBuf>,
    /// How long one request may take.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub request_timeout: Duration,
    /// How long an unreachable registry is retried (with backoff; meanwhile no input is taken
    /// and the pipeline is not ready) before a record whose schema is not cached yet is
    /// dead-lettered. Keep it under the consumer's `max.poll.interval.ms` (300 s).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub retry_timeout: Duration,
}

/// A password: shown (Debug) as `***`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself: for authenticating only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Default for SchemaRegistryConfig {
    fn default() -> Self {
        Self {
            url: None,
            username: None,
            password: None,
            ca_file: None,
            request_timeout: Duration::from_secs(5),
            retry_timeout: Duration::from_secs(60),
        }
    }
}

impl super::Config {
    /// Checks `decode.format` against the source, the schema and the registry.
    pub(super) fn validate_format(&self) -> Result<(), super::ConfigError> {
        use super::{RecordFormat, SinkConfig, SinkFormat, SourceConfig, invalid};
        if let SinkConfig::Kafka {
            format: SinkFormat::Avro,
            ..
        } = &self.sink
            && self.schema_registry.url.is_none()
        {
            return Err(invalid(
                "sink.format",
                "avro registers the results' schema: set schema_registry.url",
            ));
        }
        let registry = &self.schema_registry;
        if let Some(url) = &registry.url {
            let text = url.expose();
            if !(text.starts_with("http://") || text.starts_with("https://")) {
                return Err(invalid(
                    "schema_registry.url",
                    format!("`{url}` is not an http:// or https:// URL"),
                ));
            }
            if registry.ca_file.is_some() && !text.starts_with("https://") {
                return Err(invalid(
                    "schema_registry.ca_file",
                    "is for an https:// registry",
                ));
            }
        }
        if registry.password.is_some() && registry.username.is_none() {
            return Err(invalid(
                "schema_registry.password",
                "needs schema_registry.username",
            ));
        }
        if registry.request_timeout.is_zero() {
            return Err(invalid(
                "schema_registry.request_timeout",
                "must be more than 0",
            ));
        }
        let format = match self.decode.format {
            RecordFormat::Json => {
                if self.decode.schema.is_some() {
                    return Err(invalid(
                        "decode.schema",
                        "is for decode.format avro or protobuf (records here are JSON)",
                    ));
                }
                if self.decode.message.is_some() {
                    return Err(invalid("decode.message", "is for decode.format protobuf"));
                }
                return Ok(());
            }
            RecordFormat::Avro => "avro",
            RecordFormat::Protobuf => "protobuf",
        };
        if self.decode.format == RecordFormat::Avro && self.decode.message.is_some() {
            return Err(invalid("decode.message", "is for decode.format protobuf"));
        }
        if self.decode.message.is_some() && self.decode.schema.is_none() {
            return Err(invalid(
                "decode.message",
                "names a message of decode.schema (with a registry, each record names its own)",
            ));
        }
        if !matches!(self.source, SourceConfig::Kafka { .. }) {
            return Err(invalid(
                "decode.format",
                format!(
                    "{format} reads the records of a Kafka topic (source.type: kafka); stdin, files and the generator give JSON lines"
                ),
            ));
        }
        if self.decode.schema.is_none() && registry.url.is_none() {
            return Err(invalid(
                "decode.schema",
                format!(
                    "{format} needs the records' schema: a file here, or schema_registry.url for records in the registry's wire format"
                ),
            ));
        }
        Ok(())
    }
}
