//! Built-in aggregator `max`: the largest value of a field in a group.

use eddy_sdk::{Aggregator, NoConfig};
use serde::{Deserialize, Serialize};

/// The largest value; NaN values are skipped, and a group with no values gives NaN (written as
/// `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Max {
    value: Option<f64>,
}

impl Aggregator for Max {
    type Config = NoConfig;
    const NAME: &'static str = "max";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "The largest value of a field per group.";

    fn new(_: &NoConfig) -> Self {
        Self { value: None }
    }
    fn add(&mut self, value: f64) {
        match self.value {
            _ if value.is_nan() => {}
            Some(current) if value <= current => {}
            _ => self.value = Some(value),
        }
    }
    fn merge(&mut self, other: Self) {
        if let Some(value) = other.value {
            self.add(value);
        }
    }
    fn finish(&self, _: &NoConfig, out: &mut Vec<f64>) {
        out.push(self.value.unwrap_or(f64::NAN));
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Max);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn finds_merges_and_round_trips() {
        let config = NoConfig {};
        let values = [3.0, f64::NAN, -1.0, 7.5, 0.0];
        let mut a: Max = accumulate(&config, &values[..2]);
        a.merge(accumulate(&config, &values[2..]));
        let expected = values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(finish(&a, &config), vec![expected]);
        assert_eq!(round_trip(&a), a);
        assert!(finish(&Max::new(&config), &config)[0].is_nan());
    }
}
