//! Where events come from, how they are decoded, and where results go.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Records of a Kafka topic, read by a consumer in the group `kafka.group_id`; each
    /// partition has its own watermark and windows.
    Kafka {
        /// The topic.
        topic: String,
    },
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

/// Where results go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

/// How an output file that already exists is treated when a pipeline starts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// Emptied first: the file holds this run's lines only.
    #[default]
    Truncate,
    /// Kept: this run's lines go after what it holds (e.g. a pipeline restarted from a
    /// checkpoint that continues one output).
    Append,
}
