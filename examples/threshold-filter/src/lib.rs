//! Example filter: keeps JSON events whose numeric field is at least a threshold.
//!
//! Configuration: `{ "field": "/amount", "min": 10.0 }` (`field` is a JSON pointer). Events
//! without the field, or where it is not a number, are dropped.

use eddy_sdk::{Error, Event, Filter};
use serde::Deserialize;
use serde_json::Value;

/// Configuration of `threshold`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// JSON pointer of the field, e.g. `/amount`.
    pub field: String,
    /// Smallest value that passes.
    pub min: f64,
}

/// Keeps events at or above the threshold.
pub struct Threshold {
    config: ThresholdConfig,
}

impl Filter for Threshold {
    type Config = ThresholdConfig;
    const NAME: &'static str = "threshold";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Keeps events whose field is at least a threshold.";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"field":{"type":"string"},"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}"#;

    fn new(config: ThresholdConfig) -> Result<Self, Error> {
        if !config.field.starts_with('/') {
            return Err(Error::msg("field: must be a JSON pointer such as /amount"));
        }
        Ok(Self { config })
    }

    fn keep(&mut self, event: &Event<'_>) -> Result<bool, Error> {
        let value: Value = match serde_json::from_slice(event.payload) {
            Ok(value) => value,
            Err(_) => return Ok(false),
        };
        Ok(value
            .pointer(&self.config.field)
            .and_then(Value::as_f64)
            .is_some_and(|v| v >= self.config.min))
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_filter!(Threshold);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_or_above() {
        let mut f = Threshold::new(ThresholdConfig {
            field: "/a".into(),
            min: 2.0,
        })
        .unwrap();
        let keep = |f: &mut Threshold, p: &[u8]| {
            f.keep(&Event {
                payload: p,
                timestamp: 0,
            })
            .unwrap()
        };
        assert!(keep(&mut f, br#"{"a":2}"#));
        assert!(!keep(&mut f, br#"{"a":1.5}"#));
        assert!(!keep(&mut f, br#"{"b":9}"#));
        assert!(!keep(&mut f, b"not json"));
    }
}
