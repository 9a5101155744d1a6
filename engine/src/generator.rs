//! A deterministic, seeded generator of sample events, for the demo, tests and benchmarks.
//!
//! Event `i` happens at `start_ms + (i / events_per_step) * step_ms` and is stamped up to `max_disorder_ms` earlier
//! (uniformly), so event times arrive out of order but never by more than `max_disorder_ms`
//! behind the newest one. Every `late_every`-th event (when non-zero) is instead stamped
//! `late_by_ms` in the past, to exercise late handling.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Zipf;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::RawBatch;

/// How keys are drawn.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyDistribution {
    /// Every key equally often.
    #[default]
    Uniform,
    /// Key `k` (from 1) with probability proportional to `1 / k^exponent`: a few hot keys.
    Zipf {
        /// Skew; 1.0 is classic Zipf.
        exponent: f64,
    },
}

/// Generator settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of events; 0 for an endless stream.
    pub events: u64,
    /// Number of distinct keys (`user-0` …).
    pub keys: u32,
    /// How often each key occurs.
    pub key_distribution: KeyDistribution,
    /// Extra bytes of padding in each event (a `pad` field), to vary the payload size.
    pub payload_bytes: usize,
    /// Seed: the same settings and seed give the same events.
    pub seed: u64,
    /// Event time of the first event, epoch ms.
    pub start_ms: i64,
    /// Event-time distance between consecutive steps, ms.
    pub step_ms: i64,
    /// Events per step (all at the same nominal time): the event-time density.
    pub events_per_step: u64,
    /// Largest out-of-orderness, ms.
    pub max_disorder_ms: i64,
    /// Every n-th event is late (0: none).
    pub late_every: u64,
    /// How far in the past a late event is stamped, ms.
    pub late_by_ms: i64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            events: 100_000,
            keys: 10,
            key_distribution: KeyDistribution::Uniform,
            payload_bytes: 0,
            seed: 42,
            start_ms: 1_700_000_000_000,
            step_ms: 1,
            events_per_step: 1,
            max_disorder_ms: 500,
            late_every: 0,
            late_by_ms: 60_000,
        }
    }
}

impl GeneratorConfig {
    /// Checks ranges; the error is `(key, message)`.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.keys == 0 {
            return Err(("keys", "must be at least 1"));
        }
        if let KeyDistribution::Zipf { exponent } = self.key_distribution
            && !(exponent.is_finite() && exponent >= 0.0)
        {
            return Err((
                "key_distribution.exponent",
                "must be a number of at least 0",
            ));
        }
        if self.payload_bytes > 1 << 20 {
            return Err(("payload_bytes", "must be at most 1048576"));
        }
        if self.events_per_step == 0 {
            return Err(("events_per_step", "must be at least 1"));
        }
        if self.step_ms < 0 || self.max_disorder_ms < 0 || self.late_by_ms < 0 {
            return Err((
                "step_ms",
                "step_ms, max_disorder_ms and late_by_ms must not be negative",
            ));
        }
        Ok(())
    }
}

/// The generator's state.
pub struct Generator {
    config: GeneratorConfig,
    rng: StdRng,
    zipf: Option<Zipf<f64>>,
    padding: String,
    next: u64,
    last_key: u32,
}

impl Generator {
    /// A generator at its first event.
    pub fn new(config: GeneratorConfig) -> Self {
        let zipf = match config.key_distribution {
            KeyDistribution::Uniform => None,
            KeyDistribution::Zipf { exponent } => {
                Zipf::new(f64::from(config.keys.max(1)), exponent).ok()
            }
        };
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            zipf,
            padding: "x".repeat(config.payload_bytes),
            config,
            next: 0,
            last_key: 0,
        }
    }

    /// Whether every event has been produced.
    pub fn done(&self) -> bool {
        self.config.events != 0 && self.next >= self.config.events
    }

    /// Writes the next event's JSON into `out` (cleared first); false when done.
    pub fn next_event(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done() {
            return false;
        }
        let c = &self.config;
        let i = self.next;
        self.next += 1;
        let step = i64::try_from(i / c.events_per_step.max(1)).unwrap_or(i64::MAX);
        let base = c.start_ms.saturating_add(step.saturating_mul(c.step_ms));
        let late = c.late_every != 0 && (i + 1).is_multiple_of(c.late_every);
        let ts = if late {
            base - c.late_by_ms
        } else {
            base - self.rng.random_range(0..=c.max_disorder_ms)
        };
        let key = match &self.zipf {
            Some(zipf) => (self.rng.sample(zipf) as u32)
                .saturating_sub(1)
                .min(c.keys - 1),
            None => self.rng.random_range(0..c.keys),
        };
        self.last_key = key;
        let amount = f64::from(self.rng.random_range(0..100_000u32)) / 100.0;
        let latency = self.rng.random::<f64>().powi(3) * 1000.0;
        out.clear();
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(
            out,
            format_args!(
                r#"{{"key":"user-{key}","ts":{ts},"amount":{amount},"latency_ms":{latency:.3}"#
            ),
        );
        if !self.padding.is_empty() {
            out.extend_from_slice(br#","pad":""#);
            out.extend_from_slice(self.padding.as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
        true
    }

    /// The key of the event [`Generator::next_event`] wrote last.
    pub fn last_key(&self) -> String {
        format!("user-{}", self.last_key)
    }

    /// The next batch of up to `size` events, or `None` when done.
    pub fn next_batch(&mut self, size: usize) -> Option<RawBatch> {
        let mut batch = RawBatch::with_capacity(size, size * 80);
        let mut line = Vec::with_capacity(96);
        while batch.len() < size && self.next_event(&mut line) {
            batch.push(&line, 0);
        }
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_keys_are_skewed_and_padding_sizes_payloads() {
        let config = GeneratorConfig {
            events: 10_000,
            keys: 100,
            key_distribution: KeyDistribution::Zipf { exponent: 1.2 },
            payload_bytes: 200,
            ..Default::default()
        };
        config.validate().expect("valid");
        let batch = Generator::new(config).next_batch(20_000).expect("events");
        let mut hot = 0;
        for row in 0..batch.len() {
            let v: serde_json::Value = serde_json::from_slice(batch.payload(row)).expect("json");
            assert_eq!(v["pad"].as_str().map(str::len), Some(200));
            hot += usize::from(v["key"] == "user-0");
        }
        assert!(hot > 1_000, "user-0 is hot under Zipf: {hot} of 10000");
    }

    #[test]
    fn is_deterministic_and_bounded() {
        let config = GeneratorConfig {
            events: 1000,
            max_disorder_ms: 50,
            ..Default::default()
        };
        let a = Generator::new(config.clone())
            .next_batch(2000)
            .expect("events");
        let b = Generator::new(config.clone())
            .next_batch(2000)
            .expect("events");
        assert_eq!(a, b);
        assert_eq!(a.len(), 1000);
        let mut max = i64::MIN;
        for row in 0..a.len() {
            let v: serde_json::Value = serde_json::from_slice(a.payload(row)).expect("json");
            let ts = v["ts"].as_i64().expect("ts");
            assert!(
                ts >= max.saturating_sub(50),
                "event {row} is {} behind",
                max.saturating_sub(ts)
            );
            max = max.max(ts);
        }
    }
}
