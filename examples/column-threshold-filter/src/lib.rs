//! Example column filter: keeps events whose numeric field is at least a threshold. The same
//! filter as `threshold-filter`, written over columns: the host reads the one field it names and
//! hands it over as numbers, so no JSON is parsed inside the sandbox.
//!
//! Configuration: `{ "field": "/amount", "min": 10.0 }` (`field` is a JSON pointer). Events
//! without the field, or where it is not a number, are dropped.

use eddy_sdk::{ColumnFilter, Error};
use serde::Deserialize;

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

impl ColumnFilter for Threshold {
    type Config = ThresholdConfig;
    type Row = f64;
    const NAME: &'static str = "threshold";
    const VERSION: &'static str = "2.0.0";
    const DESCRIPTION: &'static str =
        "Keeps events whose field is at least a threshold (over columns).";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"field":{"type":"string"},"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}"#;

    fn new(config: ThresholdConfig) -> Result<Self, Error> {
        if !config.field.starts_with('/') {
            return Err(Error::msg("field: must be a JSON pointer such as /amount"));
        }
        Ok(Self { config })
    }

    fn reads(&self) -> Vec<String> {
        vec![self.config.field.clone()]
    }

    fn keep(&mut self, value: f64) -> bool {
        value >= self.config.min
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_column_filter!(Threshold);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::columns::{Column, Values, filter_rows};

    #[test]
    fn keeps_at_or_above_and_drops_rows_without_a_number() {
        let mut f = Threshold::new(ThresholdConfig {
            field: "/a".into(),
            min: 2.0,
        })
        .expect("valid config");
        assert_eq!(f.reads(), ["/a"]);
        let column = Column {
            values: Values::Float(vec![2.0, 1.5, 0.0, 9.0]),
            valid: vec![true, true, false, true],
        };
        assert_eq!(filter_rows(&mut f, 4, &[column]), [0, 3]);
        assert!(
            Threshold::new(ThresholdConfig {
                field: "a".into(),
                min: 0.0
            })
            .is_err()
        );
    }
}
