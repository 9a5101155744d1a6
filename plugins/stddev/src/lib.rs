//! Built-in aggregator `stddev`: the standard deviation of a field in a group, computed with
//! Welford's update and Chan's merge so that it is numerically stable and mergeable.

use eddy_sdk::{Aggregator, Error};
use serde::{Deserialize, Serialize};

/// Whether to divide by `n - 1` (sample, the default, as SQL's `stddev`) or by `n`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// Divide by `n - 1`; fewer than two values give NaN (`null`).
    #[default]
    Sample,
    /// Divide by `n`; no values give NaN (`null`).
    Population,
}

/// Configuration of `stddev`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StddevConfig {
    /// `sample` (default) or `population`.
    pub estimator: Estimator,
}

/// Count, mean and sum of squared deviations of the values seen, all taken relative to the
/// first value (`shift`), so that a large common offset costs no precision; NaN values are
/// skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stddev {
    n: u64,
    shift: f64,
    mean: f64,
    m2: f64,
}

impl Stddev {
    /// The variance under `estimator`.
    pub fn variance(&self, estimator: Estimator) -> f64 {
        let denominator = match estimator {
            Estimator::Sample => self.n.saturating_sub(1),
            Estimator::Population => self.n,
        };
        if denominator == 0 {
            f64::NAN
        } else {
            self.m2 / denominator as f64
        }
    }
}

impl Aggregator for Stddev {
    type Config = StddevConfig;
    const NAME: &'static str = "stddev";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Standard deviation of a field per group (Welford, Chan merge).";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"estimator":{"enum":["sample","population"]}},"additionalProperties":false}"#;

    fn validate(_: &StddevConfig) -> Result<(), Error> {
        Ok(())
    }
    fn new(_: &StddevConfig) -> Self {
        Self::default()
    }
    fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        if self.n == 0 {
            self.shift = value;
        }
        let value = value - self.shift;
        self.n += 1;
        let delta = value - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (value - self.mean);
    }
    fn merge(&mut self, other: Self) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = other;
            return;
        }
        let n = self.n + other.n;
        let other_mean = other.mean + (other.shift - self.shift);
        let delta = other_mean - self.mean;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        self.mean += delta * nb / nf;
        self.m2 += other.m2 + delta * delta * na * nb / nf;
        self.n = n;
    }
    fn finish(&self, config: &StddevConfig, out: &mut Vec<f64>) {
        out.push(self.variance(config.estimator).sqrt());
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Stddev);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    /// Two-pass formula on the values minus their common offset (an exact subtraction), so
    /// the reference itself does not lose precision to the offset.
    fn two_pass(values: &[f64], ddof: f64) -> f64 {
        let values: Vec<f64> = values.iter().map(|v| v - 1e9).collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - ddof)).sqrt()
    }

    #[test]
    fn matches_two_pass_formula_after_merge_and_round_trip() {
        let values: Vec<f64> = (0..1000).map(|i| 1e9 + (i as f64 * 0.37).sin()).collect();
        for (estimator, ddof) in [(Estimator::Sample, 1.0), (Estimator::Population, 0.0)] {
            let config = StddevConfig { estimator };
            let mut a: Stddev = accumulate(&config, &values[..300]);
            a.merge(accumulate(&config, &values[300..]));
            let a = round_trip(&a);
            let got = finish(&a, &config)[0];
            let want = two_pass(&values, ddof);
            assert!(((got - want) / want).abs() < 1e-9, "{got} vs {want}");
        }
    }

    #[test]
    fn too_few_values_give_nan() {
        let config = StddevConfig::default();
        assert!(finish(&accumulate::<Stddev>(&config, &[1.0]), &config)[0].is_nan());
        let population = StddevConfig {
            estimator: Estimator::Population,
        };
        assert_eq!(
            finish(&accumulate::<Stddev>(&population, &[1.0]), &population),
            vec![0.0]
        );
    }
}
