//! Built-in aggregator `composite`: several built-in aggregates of one field in one result,
//! computed in a single pass (one call across the sandbox per batch instead of one per
//! aggregate).
//!
//! ```yaml
//! - name: amount
//!   plugin: composite
//!   field: /amount
//!   config: { aggregates: [count, sum, avg, min, max, stddev, percentile], percentile: { quantiles: [0.5, 0.99] } }
//! ```
//!
//! gives `"amount": {"count": …, "sum": …, "avg": …, "min": …, "max": …, "stddev": …, "p50": …, "p99": …}`.

use eddy_avg::Avg;
use eddy_count::Count;
use eddy_max::Max;
use eddy_min::Min;
use eddy_percentile::{Percentile, PercentileConfig};
use eddy_sdk::{Aggregator, Error, NoConfig};
use eddy_stddev::{Stddev, StddevConfig};
use serde::{Deserialize, Serialize};

/// Configuration of `composite`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeConfig {
    /// Names of the built-in aggregates to compute, in output order. Default
    /// `[count, sum, avg, min, max]`.
    pub aggregates: Vec<String>,
    /// Configuration of `stddev`, when listed.
    pub stddev: StddevConfig,
    /// Configuration of `percentile`, when listed.
    pub percentile: PercentileConfig,
}

impl Default for CompositeConfig {
    fn default() -> Self {
        Self {
            aggregates: ["count", "sum", "avg", "min", "max"]
                .map(String::from)
                .to_vec(),
            stddev: StddevConfig::default(),
            percentile: PercentileConfig::default(),
        }
    }
}

/// The accumulator of one of the parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Part {
    /// `count`.
    Count(Count),
    /// `sum`.
    Sum(eddy_sum::Sum),
    /// `avg`.
    Avg(Avg),
    /// `min`.
    Min(Min),
    /// `max`.
    Max(Max),
    /// `stddev`.
    Stddev(Stddev),
    /// `percentile`.
    Percentile(Percentile),
}

const KNOWN: [&str; 7] = ["count", "sum", "avg", "min", "max", "stddev", "percentile"];

impl Part {
    fn new(name: &str, config: &CompositeConfig) -> Option<Self> {
        let none = NoConfig {};
        Some(match name {
            "count" => Part::Count(Count::new(&none)),
            "sum" => Part::Sum(eddy_sum::Sum::new(&none)),
            "avg" => Part::Avg(Avg::new(&none)),
            "min" => Part::Min(Min::new(&none)),
            "max" => Part::Max(Max::new(&none)),
            "stddev" => Part::Stddev(Stddev::new(&config.stddev)),
            "percentile" => Part::Percentile(Percentile::new(&config.percentile)),
            _ => return None,
        })
    }

    fn add(&mut self, value: f64) {
        match self {
            Part::Count(a) => a.add(value),
            Part::Sum(a) => a.add(value),
            Part::Avg(a) => a.add(value),
            Part::Min(a) => a.add(value),
            Part::Max(a) => a.add(value),
            Part::Stddev(a) => a.add(value),
            Part::Percentile(a) => a.add(value),
        }
    }

    fn merge(&mut self, other: Part) {
        match (self, other) {
            (Part::Count(a), Part::Count(b)) => a.merge(b),
            (Part::Sum(a), Part::Sum(b)) => a.merge(b),
            (Part::Avg(a), Part::Avg(b)) => a.merge(b),
            (Part::Min(a), Part::Min(b)) => a.merge(b),
            (Part::Max(a), Part::Max(b)) => a.merge(b),
            (Part::Stddev(a), Part::Stddev(b)) => a.merge(b),
            (Part::Percentile(a), Part::Percentile(b)) => a.merge(b),
            _ => eddy_sdk::log::log(eddy_sdk::log::Level::Error, "composite: parts differ"),
        }
    }

    fn finish(&self, config: &CompositeConfig, out: &mut Vec<f64>) {
        let none = NoConfig {};
        match self {
            Part::Count(a) => a.finish(&none, out),
            Part::Sum(a) => a.finish(&none, out),
            Part::Avg(a) => a.finish(&none, out),
            Part::Min(a) => a.finish(&none, out),
            Part::Max(a) => a.finish(&none, out),
            Part::Stddev(a) => a.finish(&config.stddev, out),
            Part::Percentile(a) => a.finish(&config.percentile, out),
        }
    }
}

/// One accumulator per configured aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Composite {
    parts: Vec<Part>,
}

impl Aggregator for Composite {
    type Config = CompositeConfig;
    const NAME: &'static str = "composite";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Several built-in aggregates of one field in one result.";
    const CONFIG_SCHEMA: &'static str = r#"{"type":"object","properties":{"aggregates":{"type":"array","items":{"enum":["count","sum","avg","min","max","stddev","percentile"]},"minItems":1,"uniqueItems":true},"stddev":{"type":"object"},"percentile":{"type":"object"}},"additionalProperties":false}"#;

    fn validate(config: &CompositeConfig) -> Result<(), Error> {
        if config.aggregates.is_empty() {
            return Err(Error::msg("aggregates: list at least one aggregate"));
        }
        for (i, name) in config.aggregates.iter().enumerate() {
            if !KNOWN.contains(&name.as_str()) {
                return Err(Error::msg(format!(
                    "aggregates: unknown aggregate `{name}`; known: {}",
                    KNOWN.join(", ")
                )));
            }
            if config.aggregates[..i].contains(name) {
                return Err(Error::msg(format!("aggregates: `{name}` is listed twice")));
            }
        }
        Percentile::validate(&config.percentile)
    }

    fn outputs(config: &CompositeConfig) -> Vec<String> {
        let mut names = Vec::new();
        for name in &config.aggregates {
            if name == "percentile" {
                names.extend(Percentile::outputs(&config.percentile));
            } else {
                names.push(name.clone());
            }
        }
        names
    }

    fn new(config: &CompositeConfig) -> Self {
        Self {
            parts: config
                .aggregates
                .iter()
                .filter_map(|name| Part::new(name, config))
                .collect(),
        }
    }

    fn add(&mut self, value: f64) {
        for part in &mut self.parts {
            part.add(value);
        }
    }

    fn merge(&mut self, other: Self) {
        for (part, other) in self.parts.iter_mut().zip(other.parts) {
            part.merge(other);
        }
    }

    fn finish(&self, config: &CompositeConfig, out: &mut Vec<f64>) {
        for part in &self.parts {
            part.finish(config, out);
        }
    }
}

#[cfg(feature = "export")]
eddy_sdk::export_aggregator!(Composite);

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sdk::testing::{accumulate, finish, round_trip};

    #[test]
    fn computes_every_part_merges_and_round_trips() {
        let config: CompositeConfig = serde_json::from_str(
            r#"{"aggregates":["count","sum","min","max","avg","percentile"],"percentile":{"quantiles":[0.5]}}"#,
        )
        .unwrap();
        Composite::validate(&config).unwrap();
        assert_eq!(
            Composite::outputs(&config),
            ["count", "sum", "min", "max", "avg", "p50"]
        );
        let mut a: Composite = accumulate(&config, &[1.0, 2.0]);
        a.merge(accumulate(&config, &[3.0]));
        let a = round_trip(&a);
        assert_eq!(finish(&a, &config), vec![3.0, 6.0, 1.0, 3.0, 2.0, 2.0]);
    }

    #[test]
    fn refuses_unknown_and_duplicate_parts() {
        let unknown = CompositeConfig {
            aggregates: vec!["median".into()],
            ..Default::default()
        };
        assert!(
            Composite::validate(&unknown)
                .unwrap_err()
                .message()
                .contains("median")
        );
        let twice = CompositeConfig {
            aggregates: vec!["sum".into(), "sum".into()],
            ..Default::default()
        };
        assert!(Composite::validate(&twice).is_err());
    }
}
