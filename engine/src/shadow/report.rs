//! A shadow run's comparison: one step's results of the live aggregate and of the candidate,
//! matched window by window.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::aggregate::Finished;
use crate::operator::Emitted;
use crate::results::Emit;

/// A result's identity: why it was emitted, key, window start and end.
type Identity = (Emit, Arc<str>, i64, i64);

/// One result's values of one aggregate: output names and values.
type Values<'a> = (&'a [String], &'a [f64]);

/// What a shadow run found so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowReport {
    /// Results both versions made with the same values.
    pub equal: u64,
    /// Results both versions made with different values (or different outputs).
    pub different: u64,
    /// Results only the live version made.
    pub only_live: u64,
    /// Results only the candidate made.
    pub only_shadow: u64,
    /// Results of windows that began before the shadow run did (partial in the candidate),
    /// not compared.
    pub skipped: u64,
    /// Per output (`aggregate`, or `aggregate.output` for plugins with named outputs), the
    /// largest relative difference seen: `|a - b| / max(|a|, |b|)`, infinite when one side
    /// is not a finite number and the other is.
    pub largest_difference: BTreeMap<String, f64>,
}

impl ShadowReport {
    /// Compares one step's results: `live` with the live aggregate in column `live_column`
    /// of its results, `shadow` with the candidate in `shadow_column`. Windows that began
    /// before `since` (epoch ms) are skipped.
    pub fn compare(
        &mut self,
        live: &[Emitted],
        live_column: usize,
        shadow: &[Emitted],
        shadow_column: usize,
        since: i64,
    ) {
        let mut live_rows: HashMap<Identity, (&str, Values<'_>)> = HashMap::new();
        for (identity, name, values) in rows(live, live_column) {
            if identity.2 < since {
                self.skipped += 1;
            } else {
                live_rows.insert(identity, (name, values));
            }
        }
        for (identity, _, theirs) in rows(shadow, shadow_column) {
            if identity.2 < since {
                continue;
            }
            match live_rows.remove(&identity) {
                Some((name, ours)) => self.compare_values(name, ours, theirs),
                None => self.only_shadow += 1,
            }
        }
        self.only_live += live_rows.len() as u64;
    }

    fn compare_values(&mut self, name: &str, ours: Values<'_>, theirs: Values<'_>) {
        let mut equal = ours.0 == theirs.0;
        for (output, &a) in ours.0.iter().zip(ours.1) {
            let b = theirs
                .0
                .iter()
                .position(|o| o == output)
                .map_or(f64::NAN, |j| theirs.1[j]);
            let difference = relative_difference(a, b);
            equal &= difference == 0.0;
            let label = if output.is_empty() {
                name.to_string()
            } else {
                format!("{name}.{output}")
            };
            let largest = self.largest_difference.entry(label).or_insert(0.0);
            *largest = largest.max(difference);
        }
        if equal {
            self.equal += 1;
        } else {
            self.different += 1;
        }
    }
}

/// Each result of `emitted` with its values in aggregate `column` (results without that
/// column are left out).
fn rows(
    emitted: &[Emitted],
    column: usize,
) -> impl Iterator<Item = (Identity, &str, Values<'_>)> + '_ {
    emitted.iter().flat_map(move |e| {
        let Finished { columns } = &e.finished;
        let values = columns.get(column);
        e.groups.iter().enumerate().filter_map(move |(i, group)| {
            let (name, outputs, values) = values?;
            let width = outputs.len();
            let row = values.get(i * width..(i + 1) * width)?;
            let identity = (
                e.emit,
                Arc::clone(&group.key),
                group.window.start,
                group.window.end,
            );
            Some((identity, name.as_str(), (outputs.as_slice(), row)))
        })
    })
}

/// How far apart two results are, relative to the larger: 0 when equal (NaN equals NaN),
/// infinite when only one is a finite number.
pub fn relative_difference(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    if !a.is_finite() || !b.is_finite() {
        return f64::INFINITY;
    }
    (a - b).abs() / a.abs().max(b.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groups::Group;
    use crate::window::Window;

    /// One emitted set: `(key, start)` groups of 10 s windows with one value each, under
    /// aggregate `name`.
    fn emitted(emit: Emit, name: &str, rows: &[(&str, i64, f64)]) -> Emitted {
        Emitted {
            emit,
            groups: rows
                .iter()
                .map(|&(key, start, _)| Group {
                    window: Window {
                        start,
                        end: start + 10_000,
                    },
                    key: Arc::from(key),
                    fired: true,
                    pending: 0,
                    first_offset: 0,
                })
                .collect(),
            finished: Finished {
                columns: vec![(
                    name.to_string(),
                    vec![String::new()],
                    rows.iter().map(|r| r.2).collect(),
                )],
            },
        }
    }

    #[test]
    fn equal_results_are_counted_equal() {
        let live = [emitted(
            Emit::OnTime,
            "total",
            &[("a", 0, 3.0), ("b", 0, f64::NAN)],
        )];
        let shadow = [emitted(
            Emit::OnTime,
            "total",
            &[("b", 0, f64::NAN), ("a", 0, 3.0)],
        )];
        let mut report = ShadowReport::default();
        report.compare(&live, 0, &shadow, 0, 0);
        assert_eq!(report.equal, 2);
        assert_eq!(report.different + report.only_live + report.only_shadow, 0);
        assert_eq!(report.largest_difference["total"], 0.0);
    }

    #[test]
    fn differences_and_one_sided_results_are_counted() {
        let live = [emitted(
            Emit::OnTime,
            "total",
            &[("a", 0, 4.0), ("b", 0, 1.0)],
        )];
        let shadow = [
            emitted(Emit::OnTime, "total", &[("a", 0, 3.0)]),
            emitted(Emit::LateUpdate, "total", &[("b", 0, 1.0)]),
        ];
        let mut report = ShadowReport::default();
        report.compare(&live, 0, &shadow, 0, 0);
        assert_eq!(
            (
                report.equal,
                report.different,
                report.only_live,
                report.only_shadow
            ),
            (0, 1, 1, 1)
        );
        assert_eq!(report.largest_difference["total"], 0.25);
        report.compare(&live[..], 0, &live[..], 0, 0);
        assert_eq!(report.equal, 2, "a second step adds to the counts");
    }

    #[test]
    fn windows_begun_before_the_shadow_are_skipped() {
        let live = [emitted(
            Emit::OnTime,
            "n",
            &[("a", 0, 9.0), ("a", 10_000, 2.0)],
        )];
        let shadow = [emitted(
            Emit::OnTime,
            "n",
            &[("a", 0, 4.0), ("a", 10_000, 2.0)],
        )];
        let mut report = ShadowReport::default();
        report.compare(&live, 0, &shadow, 0, 5_000);
        assert_eq!((report.equal, report.different, report.skipped), (1, 0, 1));
    }

    #[test]
    fn relative_differences() {
        assert_eq!(relative_difference(2.0, 2.0), 0.0);
        assert_eq!(relative_difference(f64::NAN, f64::NAN), 0.0);
        assert_eq!(relative_difference(-1.0, 1.0), 2.0);
        assert_eq!(relative_difference(1.0, f64::NAN), f64::INFINITY);
        assert_eq!(relative_difference(0.0, 5.0), 1.0);
    }
}
