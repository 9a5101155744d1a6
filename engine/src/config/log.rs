//! Logging: format and filter.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people: one coloured line per event.
    #[default]
    Human,
    /// One JSON object per line, with the span fields (batch, checkpoint id), for log
    /// collectors.
    Json,
}

/// Log settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info,eddy::kafka=debug`; the `EDDY_LOG` variable wins.
    pub filter: Option<String>,
}
