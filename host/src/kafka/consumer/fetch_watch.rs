//! Assigned partitions whose fetching has not started for a while, from librdkafka's
//! statistics. After a seek or an assignment librdkafka looks the offset up or validates it
//! (fetch states `offset-query`, `offset-wait`, `validate-epoch-wait`), which takes
//! milliseconds; a partition that stays there reads nothing and reports no error (cf.
//! confluentinc/librdkafka#4492). Eddy logs a warning naming the partition and the state, so
//! that a stream that went quiet says why.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Fetch states in which a partition waits for an offset before it fetches.
const WAITING: [&str; 3] = ["offset-query", "offset-wait", "validate-epoch-wait"];

/// Consecutive statistics reports in a waiting state before a partition counts as stalled.
pub(super) const STALLED_AFTER: u32 = 2;

/// Each waiting partition's state and for how many consecutive reports it has been in it.
#[derive(Debug, Default)]
pub(super) struct FetchWatch {
    waiting: Mutex<BTreeMap<i32, (String, u32)>>,
}

impl FetchWatch {
    /// Takes one statistics report's `(partition, wanted, fetch state)`; returns the
    /// partitions that have just become stalled (reported once per stall), with their state.
    pub(super) fn observe<'a>(
        &self,
        partitions: impl IntoIterator<Item = (i32, bool, &'a str)>,
    ) -> Vec<(i32, String)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = BTreeMap::new();
        let mut stalled = Vec::new();
        for (partition, desired, state) in partitions {
            if partition < 0 || !desired || !WAITING.contains(&state) {
                continue;
            }
            let reports = match waiting.get(&partition) {
                Some((previous, n)) if previous == state => n + 1,
                _ => 1,
            };
            if reports == STALLED_AFTER {
                stalled.push((partition, state.to_string()));
            }
            seen.insert(partition, (state.to_string(), reports));
        }
        *waiting = seen;
        stalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_waiting_two_reports_in_a_row_is_reported_once() {
        let watch = FetchWatch::default();
        let report = |state: &'static str| vec![(0, true, "active"), (1, true, state)];
        assert!(watch.observe(report("validate-epoch-wait")).is_empty());
        assert_eq!(
            watch.observe(report("validate-epoch-wait")),
            vec![(1, "validate-epoch-wait".to_string())]
        );
        assert!(watch.observe(report("validate-epoch-wait")).is_empty());
        // Fetching again, then waiting again: a new stall.
        assert!(watch.observe(report("active")).is_empty());
        assert!(watch.observe(report("offset-query")).is_empty());
        assert_eq!(watch.observe(report("offset-query")).len(), 1);
    }

    #[test]
    fn unwanted_or_active_partitions_are_not_stalled() {
        let watch = FetchWatch::default();
        for _ in 0..3 {
            assert!(
                watch
                    .observe([
                        (2, false, "offset-wait"),
                        (3, true, "active"),
                        (-1, true, "offset-wait")
                    ])
                    .is_empty()
            );
        }
    }
}
