//! Built-in aggregator `avg`: the arithmetic mean of a field in a group.

use eddy_sdk::{Aggregator, CompensatedSum, NoConfig};
use serde::{Deserialize, Serialize};

/// Mean of the values (compensated sum over count); NaN values are skipped, and a group with
/// no values has mean NaN (written as `null`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Avg {
    sum: CompensatedSum,
    n: u64,
}

impl Aggregator for Avg {
    type Config = NoConfig;
    const NAME: &'static str = "avg";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Arithmetic mean of a field per group.";

    fn new(_: &NoConfig) -> Self {
        Self::default()
    }
    fn add(&mut self, value: f64) {
        if !value.is_nan() {
            self.sum.add(value);
            self.n += 1;
        }
    }
    fn merge(&mut self, other: Self) {
        self.sum.merge(other.sum);
        self.n += other.n;
    }
    fn finish(&self, _: &NoConfig, out: &mut Vec<f64>) {
        out.push(if self.n == 0 {
            f64::NAN
        } else {
            self.sum.value() / self.n as f64
        });
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Avg);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn averages_merges_and_round_trips() {
        let config = NoConfig {};
        let mut a: Avg = accumulate(&config, &[1.0, 2.0, f64::NAN]);
        a.merge(accumulate(&config, &[3.0, 6.0]));
        assert_eq!(finish(&a, &config), vec![3.0]);
        assert_eq!(round_trip(&a), a);
        assert!(finish(&Avg::new(&config), &config)[0].is_nan());
    }
}
