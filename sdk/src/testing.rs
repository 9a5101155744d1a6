//! Helpers for testing an [`Aggregator`] natively, the way the host drives it.

use crate::Aggregator;
use crate::aggregator::{restore, save};

/// The values `finish` produces for `group`, checked against `outputs`.
///
/// # Panics
/// When `finish` produces a different number of values than `outputs` declares.
pub fn finish<A: Aggregator>(group: &A, config: &A::Config) -> Vec<f64> {
    let mut out = Vec::new();
    group.finish(config, &mut out);
    assert_eq!(
        out.len(),
        A::outputs(config).len(),
        "finish must produce one value per declared output"
    );
    out
}

/// Serialises and restores `group` through the same code the plugin uses for checkpoints.
///
/// # Panics
/// When the state does not survive the round trip.
pub fn round_trip<A: Aggregator>(group: &A) -> A {
    let mut bytes = Vec::new();
    save(group, &mut bytes).expect("state serialises");
    restore(&bytes).expect("state restores")
}

/// Feeds `values` into a new accumulator.
pub fn accumulate<A: Aggregator>(config: &A::Config, values: &[f64]) -> A {
    let mut group = A::new(config);
    for &value in values {
        group.add(value);
    }
    group
}

/// Fraction of `sorted.len()` by which `estimate` misses the rank of quantile `q` in `sorted`
/// (ascending): 0 when some position of `estimate` among the values is `q * n`. For checking
/// quantile sketches against exact data.
pub fn rank_error(sorted: &[f64], q: f64, estimate: f64) -> f64 {
    let n = sorted.len() as f64;
    let below = sorted.partition_point(|v| *v < estimate) as f64;
    let at_or_below = sorted.partition_point(|v| *v <= estimate) as f64;
    let target = q * n;
    if target < below {
        (below - target) / n
    } else if target > at_or_below {
        (target - at_or_below) / n
    } else {
        0.0
    }
}
