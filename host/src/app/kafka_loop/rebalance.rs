//! What rebalances moved on this replica: partitions kept, gained and lost, counted and
//! logged, and how long the kept ones took no input.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::kafka::PartitionChange;
use crate::metrics::{PartitionLabels, PartitionMoveLabels, RebalanceLabels, RebalanceMetrics};

/// Partitions owned, and when partitions were revoked, across rebalances.
#[derive(Debug, Default)]
pub(super) struct Rebalances {
    owned: BTreeSet<u32>,
    revoked_at: BTreeMap<u32, Instant>,
}

impl Rebalances {
    /// Counts and logs `change`, a change the consumer group made.
    pub(super) fn observe(&mut self, change: &PartitionChange, metrics: &RebalanceMetrics) {
        let count = |change: &'static str| {
            metrics
                .changes
                .get_or_create(&RebalanceLabels { change })
                .inc();
        };
        let moved = |moved: &'static str, n: usize| {
            metrics
                .partitions
                .get_or_create(&PartitionMoveLabels { moved })
                .inc_by(n as u64);
        };
        match change {
            PartitionChange::Revoked(partitions) | PartitionChange::Revoking(partitions) => {
                count("revoked");
                let now = Instant::now();
                for &partition in partitions {
                    self.owned.remove(&partition);
                    self.revoked_at.insert(partition, now);
                    owned(metrics, partition).set(0);
                }
            }
            PartitionChange::Assigned(resumes) => {
                count("assigned");
                // Partitions never revoked (an incremental rebalance) were kept without a
                // pause; those revoked and assigned again (an eager one) paused.
                let (mut kept, mut gained): (Vec<u32>, Vec<u32>) = (
                    self.owned
                        .iter()
                        .copied()
                        .filter(|p| !resumes.iter().any(|(r, _)| r == p))
                        .collect(),
                    Vec::new(),
                );
                for &(partition, _) in resumes {
                    if let Some(revoked) = self.revoked_at.remove(&partition) {
                        metrics.pause.observe(revoked.elapsed().as_secs_f64());
                        kept.push(partition);
                    } else if !self.owned.contains(&partition) {
                        gained.push(partition);
                    }
                    self.owned.insert(partition);
                    owned(metrics, partition).set(1);
                }
                let lost: Vec<u32> = std::mem::take(&mut self.revoked_at).into_keys().collect();
                moved("kept", kept.len());
                moved("gained", gained.len());
                moved("lost", lost.len());
                tracing::info!(?kept, ?gained, ?lost, owned = ?self.owned, "assignment changed");
            }
            PartitionChange::Rewind(_) | PartitionChange::Failed(_) => {}
        }
    }
}

/// The `owned` gauge of `partition`.
fn owned(
    metrics: &RebalanceMetrics,
    partition: u32,
) -> impl std::ops::Deref<Target = prometheus_client::metrics::gauge::Gauge> + '_ {
    metrics.owned.get_or_create(&PartitionLabels {
        partition: i64::from(partition),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::recovery::Resume;

    fn assigned(partitions: &[u32]) -> PartitionChange {
        PartitionChange::Assigned(partitions.iter().map(|&p| (p, Resume::Fresh)).collect())
    }

    fn moved(metrics: &RebalanceMetrics, moved: &'static str) -> u64 {
        metrics
            .partitions
            .get_or_create(&PartitionMoveLabels { moved })
            .get()
    }

    #[test]
    fn an_eager_rebalance_keeps_gains_and_loses() {
        let metrics = RebalanceMetrics::default();
        let mut rebalances = Rebalances::default();
        rebalances.observe(&assigned(&[0, 1, 2]), &metrics);
        assert_eq!(moved(&metrics, "gained"), 3);
        rebalances.observe(&PartitionChange::Revoked(vec![0, 1, 2]), &metrics);
        rebalances.observe(&assigned(&[1, 2, 3]), &metrics);
        assert_eq!(moved(&metrics, "kept"), 2);
        assert_eq!(moved(&metrics, "gained"), 4);
        assert_eq!(moved(&metrics, "lost"), 1);
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("text");
        assert!(
            text.contains("rebalance_pause_seconds_count 2"),
            "one pause per kept partition: {text}"
        );
        let revoked = RebalanceLabels { change: "revoked" };
        assert_eq!(metrics.changes.get_or_create(&revoked).get(), 1);
    }

    #[test]
    fn an_incremental_rebalance_keeps_what_it_does_not_move() {
        let metrics = RebalanceMetrics::default();
        let mut rebalances = Rebalances::default();
        rebalances.observe(&assigned(&[0, 1, 2]), &metrics);
        // Partition 2 moves away; the second round assigns nothing new.
        rebalances.observe(&PartitionChange::Revoked(vec![2]), &metrics);
        rebalances.observe(&assigned(&[]), &metrics);
        assert_eq!(moved(&metrics, "kept"), 2);
        assert_eq!(moved(&metrics, "lost"), 1);
        // Later partition 5 comes in.
        rebalances.observe(&assigned(&[5]), &metrics);
        assert_eq!(moved(&metrics, "kept"), 4);
        assert_eq!(moved(&metrics, "gained"), 4);
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("text");
        assert!(
            text.contains("rebalance_pause_seconds_count 0"),
            "kept partitions did not pause: {text}"
        );
        assert!(
            text.contains("partition_owned{partition=\"2\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("partition_owned{partition=\"5\"} 1"),
            "{text}"
        );
    }
}
