//! Where events come from, how they are decoded, and where results go.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where events come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
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
    /// Records of a Kafka topic, read by a consumer in the group `kafka.group_id`; each
    /// partition has its own watermark and windows.
    Kafka {
        /// The topic.
        topic: String,
    },
}

/// How a record becomes an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// How records are written.
    pub format: RecordFormat,
    /// Avro: the writer schema (`.avsc`) every record is a bare datum of; Protobuf: the
    /// `.proto` file of the records' message (imports of Google's well-known types only).
    /// Unset: records are in the schema registry wire format and their schemas come from
    /// `schema_registry`.
    pub schema: Option<PathBuf>,
    /// Protobuf with `schema`: the message type of the records (`shop.Order` or `Order`);
    /// unset: the file's first message.
    pub message: Option<String>,
    /// JSON pointer of the key field (strings are used as they are, numbers and booleans as
    /// their JSON text).
    pub key: String,
    /// JSON pointer of the event-time field (unused with `time_format: record_timestamp`).
    pub time: String,
    /// How the event time is written.
    pub time_format: TimeFormat,
    /// Largest record taken, bytes; a larger one is dead-lettered (its first
    /// `max_record_bytes` bytes, with the reason and its size) before any plugin sees it.
    pub max_record_bytes: usize,
    /// Longest key taken, bytes; a record with a longer one is dead-lettered with the reason.
    pub max_key_bytes: usize,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            format: RecordFormat::Json,
            schema: None,
            message: None,
            key: "/key".into(),
            time: "/ts".into(),
            time_format: TimeFormat::EpochMs,
            max_record_bytes: 8 << 20,
            max_key_bytes: 64 << 10,
        }
    }
}

/// How records are written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// A JSON object per record.
    #[default]
    Json,
    /// Avro binary: fields are named by pointers over the record as Avro's JSON shows it (a
    /// union's value as itself); `timestamp-millis`, `-micros` and `-nanos` fields are read
    /// as epoch milliseconds. Map and filter plugins get each record as that JSON object.
    Avro,
    /// Protobuf binary: fields are named by pointers over the message as Protobuf's JSON
    /// mapping shows it, with the field names of the `.proto` file (64-bit integers as
    /// numbers; a `google.protobuf.Timestamp` as an RFC 3339 string). Map and filter plugins
    /// get each message as that JSON object.
    Protobuf,
}

/// How results are written to a Kafka topic.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinkFormat {
    /// A JSON object per result.
    #[default]
    Json,
    /// Avro in the schema registry wire format, under the subject `<topic>-value`, with a
    /// schema derived from the aggregates' outputs (registered at start when missing; a
    /// schema the registry refuses as incompatible stops the start with its message).
    Avro,
}

/// How an event's time is written.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
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

/// Where results go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines written to a file (emptied at start unless `mode: append`).
    File {
        /// The file.
        path: PathBuf,
        /// Whether the file is emptied at start or appended to.
        #[serde(default)]
        mode: FileMode,
    },
    /// One record per result on a Kafka topic, keyed by the result's key.
    Kafka {
        /// The topic.
        topic: String,
        /// How results are written.
        #[serde(default)]
        format: SinkFormat,
    },
    /// One row per (key, window) in a PostgreSQL table, upserted: a later result of the same
    /// window (`on_time` after `early`, `late_update`) replaces the row.
    Postgres(PostgresSink),
}

/// A PostgreSQL table of results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresSink {
    /// The connection: a URL (`postgresql://user:password@host:port/db`) or key-value pairs
    /// (`host=... user=... password=...`); its password is never shown.
    pub url: SecretUrl,
    /// The table, optionally with its schema (`schema.table`): letters, digits and `_`.
    pub table: String,
    /// Create the table when it does not exist (otherwise a missing table stops the start).
    #[serde(default = "yes")]
    pub create_table: bool,
    /// How long a lost connection is retried (with backoff) before the run stops with an
    /// error; meanwhile the pipeline takes no input and is not ready.
    #[serde(default = "retry_timeout", with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub retry_timeout: std::time::Duration,
}

fn yes() -> bool {
    true
}

fn retry_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(300)
}

/// A connection string that may hold a password: shown (Debug, Display) with the password
/// replaced by `***`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a connection string.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The connection string itself, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_password(&self.0)
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretUrl({:?})", self.redacted())
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `url` with the password hidden: in a URL's user info (`scheme://user:secret@host`), in a
/// `password=` pair of a key-value string, and in a `password=` query parameter.
pub fn redact_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((user_info, host)) => match user_info.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => authority.to_string(),
            },
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                            format!("{name}=***")
                        }
                        _ => pair.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_string(),
        };
        return format!("{scheme}://{authority}{tail}");
    }
    // Key-value pairs; a value may be quoted with '...'.
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = find_password_key(rest) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let eq = after.find('=').map_or(after.len(), |i| i + 1);
        out.push_str(&after[..eq]);
        out.push_str("***");
        let value = after[eq..].trim_start();
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let mut end = quoted.len();
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = i + 1;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            after.len() - value.len() + 1 + end.min(quoted.len())
        } else {
            after.len() - value.len() + value.find(char::is_whitespace).unwrap_or(value.len())
        };
        rest = &after[end.min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// Where a `password` key (followed by optional spaces and `=`) starts in key-value pairs.
fn find_password_key(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let at = from + i;
        let starts_word = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[at + "password".len()..].trim_start();
        if starts_word && after.starts_with('=') {
            return Some(at);
        }
        from = at + "password".len();
    }
    None
}

/// Where a side output (late events, dead letters) goes. Whatever the choice, every event sent
/// there is also counted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SideOutputConfig {
    /// JSON lines on standard error.
    Stderr,
    /// JSON lines on standard output (mixed with results unless the sink is a file).
    Stdout,
    /// JSON lines written to a file (emptied at start unless `mode: append`).
    File {
        /// The file.
        path: PathBuf,
        /// Whether the file is emptied at start or appended to.
        #[serde(default)]
        mode: FileMode,
    },
    /// The original record, unchanged, on a Kafka topic, with the reason in the header
    /// `eddy.error` (and, for late events, `eddy.watermark` and `eddy.event_time`).
    Kafka {
        /// The topic.
        topic: String,
    },
    /// One row per record in a PostgreSQL table of the results' database (the sink must be
    /// `postgres` with the same `url`): the record's bytes unchanged (`bytea`), the reason,
    /// where it was read and (late events) its event time and the watermark; written in the
    /// same transaction as the results.
    Postgres {
        /// The connection: the same as `sink.url`.
        url: SecretUrl,
        /// The table, optionally with its schema (`schema.table`).
        table: String,
    },
}

/// How an output file that already exists is treated when a pipeline starts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// Emptied first: the file holds this run's lines only.
    #[default]
    Truncate,
    /// Kept: this run's lines go after what it holds (e.g. a pipeline restarted from a
    /// checkpoint that continues one output).
    Append,
}
