//! Built-in aggregator `count`: the number of events in a group.

use eddy_sdk::{Aggregator, NoConfig};
use serde::{Deserialize, Serialize};

/// Counts values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Count {
    n: u64,
}

impl Aggregator for Count {
    type Config = NoConfig;
    const NAME: &'static str = "count";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Number of events per group.";

    fn new(_: &NoConfig) -> Self {
        Self::default()
    }
    fn add(&mut self, _value: f64) {
        self.n += 1;
    }
    fn merge(&mut self, other: Self) {
        self.n += other.n;
    }
    fn finish(&self, _: &NoConfig, out: &mut Vec<f64>) {
        out.push(self.n as f64);
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Count);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn counts_merges_and_round_trips() {
        let config = NoConfig {};
        let mut a: Count = accumulate(&config, &[1.0, f64::NAN, -3.0]);
        a.merge(accumulate(&config, &[7.0, 8.0]));
        assert_eq!(finish(&a, &config), vec![5.0]);
        assert_eq!(round_trip(&a), a);
        assert_eq!(finish(&Count::new(&config), &config), vec![0.0]);
    }
}
