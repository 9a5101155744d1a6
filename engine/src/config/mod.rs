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
mod plugins;
mod reference;
mod stage;
mod state;
#[cfg(test)]
mod tests;
mod time;

pub use admin::AdminConfig;
pub use http::HttpConfig;
pub use io::{
    DecodeConfig, FileMode, PostgresSink, SecretUrl, SideOutputConfig, SinkConfig, SourceConfig,
    TimeFormat, redact_password,
};
pub use kafka::{
    Compression, KafkaConfig, OnReset, StartPosition, StaticMembership, property_name,
    property_value,
};
pub use log::{LogConfig, LogFormat};
pub use plugins::{AggregateConfig, PluginsConfig, StageConfig, TrapPolicy, default_cache_dir};
pub use reference::reference;
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: SourceConfig::Stdin,
            decode: DecodeConfig::default(),
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
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            state: StateConfig::default(),
            admin: AdminConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// Result fields the host writes itself; aggregates may not use these names.
pub const RESERVED_FIELDS: [&str; 4] = ["key", "window_start", "window_end", "emit"];

impl Config {
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
        self.validate_postgres()?;
        self.validate_state()?;
        if let SourceConfig::Generator(generator) = &self.source {
            generator
                .validate()
                .map_err(|(key, message)| invalid(format!("source.{key}"), message))?;
        }
        Ok(())
    }
}

impl Config {
    fn validate_window(&self) -> Result<(), ConfigError> {
        let at_least_1ms = |key: &str, d: &Duration| {
            if d.as_millis() == 0 {
                Err(invalid(key, "must be at least 1ms"))
            } else {
                Ok(())
            }
        };
        match &self.window {
            WindowConfig::Tumbling { size, offset } => {
                at_least_1ms("window.size", size)?;
                if offset >= size {
                    return Err(invalid("window.offset", "must be smaller than window.size"));
                }
            }
            WindowConfig::Sliding {
                size,
                slide,
                offset,
            } => {
                at_least_1ms("window.size", size)?;
                at_least_1ms("window.slide", slide)?;
                if slide > size {
                    return Err(invalid(
                        "window.slide",
                        "must not be larger than window.size",
                    ));
                }
                if size.as_millis() / slide.as_millis() > 1000 {
                    return Err(invalid(
                        "window.slide",
                        "gives more than 1000 windows per event",
                    ));
                }
                if offset >= slide {
                    return Err(invalid(
                        "window.offset",
                        "must be smaller than window.slide",
                    ));
                }
            }
            WindowConfig::Session { gap } => at_least_1ms("window.gap", gap)?,
        }
        Ok(())
    }

    fn validate_trigger(&self) -> Result<(), ConfigError> {
        let (count, interval) = match &self.trigger {
            TriggerConfig::EventTime => (None, None),
            TriggerConfig::ProcessingTime { interval } => (None, Some(interval)),
            TriggerConfig::Count { count } => (Some(count), None),
            TriggerConfig::CountOrTime { count, interval } => (Some(count), Some(interval)),
        };
        if count == Some(&0) {
            return Err(invalid("trigger.count", "must be at least 1"));
        }
        if interval.is_some_and(|i| i.as_millis() == 0) {
            return Err(invalid("trigger.interval", "must be at least 1ms"));
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
        if let SinkConfig::Kafka { topic } = &self.sink {
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

    fn validate_postgres(&self) -> Result<(), ConfigError> {
        let table_name = |key: &str, table: &str| -> Result<(), ConfigError> {
            let parts: Vec<&str> = table.split('.').collect();
            let identifier = |part: &&str| {
                !part.is_empty()
                    && part.len() <= 63
                    && !part.starts_with(|c: char| c.is_ascii_digit())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if parts.len() > 2 || !parts.iter().all(identifier) {
                return Err(invalid(
                    key,
                    format!(
                        "`{table}` is not a table name (letters, digits and _, at most 63, optionally schema.table)"
                    ),
                ));
            }
            Ok(())
        };
        let sides = [("late", &self.late), ("dead_letter", &self.dead_letter)];
        let SinkConfig::Postgres(sink) = &self.sink else {
            for (name, side) in sides {
                if matches!(side, SideOutputConfig::Postgres { .. }) {
                    return Err(invalid(
                        format!("{name}.type"),
                        "postgres needs the sink to be postgres too (side rows are written in the results' transactions)",
                    ));
                }
            }
            return Ok(());
        };
        if sink.url.expose().trim().is_empty() {
            return Err(invalid("sink.url", "name the PostgreSQL server"));
        }
        table_name("sink.table", &sink.table)?;
        if sink.retry_timeout.is_zero() {
            return Err(invalid("sink.retry_timeout", "must be at least 1ms"));
        }
        let mut tables = vec![sink.table.as_str()];
        for (name, side) in sides {
            let SideOutputConfig::Postgres { url, table } = side else {
                continue;
            };
            if url != &sink.url {
                return Err(invalid(
                    format!("{name}.url"),
                    "must be the same as sink.url (side rows are written in the results' transactions)",
                ));
            }
            table_name(&format!("{name}.table"), table)?;
            if tables.contains(&table.as_str()) {
                return Err(invalid(
                    format!("{name}.table"),
                    format!("`{table}` is already an output: give each output its own table"),
                ));
            }
            tables.push(table);
        }
        Ok(())
    }

    fn validate_kafka(&self) -> Result<(), ConfigError> {
        let topics = self.kafka_topics();
        for (key, topic) in &topics {
            if topic.is_empty()
                || topic.len() > 249
                || !topic
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(invalid(
                    *key,
                    format!(
                        "`{topic}` is not a Kafka topic name (letters, digits, . _ -; at most 249)"
                    ),
                ));
            }
        }
        if topics.is_empty() {
            return Ok(());
        }
        let kafka = &self.kafka;
        if kafka.brokers.trim().is_empty() {
            return Err(invalid(
                "kafka.brokers",
                "name at least one broker, or `embedded`",
            ));
        }
        if kafka.group_id.is_empty() {
            return Err(invalid("kafka.group_id", "must not be empty"));
        }
        if kafka
            .instance_id
            .as_ref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(invalid("kafka.instance_id", "must not be empty"));
        }
        if kafka.static_membership == StaticMembership::On
            && kafka
                .group_instance_id(|name| std::env::var(name).ok())
                .is_none()
        {
            return Err(invalid(
                "kafka.static_membership",
                "`on` needs a member name: set kafka.instance_id (or HOSTNAME)",
            ));
        }
        if kafka.commit_interval.as_millis() == 0 {
            return Err(invalid("kafka.commit_interval", "must be at least 1ms"));
        }
        if kafka.delivery_timeout.as_millis() == 0 {
            return Err(invalid("kafka.delivery_timeout", "must be at least 1ms"));
        }
        if kafka.batch_bytes == 0 || kafka.batch_bytes > 2_147_483_647 {
            return Err(invalid(
                "kafka.batch_bytes",
                "must be between 1 and 2147483647",
            ));
        }
        if kafka.embedded_partitions == 0 || kafka.embedded_partitions > 1024 {
            return Err(invalid(
                "kafka.embedded_partitions",
                "must be between 1 and 1024",
            ));
        }
        for (table, properties) in [
            ("properties", &kafka.properties),
            ("consumer_properties", &kafka.consumer_properties),
            ("producer_properties", &kafka.producer_properties),
        ] {
            for (name, value) in properties {
                if value.is_object() || value.is_array() || value.is_null() {
                    return Err(invalid(
                        format!("kafka.{table}.{name}"),
                        "must be a string, number or boolean",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Config {
    fn validate_state(&self) -> Result<(), ConfigError> {
        let state = &self.state;
        if state.checkpoint_interval.as_millis() == 0 {
            return Err(invalid("state.checkpoint_interval", "must be at least 1ms"));
        }
        if state.keep == 0 || state.keep > 100 {
            return Err(invalid("state.keep", "must be between 1 and 100"));
        }
        if state.shutdown_timeout.as_millis() == 0 {
            return Err(invalid("state.shutdown_timeout", "must be at least 1ms"));
        }
        if self
            .admin
            .token
            .as_deref()
            .is_some_and(|t| t.trim().len() < 8)
        {
            return Err(invalid("admin.token", "must be at least 8 characters"));
        }
        if self.admin.max_upload_bytes < 1024 {
            return Err(invalid("admin.max_upload_bytes", "must be at least 1024"));
        }
        if state.backend == BackendKind::Rocksdb && state.dir.as_os_str().is_empty() {
            return Err(invalid("state.dir", "name a directory for RocksDB"));
        }
        if state
            .shared_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err(invalid(
                "state.shared_dir",
                "name a directory or leave it unset",
            ));
        }
        if state.delivery == Delivery::ExactlyOnce {
            let topics = self.kafka_topics();
            let postgres = matches!(self.sink, SinkConfig::Postgres(_));
            if !topics.iter().any(|(key, _)| *key == "source.topic")
                || !(postgres || topics.iter().any(|(key, _)| *key == "sink.topic"))
            {
                return Err(invalid(
                    "state.delivery",
                    "exactly_once needs a Kafka source and a Kafka or PostgreSQL sink",
                ));
            }
            if postgres
                && let Some((key, _)) = topics.iter().find(|(key, _)| *key != "source.topic")
            {
                return Err(invalid(
                    *key,
                    "with a PostgreSQL sink, exactly_once commits results in PostgreSQL \
                     transactions: side outputs cannot be Kafka topics (use a PostgreSQL table, a file or stderr)",
                ));
            }
            if let Some(id) = &state.transactional_id
                && id.trim().is_empty()
            {
                return Err(invalid("state.transactional_id", "must not be empty"));
            }
        }
        Ok(())
    }

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

fn check_pointer(key: &str, pointer: &str) -> Result<(), ConfigError> {
    if pointer.starts_with('/') {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("`{pointer}` is not a JSON pointer (e.g. /user/id)"),
        ))
    }
}

fn check_plugin(key: &str, plugin: &str) -> Result<(), ConfigError> {
    if plugin.is_empty() {
        Err(invalid(key, "name a built-in plugin or a .wasm file"))
    } else {
        Ok(())
    }
}
