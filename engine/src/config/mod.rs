//! Pipeline configuration: YAML file, environment overrides (`EDDY_` prefix, `__` between
//! levels, e.g. `EDDY_WINDOW__SIZE=5s`), and validation that names the offending key.

use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Yaml};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod admin;
mod http;
mod io;
mod kafka;
mod log;
mod otel;
mod plugins;
mod reference;
mod registry;
mod stage;
mod state;
#[cfg(test)]
mod tests;
mod time;
mod validate;

use validate::{check_plugin, check_pointer};

pub use admin::AdminConfig;
pub use http::{HttpConfig, TlsConfig};
pub use io::{
    DecodeConfig, FileMode, PostgresSink, RecordFormat, SecretUrl, SideOutputConfig, SinkConfig,
    SinkFormat, SourceConfig, TimeFormat, redact_password,
};
pub use kafka::{
    Compression, KafkaConfig, OnReset, RebalanceProtocol, StartPosition, StaticMembership,
    property_name, property_value,
};
pub use log::{LogConfig, LogFormat};
pub use otel::OtelConfig;
pub use plugins::{AggregateConfig, PluginsConfig, StageConfig, TrapPolicy, default_cache_dir};
pub use reference::reference;
pub use registry::{SchemaRegistryConfig, Secret};
pub use stage::StageId;
pub use state::{BackendKind, Delivery, StateConfig};
pub use time::{TriggerConfig, WatermarkConfig, WindowConfig};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or a value has the wrong type; the message names the key.
    #[error("{0}")]
    Load(String),
    /// A value is out of range; `key` is its dotted path.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// Dotted path of the key, e.g. `window.size`.
        key: String,
        /// What is allowed.
        message: String,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        let messages: Vec<String> = error
            .into_iter()
            .map(|e| {
                let key = e.path.join(".");
                let kind = e.kind.to_string();
                if key.is_empty() {
                    kind
                } else {
                    format!("config key `{key}`: {kind}")
                }
            })
            .collect();
        ConfigError::Load(messages.join("; "))
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A whole pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where events come from.
    pub source: SourceConfig,
    /// How a record becomes an event.
    pub decode: DecodeConfig,
    /// The schema registry of Avro records.
    pub schema_registry: SchemaRegistryConfig,
    /// Map and filter plugins run over every batch before decoding, in order.
    pub transforms: Vec<StageConfig>,
    /// Event-time watermarks.
    pub watermark: WatermarkConfig,
    /// How events are grouped into windows.
    pub window: WindowConfig,
    /// How long after its end a window still accepts events (each emits a `late_update`);
    /// later events go to the `late` output.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "reference::DurationText")]
    pub allowed_lateness: Duration,
    /// When results are emitted.
    pub trigger: TriggerConfig,
    /// The aggregates computed per key and window; each becomes a field of the result.
    pub aggregates: Vec<AggregateConfig>,
    /// Where results go.
    pub sink: SinkConfig,
    /// Where events that arrive after their window closed go.
    pub late: SideOutputConfig,
    /// Where records that cannot be decoded go.
    pub dead_letter: SideOutputConfig,
    /// Plugin runtime settings.
    pub plugins: PluginsConfig,
    /// Events per batch handed to plugins.
    pub batch_size: usize,
    /// How long a batch of a streaming source (stdin, a file still being written, Kafka)
    /// waits for more records after its first before it is processed anyway.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "reference::DurationText")]
    pub batch_linger: Duration,
    /// Threads that decode and window a round's partition batches at once (Kafka sources,
    /// one operator per partition; each partition's batch goes to one worker, chosen by the
    /// partition's place among those owned). `0`: one per core. `1`: everything on the loop's
    /// own thread. Reading, writing, checkpoints, rebalances and swaps stay on the loop.
    pub workers: usize,
    /// Kafka settings, used when the source, sink or a side output is a Kafka topic.
    pub kafka: KafkaConfig,
    /// The HTTP endpoint (health probes).
    pub http: HttpConfig,
    /// Checkpoints and the delivery guarantee.
    pub state: StateConfig,
    /// The admin API (plugin registry, activation, rollback).
    pub admin: AdminConfig,
    /// Logging.
    pub log: LogConfig,
    /// Traces (OpenTelemetry over OTLP); off by default.
    pub otel: OtelConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: SourceConfig::Stdin,
            decode: DecodeConfig::default(),
            schema_registry: SchemaRegistryConfig::default(),
            transforms: Vec::new(),
            watermark: WatermarkConfig::default(),
            window: WindowConfig::default(),
            allowed_lateness: Duration::ZERO,
            trigger: TriggerConfig::EventTime,
            aggregates: vec![AggregateConfig {
                name: "count".into(),
                plugin: "count".into(),
                field: None,
                config: serde_json::Value::Object(Default::default()),
            }],
            sink: SinkConfig::Stdout,
            late: SideOutputConfig::Stderr,
            dead_letter: SideOutputConfig::Stderr,
            plugins: PluginsConfig::default(),
            batch_size: 1024,
            batch_linger: Duration::from_millis(50),
            workers: 0,
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            state: StateConfig::default(),
            admin: AdminConfig::default(),
            log: LogConfig::default(),
            otel: OtelConfig::default(),
        }
    }
}

/// The most `workers` a pipeline may have.
pub const MAX_WORKERS: usize = 256;

/// Result fields the host writes itself; aggregates may not use these names.
pub const RESERVED_FIELDS: [&str; 4] = ["key", "window_start", "window_end", "emit"];

impl Config {
    /// The number of workers `workers` asks for: itself, or one per core for `0`.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        }
    }

    /// Loads `path` (YAML), then `EDDY_*` environment variables over it (except `EDDY_LOG`,
    /// the log filter), fills in defaults and validates the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {} does not exist",
                path.display()
            )));
        }
        Self::from_figment(Figment::from(Yaml::file(path)))
    }

    /// Loads a YAML document given as text, with environment overrides, and validates it.
    pub fn from_yaml(yaml: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Yaml::string(yaml)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let mut config: Config = figment
            .merge(Env::prefixed("EDDY_").ignore(&["log"]).split("__"))
            .extract()?;
        config.read_token_file()?;
        config.validate()?;
        Ok(config)
    }

    /// Takes `admin.token` from `admin.token_file` when that is set.
    fn read_token_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = &self.admin.token_file else {
            return Ok(());
        };
        if self.admin.token.is_some() {
            return Err(invalid(
                "admin.token_file",
                "set admin.token or admin.token_file, not both",
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            invalid(
                "admin.token_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        self.admin.token = Some(text.trim().to_string());
        Ok(())
    }

    /// Checks values that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return Err(invalid("batch_size", "must be between 1 and 1048576"));
        }
        if self.batch_linger > Duration::from_secs(60) {
            return Err(invalid("batch_linger", "must be at most 60s"));
        }
        if self.workers > MAX_WORKERS {
            return Err(invalid(
                "workers",
                format!("must be at most {MAX_WORKERS} (0: one per core)"),
            ));
        }
        check_pointer("decode.key", &self.decode.key)?;
        check_pointer("decode.time", &self.decode.time)?;
        self.validate_window()?;
        self.validate_trigger()?;
        if self.aggregates.is_empty() {
            return Err(invalid("aggregates", "list at least one aggregate"));
        }
        for (i, aggregate) in self.aggregates.iter().enumerate() {
            let key = format!("aggregates.{i}");
            if aggregate.name.is_empty() {
                return Err(invalid(format!("{key}.name"), "must not be empty"));
            }
            if RESERVED_FIELDS.contains(&aggregate.name.as_str()) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!(
                        "`{}` is reserved for the host's own result fields",
                        aggregate.name
                    ),
                ));
            }
            if self.aggregates[..i]
                .iter()
                .any(|a| a.name == aggregate.name)
            {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("`{}` is used twice", aggregate.name),
                ));
            }
            check_plugin(&format!("{key}.plugin"), &aggregate.plugin)?;
            if let Some(field) = &aggregate.field {
                check_pointer(&format!("{key}.field"), field)?;
            }
            if !aggregate.config.is_object() {
                return Err(invalid(format!("{key}.config"), "must be a mapping"));
            }
        }
        for (i, stage) in self.transforms.iter().enumerate() {
            check_plugin(&format!("transforms.{i}.plugin"), &stage.plugin)?;
            if !stage.config.is_object() {
                return Err(invalid(
                    format!("transforms.{i}.config"),
                    "must be a mapping",
                ));
            }
        }
        if self.plugins.memory_limit_bytes < 1 << 20 {
            return Err(invalid(
                "plugins.memory_limit_bytes",
                "must be at least 1048576",
            ));
        }
        if self.plugins.call_timeout.is_zero() {
            return Err(invalid("plugins.call_timeout", "must be more than 0"));
        }
        self.validate_kafka()?;
        self.validate_format()?;
        self.validate_postgres()?;
        self.validate_state()?;
        self.otel.validate()?;
        if let SourceConfig::Generator(generator) = &self.source {
            generator
                .validate()
                .map_err(|(key, message)| invalid(format!("source.{key}"), message))?;
        }
        Ok(())
    }
}

impl Config {
    /// The Kafka topics the config names, with their keys.
    pub fn kafka_topics(&self) -> Vec<(&'static str, &str)> {
        let mut topics = Vec::new();
        if let SourceConfig::Kafka { topic } = &self.source {
            topics.push(("source.topic", topic.as_str()));
        }
        if let SinkConfig::Kafka { topic, .. } = &self.sink {
            topics.push(("sink.topic", topic.as_str()));
        }
        if let SideOutputConfig::Kafka { topic } = &self.late {
            topics.push(("late.topic", topic.as_str()));
        }
        if let SideOutputConfig::Kafka { topic } = &self.dead_letter {
            topics.push(("dead_letter.topic", topic.as_str()));
        }
        topics
    }
}

impl Config {
    /// The Kafka transactional id for exactly-once delivery.
    pub fn transactional_id(&self) -> String {
        self.state
            .transactional_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.kafka.group_id, replica_name()))
    }
}

/// This replica's name: `HOSTNAME` (the pod's name in a StatefulSet), or `eddy`.
pub fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "eddy".into())
}
