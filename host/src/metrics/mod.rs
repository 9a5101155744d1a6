//! Prometheus metrics, served as text on `/metrics` of the HTTP endpoint.

mod pipeline;
mod rebalance;
mod shadow;

pub use pipeline::{ErrorLabels, PartitionLabels, PipelineMetrics, StageLabels};
pub use rebalance::{PartitionMoveLabels, RebalanceLabels, RebalanceMetrics};
pub use shadow::{ShadowLabels, ShadowMetrics, ShadowOutputLabels, ShadowResultLabels};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Checkpoint and recovery metrics.
#[derive(Debug)]
pub struct CheckpointMetrics {
    /// Id of the latest checkpoint written.
    pub id: Gauge,
    /// Bytes of state written by the latest checkpoint.
    pub bytes: Gauge,
    /// Groups saved by the latest checkpoint (with incremental checkpoints, those changed
    /// since the one before).
    pub groups: Gauge,
    /// Seconds a checkpoint took (snapshot, write, commit).
    pub duration: Histogram,
    /// Seconds the poll loop stood still for a checkpoint (the changed groups collected; with
    /// exactly-once, also the write and the commit).
    pub pause: Histogram,
    /// Seconds a checkpoint written beside the loop took (flush, encode, write).
    pub write: Histogram,
    /// Checkpoints put off because the one before was still being written.
    pub postponed: Counter,
    /// Times the loop waited for a checkpoint being written (it took too long, or a barrier
    /// needed it).
    pub waits: Counter,
    /// Checkpoints written.
    pub written: Counter,
    /// Checkpoints that failed (the pipeline stops).
    pub failed: Counter,
    /// Partitions restored from a checkpoint (this replica's or the shared directory's).
    pub restored: Counter,
    /// Of those, restored from the shared directory (handed over by another replica, or
    /// newer there than here).
    pub restored_shared: Counter,
    /// Partitions resumed from the group's committed progress (re-reading open windows).
    pub replayed: Counter,
    /// Kafka transactions committed (exactly-once).
    pub transactions: Counter,
    /// Kafka transactions aborted (exactly-once; a rebalance or a failure).
    pub aborts: Counter,
}

/// Which plugin.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PluginLabel {
    /// Plugin name.
    pub plugin: String,
}

/// What became of an aggregator batch that trapped again after its retry.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct TrapOutcomeLabels {
    /// Plugin name.
    pub plugin: String,
    /// `dead_letter`, `rollback` or `stop` (`plugins.on_trap`, or an automatic rollback).
    pub outcome: &'static str,
}

/// What became of an upload.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct UploadLabels {
    /// `stored`, `refused` (not a usable plugin; the registry is unchanged), or `busy` (other
    /// uploads were being validated: `admin.max_concurrent_uploads`).
    pub outcome: &'static str,
}

/// What became of a request to the schema registry.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct SchemaRequestLabels {
    /// `ok`, `unknown` (no such schema, or not one Eddy reads) or `unreachable`.
    pub outcome: &'static str,
}

/// Spans dropped because the trace export queue was full (`otel.queue_size`): one counter for
/// the process, shared by the export (which may start before [`Metrics`]) and every registry.
pub fn trace_spans_dropped() -> Counter {
    static DROPPED: std::sync::OnceLock<Counter> = std::sync::OnceLock::new();
    DROPPED.get_or_init(Counter::default).clone()
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Checkpoints.
    pub checkpoint: CheckpointMetrics,
    /// Open groups dropped by `state.ttl`.
    pub groups_expired: Counter,
    /// Plugin calls, traps and call time.
    pub plugins: std::sync::Arc<crate::plugin::PluginMetrics>,
    /// Stages rolled back automatically (a new version trapped too often).
    pub rollbacks: Counter,
    /// Aggregator traps retried on fresh instances from the last checkpoint, by plugin.
    pub trap_retries: Family<PluginLabel, Counter>,
    /// Aggregator batches that trapped again after their retry, by what became of them.
    pub trap_outcomes: Family<TrapOutcomeLabels, Counter>,
    /// Partitions whose position fell out of the log (records deleted before they were read).
    pub offset_resets: Family<PartitionLabels, Counter>,
    /// Records deleted before they were read and skipped (`kafka.on_reset: continue`), or
    /// found lost before stopping.
    pub records_skipped: Family<PartitionLabels, Counter>,
    /// Plugin uploads over the admin API, by outcome.
    pub uploads: Family<UploadLabels, Counter>,
    /// Admin requests refused for a missing or wrong bearer token.
    pub admin_auth_failures: Counter,
    /// Admin changes refused because their address failed to authenticate too often.
    pub admin_rate_limited: Counter,
    /// Requests for schemas to the schema registry, by outcome.
    pub schema_requests: Family<SchemaRequestLabels, Counter>,
    /// Records, errors, lags, state size, result latency.
    pub pipeline: PipelineMetrics,
    /// Consumer group rebalances.
    pub rebalance: RebalanceMetrics,
    /// Shadow runs.
    pub shadow: ShadowMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero, registered under the `eddy_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("eddy");
        let checkpoint = CheckpointMetrics {
            id: Gauge::default(),
            bytes: Gauge::default(),
            groups: Gauge::default(),
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            pause: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            write: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            postponed: Counter::default(),
            waits: Counter::default(),
            written: Counter::default(),
            failed: Counter::default(),
            restored: Counter::default(),
            restored_shared: Counter::default(),
            replayed: Counter::default(),
            transactions: Counter::default(),
            aborts: Counter::default(),
        };
        let c = &checkpoint;
        let r = &mut registry;
        r.register("checkpoint_id", "Id of the latest checkpoint", c.id.clone());
        r.register(
            "checkpoint_bytes",
            "Bytes of state written by the latest checkpoint",
            c.bytes.clone(),
        );
        r.register(
            "checkpoint_groups",
            "Groups (key x window) saved by the latest checkpoint (changed ones when incremental)",
            c.groups.clone(),
        );
        r.register(
            "checkpoint_pause_seconds",
            "Time the poll loop stood still for a checkpoint",
            c.pause.clone(),
        );
        r.register(
            "checkpoint_write_seconds",
            "Time a checkpoint written beside the loop took: flush, encode, write",
            c.write.clone(),
        );
        r.register(
            "checkpoints_postponed",
            "Checkpoints put off because the one before was still being written",
            c.postponed.clone(),
        );
        r.register(
            "checkpoint_waits",
            "Times the loop waited for a checkpoint being written",
            c.waits.clone(),
        );
        r.register(
            "checkpoint_duration_seconds",
            "Time to take a checkpoint: snapshot, write, commit",
            c.duration.clone(),
        );
        r.register("checkpoints", "Checkpoints written", c.written.clone());
        r.register(
            "checkpoint_failures",
            "Checkpoints that failed",
            c.failed.clone(),
        );
        r.register(
            "partitions_restored",
            "Partitions restored from a checkpoint",
            c.restored.clone(),
        );
        r.register(
            "partitions_restored_shared",
            "Partitions restored from a checkpoint in the shared directory",
            c.restored_shared.clone(),
        );
        r.register(
            "partitions_replayed",
            "Partitions resumed from committed progress by reading open windows again",
            c.replayed.clone(),
        );
        r.register(
            "transactions_committed",
            "Kafka transactions committed (exactly-once)",
            c.transactions.clone(),
        );
        r.register(
            "transactions_aborted",
            "Kafka transactions aborted (exactly-once)",
            c.aborts.clone(),
        );
        let groups_expired = Counter::default();
        registry.register(
            "groups_expired",
            "Open groups dropped because their partition had no events for state.ttl",
            groups_expired.clone(),
        );
        let rollbacks = Counter::default();
        registry.register(
            "plugin_rollbacks",
            "Stages rolled back to their previous plugin version because the new one trapped",
            rollbacks.clone(),
        );
        let trap_retries = Family::<PluginLabel, Counter>::default();
        registry.register(
            "aggregator_retries",
            "Aggregator traps retried on fresh instances from the partition's last checkpoint",
            trap_retries.clone(),
        );
        let trap_outcomes = Family::<TrapOutcomeLabels, Counter>::default();
        registry.register(
            "aggregator_trap_outcomes",
            "Aggregator batches that trapped again after their retry: dead_letter, rollback or stop",
            trap_outcomes.clone(),
        );
        let offset_resets = Family::<PartitionLabels, Counter>::default();
        registry.register(
            "offset_resets",
            "Partitions whose position fell out of the log: records were deleted before they were read",
            offset_resets.clone(),
        );
        let records_skipped = Family::<PartitionLabels, Counter>::default();
        registry.register(
            "records_skipped",
            "Records deleted before they were read (kafka.on_reset)",
            records_skipped.clone(),
        );
        let uploads = Family::<UploadLabels, Counter>::default();
        for outcome in ["stored", "refused"] {
            let _ = uploads.get_or_create(&UploadLabels { outcome });
        }
        registry.register(
            "plugin_uploads",
            "Plugin uploads over the admin API: stored, or refused (not a usable plugin)",
            uploads.clone(),
        );
        let admin_auth_failures = Counter::default();
        registry.register(
            "admin_auth_failures",
            "Admin API requests refused for a missing or wrong bearer token",
            admin_auth_failures.clone(),
        );
        let admin_rate_limited = Counter::default();
        registry.register(
            "admin_auth_rate_limited",
            "Admin API changes refused (429) because their address failed to authenticate admin.failed_auth_per_minute times within a minute",
            admin_rate_limited.clone(),
        );
        let schema_requests = Family::<SchemaRequestLabels, Counter>::default();
        registry.register(
            "schema_registry_requests",
            "Schemas asked of the schema registry: ok, unknown (no such id, or not Avro) or unreachable (retried)",
            schema_requests.clone(),
        );
        let pipeline = PipelineMetrics::default();
        pipeline.register(&mut registry);
        let rebalance = RebalanceMetrics::default();
        rebalance.register(&mut registry);
        registry.register(
            "trace_spans_dropped",
            "Spans dropped because the trace export queue (otel.queue_size) was full: a slow or unreachable collector",
            trace_spans_dropped(),
        );
        let shadow = ShadowMetrics::default();
        shadow.register(&mut registry);
        let plugins = std::sync::Arc::new(crate::plugin::PluginMetrics::default());
        plugins.register(&mut registry);
        Self {
            registry,
            checkpoint,
            groups_expired,
            plugins,
            rollbacks,
            trap_retries,
            trap_outcomes,
            offset_resets,
            records_skipped,
            uploads,
            admin_auth_failures,
            admin_rate_limited,
            schema_requests,
            pipeline,
            rebalance,
            shadow,
        }
    }

    /// Counts a request to the schema registry.
    pub fn schema_registry_request(&self, outcome: &'static str) {
        self.schema_requests
            .get_or_create(&SchemaRequestLabels { outcome })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::error!(%error, "encoding metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_checkpoint_metrics() {
        let metrics = Metrics::new();
        metrics.checkpoint.id.set(7);
        metrics.checkpoint.duration.observe(0.25);
        let text = metrics.render();
        assert!(text.contains("eddy_checkpoint_id 7"), "{text}");
        assert!(
            text.contains("eddy_checkpoint_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains(r#"eddy_plugin_uploads_total{outcome="refused"} 0"#),
            "outcomes start at zero: {text}"
        );
    }
}
