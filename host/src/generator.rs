//! A deterministic, seeded generator of sample events, for the demo, tests and benchmarks.
//!
//! Event `i` happens at `start_ms + (i / events_per_step) * step_ms` and is stamped up to `max_disorder_ms` earlier
//! (uniformly), so event times arrive out of order but never by more than `max_disorder_ms`
//! behind the newest one. Every `late_every`-th event (when non-zero) is instead stamped
//! `late_by_ms` in the past, to exercise late handling.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::event::RawBatch;

/// Generator settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of events; 0 for an endless stream.
    pub events: u64,
    /// Number of distinct keys (`user-0` …).
    pub keys: u32,
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
    next: u64,
}

impl Generator {
    /// A generator at its first event.
    pub fn new(config: GeneratorConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            next: 0,
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
        let key = self.rng.random_range(0..c.keys);
        let amount = f64::from(self.rng.random_range(0..100_000u32)) / 100.0;
        let latency = self.rng.random::<f64>().powi(3) * 1000.0;
        out.clear();
        // Writing to a Vec cannot fail.
        let _ = std::io::Write::write_fmt(
            out,
            format_args!(
                r#"{{"key":"user-{key}","ts":{ts},"amount":{amount},"latency_ms":{latency:.3}}}"#
            ),
        );
        true
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
