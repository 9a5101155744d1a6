//! Built-in aggregator `percentile`: quantiles of a field in a group, estimated with a t-digest
//! (the `tdigest` crate).
//!
//! Accuracy: with the default compression of 100, every estimated quantile lies within
//! 1 % of rank of the true one (the value returned for `q` has a rank between `(q - 0.01) n` and
//! `(q + 0.01) n` among the `n` values), and is usually far closer at the tails. The host's tests
//! check exactly this bound. Groups with no values give NaN (`null`).

use eddy_sdk::{Aggregator, Error};
use serde::{Deserialize, Serialize};
use tdigest::TDigest;

/// Configuration of `percentile`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PercentileConfig {
    /// Quantiles to report, each in `[0, 1]`. Default `[0.5, 0.9, 0.99]`.
    pub quantiles: Vec<f64>,
    /// Largest number of centroids kept per group (the t-digest compression). Default 100.
    pub compression: usize,
}

impl Default for PercentileConfig {
    fn default() -> Self {
        Self {
            quantiles: vec![0.5, 0.9, 0.99],
            compression: 100,
        }
    }
}

/// Values are buffered until there are this many times the compression, then compressed into
/// the digest together: few large compressions lose far less accuracy than many small ones, and
/// small groups stay exact.
const BUFFER_FACTOR: usize = 4;

/// A t-digest plus a small buffer of values not yet compressed into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    digest: TDigest,
    buffer: Vec<f64>,
}

impl Percentile {
    fn compress(&mut self) {
        if !self.buffer.is_empty() {
            self.digest = self.digest.merge_unsorted(std::mem::take(&mut self.buffer));
        }
    }

    /// The digest including buffered values.
    fn digest(&self) -> TDigest {
        if self.buffer.is_empty() {
            self.digest.clone()
        } else {
            self.digest.merge_unsorted(self.buffer.clone())
        }
    }
}

/// The output name of quantile `q`: `p50`, `p99`, `p99.9`.
pub fn quantile_name(q: f64) -> String {
    format!("p{}", (q * 1e6).round() / 1e4)
}

impl Aggregator for Percentile {
    type Config = PercentileConfig;
    const NAME: &'static str = "percentile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Quantiles of a field per group (t-digest).";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"quantiles":{"type":"array","items":{"type":"number","minimum":0,"maximum":1},"minItems":1},"compression":{"type":"integer","minimum":10}},"additionalProperties":false}"#;

    fn validate(config: &PercentileConfig) -> Result<(), Error> {
        if config.quantiles.is_empty() {
            return Err(Error::msg("quantiles: give at least one quantile"));
        }
        if let Some(q) = config.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(Error::msg(format!("quantiles: {q} is outside [0, 1]")));
        }
        if config.compression < 10 {
            return Err(Error::msg("compression: must be at least 10"));
        }
        Ok(())
    }
    fn outputs(config: &PercentileConfig) -> Vec<String> {
        config.quantiles.iter().map(|&q| quantile_name(q)).collect()
    }
    fn new(config: &PercentileConfig) -> Self {
        Self {
            digest: TDigest::new_with_size(config.compression),
            buffer: Vec::new(),
        }
    }
    fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.buffer.push(value);
        if self.buffer.len() >= BUFFER_FACTOR * self.digest.max_size() {
            self.compress();
        }
    }
    fn merge(&mut self, mut other: Self) {
        self.compress();
        other.compress();
        let digest = std::mem::replace(&mut self.digest, TDigest::new_with_size(1));
        self.digest = TDigest::merge_digests(vec![digest, other.digest]);
    }
    fn finish(&self, config: &PercentileConfig, out: &mut Vec<f64>) {
        let digest = self.digest();
        for &q in &config.quantiles {
            out.push(if digest.is_empty() {
                f64::NAN
            } else {
                digest.estimate_quantile(q)
            });
        }
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Percentile);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, rank_error, round_trip};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn quantiles_within_stated_rank_error_after_merge_and_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let values: Vec<f64> = (0..20_000)
            .map(|_| rng.random::<f64>().powi(3) * 1000.0)
            .collect();
        let config = PercentileConfig {
            quantiles: vec![0.01, 0.25, 0.5, 0.9, 0.99, 0.999],
            compression: 100,
        };
        let mut a: Percentile = accumulate(&config, &values[..7_000]);
        a.merge(accumulate(&config, &values[7_000..]));
        let a = round_trip(&a);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, estimate) in config.quantiles.iter().zip(finish(&a, &config)) {
            let error = rank_error(&sorted, *q, estimate);
            assert!(error <= 0.01, "q={q}: rank error {error}");
        }
    }

    #[test]
    fn names_and_validation() {
        assert_eq!(quantile_name(0.5), "p50");
        assert_eq!(quantile_name(0.999), "p99.9");
        let bad = PercentileConfig {
            quantiles: vec![1.5],
            compression: 100,
        };
        assert!(Percentile::validate(&bad).is_err());
        let config = PercentileConfig::default();
        assert!(
            finish(&Percentile::new(&config), &config)
                .iter()
                .all(|v| v.is_nan())
        );
    }
}
