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
