//! Built-in aggregator `sum`: the compensated sum of a field in a group.

use eddy_sdk::{Aggregator, CompensatedSum, NoConfig};
use serde::{Deserialize, Serialize};

/// Sums values with Neumaier compensation; NaN values are skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum {
    sum: CompensatedSum,
}

impl Aggregator for Sum {
    type Config = NoConfig;
    const NAME: &'static str = "sum";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Compensated sum of a field per group.";

    fn new(_: &NoConfig) -> Self {
        Self::default()
    }
    fn add(&mut self, value: f64) {
        if !value.is_nan() {
            self.sum.add(value);
        }
    }
    fn merge(&mut self, other: Self) {
        self.sum.merge(other.sum);
    }
    fn finish(&self, _: &NoConfig, out: &mut Vec<f64>) {
        out.push(self.sum.value());
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Sum);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn sums_merges_and_round_trips() {
        let config = NoConfig {};
        let mut a: Sum = accumulate(&config, &[1.5, f64::NAN, -3.0]);
        a.merge(accumulate(&config, &[1e16, 2.0, -1e16]));
        assert_eq!(finish(&a, &config), vec![0.5]);
        assert_eq!(round_trip(&a), a);
    }
}
