//! Example custom aggregator: the spread (largest minus smallest value) of a field in a group,
//! times a configurable scale. This is what a user writes: one type, one trait, one macro line.
//!
//! Build: `cargo build --release --target wasm32-wasip2 -p eddy-example-spread`.

use eddy_sdk::{Aggregator, Error};
use serde::{Deserialize, Serialize};

/// Configuration: `{ "scale": 1.0 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpreadConfig {
    /// Multiplies the spread (e.g. 100 to turn a ratio into percent).
    pub scale: f64,
}

impl Default for SpreadConfig {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

/// Smallest and largest value seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    min: f64,
    max: f64,
}

impl Aggregator for Spread {
    type Config = SpreadConfig;
    const NAME: &'static str = "spread";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Largest minus smallest value of a field, scaled.";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"scale":{"type":"number"}},"additionalProperties":false}"#;

    fn validate(config: &SpreadConfig) -> Result<(), Error> {
        if config.scale.is_finite() {
            Ok(())
        } else {
            Err(Error::msg("scale: must be a finite number"))
        }
    }
    fn new(_: &SpreadConfig) -> Self {
        Self {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
    fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
    fn merge(&mut self, other: Self) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
    fn finish(&self, config: &SpreadConfig, out: &mut Vec<f64>) {
        out.push(if self.min <= self.max {
            (self.max - self.min) * config.scale
        } else {
            f64::NAN
        });
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Spread);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn spread_merges_and_round_trips() {
        let config = SpreadConfig { scale: 10.0 };
        let mut a: Spread = accumulate(&config, &[4.0, 2.0]);
        a.merge(accumulate(&config, &[9.0]));
        assert_eq!(finish(&round_trip(&a), &config), vec![70.0]);
        assert!(finish(&Spread::new(&config), &config)[0].is_nan());
    }
}
