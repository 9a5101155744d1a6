//! What the pipeline did, as Prometheus metrics: records through each stage, errors by kind,
//! watermark and consumer lag, state size, and the latency of results.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use eddy_engine::stats::Stats;

/// A stage and a direction.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `source`, `transforms`, `decode`, `windows`.
    pub stage: &'static str,
    /// `in` or `out`.
    pub direction: &'static str,
}

/// A kind of error.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `dead_letter`, `late`, `plugin_trap`, `consumer`.
    pub kind: &'static str,
}

/// A source partition.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Its number.
    pub partition: i64,
}

fn seconds() -> Histogram {
    // 1 ms to ~18 h.
    Histogram::new(exponential_buckets(0.001, 2.0, 26))
}

/// The pipeline's metrics.
#[derive(Debug)]
pub struct PipelineMetrics {
    records_in: Counter,
    events: Counter,
    results: Counter,
    late: Counter,
    dead_letters: Counter,
    blank_lines: Counter,
    filtered: Counter,
    replayed: Counter,
    windows_dropped: Counter,
    group_limit_refused: Counter,
    stages: Family<StageLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    /// Processing time minus the lowest watermark, seconds.
    pub watermark_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Records behind the end of each assigned partition (librdkafka statistics).
    pub consumer_lag: Family<PartitionLabels, Gauge>,
    /// Open groups (key × window).
    pub groups: Gauge,
    /// Open groups a previous plugin version still holds after a same-format swap.
    pub groups_moving: Gauge,
    /// From the watermark passing a window's end to its result being acknowledged, seconds.
    pub delivery: Histogram,
    /// From a window's end (event time) to its result being emitted (processing time).
    pub event_time_lag: Histogram,
    /// Epoch seconds of the last checkpoint written.
    pub last_checkpoint: Gauge,
    seen: std::sync::Mutex<(Stats, u64)>,
    worker_batches: Counter,
    workers_seen: std::sync::atomic::AtomicU64,
}

impl Default for PipelineMetrics {
    fn default() -> Self {
        Self {
            records_in: Counter::default(),
            events: Counter::default(),
            results: Counter::default(),
            late: Counter::default(),
            dead_letters: Counter::default(),
            blank_lines: Counter::default(),
            filtered: Counter::default(),
            replayed: Counter::default(),
            windows_dropped: Counter::default(),
            group_limit_refused: Counter::default(),
            stages: Family::default(),
            errors: Family::default(),
            watermark_lag: Gauge::default(),
            consumer_lag: Family::default(),
            groups: Gauge::default(),
            groups_moving: Gauge::default(),
            delivery: seconds(),
            event_time_lag: seconds(),
            last_checkpoint: Gauge::default(),
            seen: std::sync::Mutex::new((Stats::default(), 0)),
            worker_batches: Counter::default(),
            workers_seen: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl PipelineMetrics {
    /// Registers every metric.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "records_in",
            "Records read from the source",
            self.records_in.clone(),
        );
        r.register(
            "events",
            "Events decoded and assigned to windows",
            self.events.clone(),
        );
        r.register("results", "Results written", self.results.clone());
        r.register(
            "late_events",
            "Events sent to the late output",
            self.late.clone(),
        );
        r.register(
            "dead_letters",
            "Records sent to the dead-letter output",
            self.dead_letters.clone(),
        );
        r.register(
            "blank_lines",
            "Blank lines of a file or stream source, skipped",
            self.blank_lines.clone(),
        );
        r.register(
            "filtered",
            "Records removed by filter stages",
            self.filtered.clone(),
        );
        r.register(
            "replayed",
            "Records skipped because a previous owner of their partition had accounted for them",
            self.replayed.clone(),
        );
        r.register(
            "windows_dropped",
            "Windows dropped because an aggregator failed to finish them twice (one dead letter each)",
            self.windows_dropped.clone(),
        );
        r.register(
            "group_limit_refused",
            "Events dead-lettered because their partition held state.max_open_groups open groups",
            self.group_limit_refused.clone(),
        );
        r.register(
            "stage_records",
            "Records into and out of each stage",
            self.stages.clone(),
        );
        r.register("errors", "Errors by kind", self.errors.clone());
        r.register(
            "watermark_lag_seconds",
            "Processing time minus the lowest watermark",
            self.watermark_lag.clone(),
        );
        r.register(
            "consumer_lag",
            "Records behind the end of each assigned input partition",
            self.consumer_lag.clone(),
        );
        r.register(
            "state_groups",
            "Open groups (key x window)",
            self.groups.clone(),
        );
        r.register(
            "swap_groups_moving",
            "Open groups whose state is still moving to a plugin version swapped in (same state format)",
            self.groups_moving.clone(),
        );
        r.register(
            "result_delivery_seconds",
            "From a result's emission (its window closed) to the broker acknowledging it",
            self.delivery.clone(),
        );
        r.register(
            "result_event_time_lag_seconds",
            "From a window's end in event time to its result's emission in processing time",
            self.event_time_lag.clone(),
        );
        r.register(
            "checkpoint_last_success_seconds",
            "Epoch seconds of the last checkpoint written",
            self.last_checkpoint.clone(),
        );
        r.register(
            "worker_batches",
            "Partition batches the workers decoded and windowed ahead of the loop (workers > 1)",
            self.worker_batches.clone(),
        );
    }

    /// Counts what `computed` (the pipeline's batches computed by workers since the start)
    /// adds to what was seen before.
    pub fn observe_workers(&self, computed: u64) {
        let before = self
            .workers_seen
            .swap(computed, std::sync::atomic::Ordering::Relaxed);
        self.worker_batches.inc_by(computed.saturating_sub(before));
    }

    /// Counts what `stats` adds to what was seen before; `poll_errors` is the consumer's.
    pub fn observe(&self, stats: &Stats, poll_errors: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (before, polls) = *seen;
        let delta = |now: u64, then: u64| now.saturating_sub(then);
        let records = delta(stats.records_in, before.records_in);
        let filtered = delta(stats.filtered, before.filtered);
        let events = delta(stats.events, before.events);
        let results = delta(stats.results, before.results);
        let late = delta(stats.late, before.late);
        let dead = delta(stats.dead_letters, before.dead_letters);
        let traps = delta(stats.plugin_traps, before.plugin_traps);
        self.records_in.inc_by(records);
        self.events.inc_by(events);
        self.results.inc_by(results);
        self.late.inc_by(late);
        self.dead_letters.inc_by(dead);
        self.blank_lines
            .inc_by(delta(stats.blank_lines, before.blank_lines));
        self.filtered.inc_by(filtered);
        self.replayed.inc_by(delta(stats.replayed, before.replayed));
        self.windows_dropped
            .inc_by(delta(stats.windows_dropped, before.windows_dropped));
        self.group_limit_refused
            .inc_by(delta(stats.group_limit_refused, before.group_limit_refused));
        let stage = |stage, direction, n| {
            self.stages
                .get_or_create(&StageLabels { stage, direction })
                .inc_by(n);
        };
        stage("source", "out", records);
        stage("transforms", "in", records);
        stage("transforms", "out", records.saturating_sub(filtered));
        stage("decode", "in", records.saturating_sub(filtered));
        stage("decode", "out", events);
        stage("windows", "in", events);
        stage("windows", "out", results);
        let error = |kind, n| {
            self.errors.get_or_create(&ErrorLabels { kind }).inc_by(n);
        };
        error("dead_letter", dead);
        error("late", late);
        error("plugin_trap", traps);
        error("consumer", delta(poll_errors, polls));
        *seen = (*stats, poll_errors);
    }
}
