//! Pipeline configuration: YAML file, environment overrides (`EDDY_` prefix, `__` between
//! levels, e.g. `EDDY_WINDOW__SIZE=5s`), and validation that names the offending key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Yaml};
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        }
    }
}

/// Where events come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// JSON lines from standard input.
    Stdin,
    /// JSON lines from a file.
    File {
        /// The file.
        path: PathBuf,
    },
    /// Generated sample events (see [`crate::generator`]).
    Generator(crate::generator::GeneratorConfig),
}

/// How a record becomes an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// JSON pointer of the key field (strings are used as they are, numbers and booleans as
    /// their JSON text).
    pub key: String,
    /// JSON pointer of the event-time field (unused with `time_format: record_timestamp`).
    pub time: String,
    /// How the event time is written.
    pub time_format: TimeFormat,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            key: "/key".into(),
            time: "/ts".into(),
            time_format: TimeFormat::EpochMs,
        }
    }
}

/// How an event's time is written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// An integer of milliseconds since the epoch.
    #[default]
    EpochMs,
    /// A number of seconds since the epoch (fractions kept to the millisecond).
    EpochS,
    /// An RFC 3339 string, e.g. `2026-11-26T10:00:00.250+01:00`.
    Rfc3339,
    /// Not in the payload: the record's own timestamp (the Kafka record time).
    RecordTimestamp,
}

/// Event-time watermark settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WatermarkConfig {
    /// How far behind the largest event time seen (per source partition) an event may arrive
    /// and still be on time (bounded out-of-orderness).
    #[serde(with = "humantime_serde")]
    pub out_of_orderness: Duration,
    /// Least processing time between two watermark advances; `0s` advances after every batch.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// A partition that delivered nothing for this long (processing time) stops holding the
    /// watermark back until it delivers again. Unset: partitions never count as idle.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
}

impl Default for WatermarkConfig {
    fn default() -> Self {
        Self {
            out_of_orderness: Duration::from_secs(1),
            interval: Duration::ZERO,
            idle_timeout: None,
        }
    }
}

/// How events are grouped into windows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// Fixed-size, non-overlapping windows aligned to the epoch plus `offset`.
    Tumbling {
        /// Window length.
        #[serde(with = "humantime_serde")]
        size: Duration,
        /// Shift of window boundaries from the epoch.
        #[serde(with = "humantime_serde", default)]
        offset: Duration,
    },
    /// Fixed-size windows starting every `slide`; an event belongs to every window covering it.
    Sliding {
        /// Window length.
        #[serde(with = "humantime_serde")]
        size: Duration,
        /// Distance between window starts (at most `size`).
        #[serde(with = "humantime_serde")]
        slide: Duration,
        /// Shift of window boundaries from the epoch (less than `slide`).
        #[serde(with = "humantime_serde", default)]
        offset: Duration,
    },
    /// Per-key sessions: an event at `t` opens `[t, t + gap)`, and sessions of a key that
    /// overlap or touch merge (also when a late event bridges two of them).
    Session {
        /// Inactivity gap that ends a session.
        #[serde(with = "humantime_serde")]
        gap: Duration,
    },
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig::Tumbling {
            size: Duration::from_secs(10),
            offset: Duration::ZERO,
        }
    }
}

/// When results are emitted. Every trigger emits an `on_time` result when the watermark passes
/// the window's end, and a `late_update` after each batch that changes a window within the
/// allowed lateness; the others add `early` results before the window ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerConfig {
    /// Only when the watermark passes the window's end.
    #[default]
    EventTime,
    /// Also every `interval` of processing time, for groups that changed since their last result.
    ProcessingTime {
        /// Time between early results.
        #[serde(with = "humantime_serde")]
        interval: Duration,
    },
    /// Also after the batch in which a group reached `count` events since its last result.
    Count {
        /// Events per early result.
        count: u64,
    },
    /// Whichever of `count` and `interval` comes first.
    CountOrTime {
        /// Events per early result.
        count: u64,
        /// Time between early results.
        #[serde(with = "humantime_serde")]
        interval: Duration,
    },
}

/// One aggregate of the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AggregateConfig {
    /// Field name in the result.
    pub name: String,
    /// A built-in plugin name (`count`, `sum`, …, found in `plugins.dir`) or a path to a
    /// `.wasm` component.
    pub plugin: String,
    /// JSON pointer of the field aggregated. Without it every event contributes `1.0`; events
    /// without the field (or where it is not a number) do not contribute, as NULLs in SQL.
    #[serde(default)]
    pub field: Option<String>,
    /// The plugin's configuration (a JSON object).
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

/// A map or filter stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// A plugin name found in `plugins.dir`, or a path to a `.wasm` component.
    pub plugin: String,
    /// The plugin's configuration (a JSON object).
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Where results go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File {
        /// The file.
        path: PathBuf,
    },
}

/// Where a side output (late events, dead letters) goes. Whatever the choice, every event sent
/// there is also counted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SideOutputConfig {
    /// JSON lines on standard error.
    Stderr,
    /// JSON lines on standard output (mixed with results unless the sink is a file).
    Stdout,
    /// JSON lines appended to a file.
    File {
        /// The file.
        path: PathBuf,
    },
}

/// Plugin runtime settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder of the built-in plugins (`<name>.wasm`).
    pub dir: PathBuf,
    /// Largest linear memory one plugin instance may grow to, in bytes.
    pub memory_limit_bytes: usize,
    /// Longest one call into a plugin may run before it is interrupted.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// What happens when a map or filter plugin traps twice on the same batch (it is retried
    /// once on a fresh instance first). An aggregator trap always stops the pipeline: its
    /// groups' state is lost with the instance.
    pub on_trap: TrapPolicy,
}

/// What to do with a batch a transform plugin trapped on twice.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrapPolicy {
    /// Send the batch to the dead-letter output with the trap as the reason, and go on.
    #[default]
    DeadLetter,
    /// Stop the pipeline with an error naming the plugin.
    Stop,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("dist/plugins"),
            memory_limit_bytes: 256 << 20,
            call_timeout: Duration::from_secs(5),
            on_trap: TrapPolicy::DeadLetter,
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
        let config: Config = figment
            .merge(Env::prefixed("EDDY_").ignore(&["log"]).split("__"))
            .extract()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return Err(invalid("batch_size", "must be between 1 and 1048576"));
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

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its large error type
mod tests {
    use super::*;
    use figment::Jail;

    const GOOD: &str = r#"
source: { type: file, path: events.jsonl }
decode: { key: /user, time: /at, time_format: rfc3339 }
watermark: { out_of_orderness: 2s, interval: 200ms, idle_timeout: 30s }
window: { type: sliding, size: 1m, slide: 10s, offset: 5s }
allowed_lateness: 3s
trigger: { type: count_or_time, count: 100, interval: 1s }
aggregates:
  - { name: n, plugin: count }
  - { name: p, plugin: percentile, field: /latency, config: { quantiles: [0.5] } }
sink: { type: file, path: out.jsonl }
late: { type: file, path: late.jsonl }
dead_letter: { type: stderr }
plugins: { dir: /opt/eddy/plugins, memory_limit_bytes: 33554432, call_timeout: 250ms, on_trap: stop }
batch_size: 512
"#;

    fn error_of(yaml: &str) -> String {
        Config::from_yaml(yaml).expect_err("refused").to_string()
    }

    #[test]
    fn every_key_is_read() {
        Jail::expect_with(|_| {
            let c = Config::from_yaml(GOOD).expect("valid");
            assert_eq!(
                c.source,
                SourceConfig::File {
                    path: "events.jsonl".into()
                }
            );
            assert_eq!(
                c.decode,
                DecodeConfig {
                    key: "/user".into(),
                    time: "/at".into(),
                    time_format: TimeFormat::Rfc3339
                }
            );
            assert_eq!(c.watermark.out_of_orderness, Duration::from_secs(2));
            assert_eq!(c.watermark.interval, Duration::from_millis(200));
            assert_eq!(c.watermark.idle_timeout, Some(Duration::from_secs(30)));
            assert_eq!(
                c.window,
                WindowConfig::Sliding {
                    size: Duration::from_secs(60),
                    slide: Duration::from_secs(10),
                    offset: Duration::from_secs(5)
                }
            );
            assert_eq!(c.allowed_lateness, Duration::from_secs(3));
            assert_eq!(
                c.trigger,
                TriggerConfig::CountOrTime {
                    count: 100,
                    interval: Duration::from_secs(1)
                }
            );
            assert_eq!(c.aggregates[1].field.as_deref(), Some("/latency"));
            assert_eq!(c.aggregates[1].config["quantiles"][0], 0.5);
            assert_eq!(
                c.sink,
                SinkConfig::File {
                    path: "out.jsonl".into()
                }
            );
            assert_eq!(
                c.late,
                SideOutputConfig::File {
                    path: "late.jsonl".into()
                }
            );
            assert_eq!(c.dead_letter, SideOutputConfig::Stderr);
            assert_eq!(c.plugins.dir, PathBuf::from("/opt/eddy/plugins"));
            assert_eq!(c.plugins.memory_limit_bytes, 32 << 20);
            assert_eq!(c.plugins.call_timeout, Duration::from_millis(250));
            assert_eq!(c.plugins.on_trap, TrapPolicy::Stop);
            assert_eq!(c.batch_size, 512);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file("eddy.yaml", GOOD)?;
            jail.set_env("EDDY_BATCH_SIZE", "7");
            jail.set_env("EDDY_WATERMARK__OUT_OF_ORDERNESS", "9s");
            jail.set_env("EDDY_PLUGINS__DIR", "/elsewhere");
            jail.set_env("EDDY_LOG", "debug");
            let c = Config::load(Path::new("eddy.yaml")).expect("valid");
            assert_eq!(c.batch_size, 7);
            assert_eq!(c.watermark.out_of_orderness, Duration::from_secs(9));
            assert_eq!(c.plugins.dir, PathBuf::from("/elsewhere"));
            assert_eq!(c.decode.key, "/user");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_key() {
        Jail::expect_with(|jail| {
            let cases = [
                ("batch_size: 0\n", "batch_size"),
                ("batch_size: lots\n", "batch_size"),
                ("window: { type: tumbling, size: 0s }\n", "window.size"),
                ("window: { type: hopping, size: 1s }\n", "window"),
                (
                    "window: { type: tumbling, size: 1s, offset: 2s }\n",
                    "window.offset",
                ),
                ("decode: { key: user }\n", "decode.key"),
                ("decode: { time_format: epoch_us }\n", "decode.time_format"),
                (
                    "watermark: { out_of_orderness: soon }\n",
                    "watermark.out_of_orderness",
                ),
                ("aggregates: []\n", "aggregates"),
                (
                    "aggregates: [{ name: key, plugin: count }]\n",
                    "aggregates.0.name",
                ),
                (
                    "aggregates: [{ name: a, plugin: count }, { name: a, plugin: sum }]\n",
                    "aggregates.1.name",
                ),
                (
                    "aggregates: [{ name: a, plugin: sum, field: amount }]\n",
                    "aggregates.0.field",
                ),
                (
                    "aggregates: [{ name: a, plugin: sum, config: 3 }]\n",
                    "aggregates.0.config",
                ),
                (
                    "plugins: { memory_limit_bytes: 10 }\n",
                    "plugins.memory_limit_bytes",
                ),
                ("no_such_key: 1\n", "no_such_key"),
                (
                    "window: { type: sliding, size: 1s, slide: 2s }\n",
                    "window.slide",
                ),
                (
                    "window: { type: sliding, size: 1s, slide: 1s, offset: 1s }\n",
                    "window.offset",
                ),
                (
                    "window: { type: sliding, size: 1h, slide: 1ms }\n",
                    "window.slide",
                ),
                ("window: { type: session, gap: 0s }\n", "window.gap"),
                ("window: { type: session }\n", "gap"),
                ("allowed_lateness: forever\n", "allowed_lateness"),
                ("trigger: { type: count, count: 0 }\n", "trigger.count"),
                (
                    "trigger: { type: processing_time, interval: 0s }\n",
                    "trigger.interval",
                ),
                ("trigger: { type: sometimes }\n", "trigger"),
                (
                    "watermark: { idle_timeout: never }\n",
                    "watermark.idle_timeout",
                ),
                ("source: { type: generator, keys: 0 }\n", "source.keys"),
            ];
            for (yaml, key) in cases {
                let message = error_of(yaml);
                assert!(
                    message.contains(key),
                    "{yaml:?} gave {message:?}, which does not name {key}"
                );
            }
            jail.set_env("EDDY_BATCH_SIZE", "-1");
            assert!(error_of("{}").contains("batch_size"));
            assert!(Config::load(Path::new("missing.yaml")).is_err());
            Ok(())
        });
    }
}
