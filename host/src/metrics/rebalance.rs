//! Consumer group rebalances as this replica sees them.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What a rebalance did to this replica's partitions.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct RebalanceLabels {
    /// `assigned` or `revoked`.
    pub change: &'static str,
}

/// Rebalance metrics.
#[derive(Debug, Clone)]
pub struct RebalanceMetrics {
    /// Rebalance callbacks, by what they did (`assigned`, `revoked`).
    pub changes: Family<RebalanceLabels, Counter>,
    /// Partitions gained, kept and lost across rebalances, by what happened to them.
    pub partitions: Family<PartitionMoveLabels, Counter>,
    /// Seconds a partition this replica kept through a rebalance took no input (from its
    /// revocation to its assignment again).
    pub pause: Histogram,
    /// 1 for each partition of the source topic this replica owns, 0 for one it owned before.
    pub owned: Family<super::PartitionLabels, Gauge>,
}

/// What a rebalance did to a partition.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PartitionMoveLabels {
    /// `kept` (owned before and after), `gained` or `lost`.
    pub moved: &'static str,
}

impl Default for RebalanceMetrics {
    fn default() -> Self {
        let changes = Family::<RebalanceLabels, Counter>::default();
        for change in ["assigned", "revoked"] {
            let _ = changes.get_or_create(&RebalanceLabels { change });
        }
        let partitions = Family::<PartitionMoveLabels, Counter>::default();
        for moved in ["kept", "gained", "lost"] {
            let _ = partitions.get_or_create(&PartitionMoveLabels { moved });
        }
        Self {
            changes,
            partitions,
            pause: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            owned: Family::default(),
        }
    }
}

impl RebalanceMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rebalances",
            "Consumer group rebalances that assigned or revoked partitions of this replica",
            self.changes.clone(),
        );
        registry.register(
            "rebalance_partitions",
            "Partitions this replica kept, gained or lost in rebalances",
            self.partitions.clone(),
        );
        registry.register(
            "rebalance_pause_seconds",
            "Time a partition kept through a rebalance took no input (revoked to assigned again)",
            self.pause.clone(),
        );
        registry.register(
            "partition_owned",
            "1 for each source partition this replica owns (0: owned before, not now)",
            self.owned.clone(),
        );
    }
}
