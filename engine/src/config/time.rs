//! Event time: watermarks, windows and triggers.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Event-time watermark settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WatermarkConfig {
    /// How far behind the largest event time seen (per source partition) an event may arrive
    /// and still be on time (bounded out-of-orderness).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub out_of_orderness: Duration,
    /// Least processing time between two watermark advances; `0s` advances after every batch.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub interval: Duration,
    /// A partition that delivered nothing for this long (processing time) stops holding the
    /// watermark back until it delivers again. Unset: partitions never count as idle.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "Option<super::reference::DurationText>")]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowConfig {
    /// Fixed-size, non-overlapping windows aligned to the epoch plus `offset`.
    Tumbling {
        /// Window length.
        #[serde(with = "humantime_serde")]
        #[schemars(with = "super::reference::DurationText")]
        size: Duration,
        /// Shift of window boundaries from the epoch.
        #[serde(with = "humantime_serde", default)]
        #[schemars(with = "super::reference::DurationText")]
        offset: Duration,
    },
    /// Fixed-size windows starting every `slide`; an event belongs to every window covering it.
    Sliding {
        /// Window length.
        #[serde(with = "humantime_serde")]
        #[schemars(with = "super::reference::DurationText")]
        size: Duration,
        /// Distance between window starts (at most `size`).
        #[serde(with = "humantime_serde")]
        #[schemars(with = "super::reference::DurationText")]
        slide: Duration,
        /// Shift of window boundaries from the epoch (less than `slide`).
        #[serde(with = "humantime_serde", default)]
        #[schemars(with = "super::reference::DurationText")]
        offset: Duration,
    },
    /// Per-key sessions: an event at `t` opens `[t, t + gap)`, and sessions of a key that
    /// overlap or touch merge (also when a late event bridges two of them).
    Session {
        /// Inactivity gap that ends a session.
        #[serde(with = "humantime_serde")]
        #[schemars(with = "super::reference::DurationText")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerConfig {
    /// Only when the watermark passes the window's end.
    #[default]
    EventTime,
    /// Also every `interval` of processing time, for groups that changed since their last result.
    ProcessingTime {
        /// Time between early results.
        #[serde(with = "humantime_serde")]
        #[schemars(with = "super::reference::DurationText")]
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
        #[schemars(with = "super::reference::DurationText")]
        interval: Duration,
    },
}
