//! The Kafka loop: poll a batch from the group consumer, split it by partition, process each
//! partition's records, publish resume offsets, periodically flush the producer and commit
//! them, and take checkpoints (see [`checkpoint`]); trapped batches in [`traps`], admin
//! changes in [`changes`].

mod changes;
mod checkpoint;
mod checkpoint_writer;
mod read;
mod rebalance;
mod reset;
mod traps;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::CommitMode;

use traps::Traps;

use super::Services;
use crate::kafka::{GroupConsumer, KafkaError, PartitionChange, Producer};
use crate::plugin::Control;
use eddy_engine::config::{Config, Delivery, SinkConfig, SourceConfig, TrapPolicy};
use eddy_engine::event::RawBatch;
use eddy_engine::event::now_ms;
use eddy_engine::recovery::{RestoredFrom, Resume};
use eddy_engine::state::CheckpointStore;
use eddy_engine::stats::Stats;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::pipeline::{Outputs, Pipeline, PipelineError};
use crate::plugin::Runtime;
use crate::sink::{PostgresProgress, SinkError};
use crate::state;

/// How long one poll waits for the first record of a batch.
const POLL_WAIT: Duration = Duration::from_millis(50);
/// How often processing time is let pass when records keep coming.
const TICK_EVERY: Duration = Duration::from_millis(100);
/// A round blocked longer than this (a broker or sink not answering) makes the run not
/// ready until it goes round again.
const STALLED: Duration = Duration::from_secs(10);
/// How often progress is logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A pipeline reading a Kafka topic, one poll round at a time.
pub struct KafkaRun {
    consumer: GroupConsumer,
    control: Option<Arc<Control>>,
    producer: Option<Arc<Producer>>,
    pipeline: Pipeline,
    store: Arc<Mutex<CheckpointStore>>,
    delivery: Delivery,
    metrics: Arc<Metrics>,
    batch_size: usize,
    commit_interval: Duration,
    /// Checkpoints outlive the process: progress is committed with them only.
    durable: bool,
    checkpoint_interval: Duration,
    last_commit: Instant,
    last_checkpoint: Instant,
    /// Writes checkpoints beside the loop (at-least-once).
    writer: checkpoint_writer::CheckpointWriter,
    /// The checkpoints being written, oldest first.
    in_flight: std::collections::VecDeque<checkpoint::InFlight>,
    last_tick: Instant,
    last_log: Instant,
    poll_errors: u64,
    /// Counts the times every partition went back to its checkpoint (an aborted transaction).
    went_back: u64,
    health: Arc<Health>,
    assigned: bool,
    /// Exactly-once into PostgreSQL: the name of this pipeline's rows in the progress
    /// table (`kafka.group_id`); `None` otherwise.
    postgres_pipeline: Option<String>,
    /// What `kafka.on_reset` says to do when records were deleted before they were read.
    on_reset: eddy_engine::config::OnReset,
    /// An offset reset the consumer reported this round, handled after its records.
    reset_reported: Option<String>,
    /// What `plugins.on_trap` says to do when a retried batch traps again.
    on_trap: TrapPolicy,
    /// Trapped batches being retried or sent to the dead-letter output.
    traps: Traps,
    /// What rebalances moved.
    rebalances: rebalance::Rebalances,
    /// The shadow runs published last.
    shadows: crate::app::shadows::Published,
    /// An activated version trapping this often is rolled back.
    rollback_traps: usize,
    /// See `rollback_traps`.
    rollback_window: Duration,
}

/// The producer of the config's Kafka outputs, transactional with exactly-once; `None` when no
/// output is a Kafka topic.
pub(super) fn producer_for(
    config: &Config,
    brokers: &str,
) -> Result<Option<Arc<Producer>>, KafkaError> {
    let writes_kafka = config
        .kafka_topics()
        .iter()
        .any(|(key, _)| *key != "source.topic");
    if !writes_kafka {
        return Ok(None);
    }
    let producer = match config.state.delivery {
        Delivery::AtLeastOnce => Producer::new(&config.kafka, brokers)?,
        Delivery::ExactlyOnce => {
            let id = config.transactional_id();
            tracing::info!(transactional_id = %id, "exactly-once: transactional producer");
            let timeout = config.state.transaction_timeout();
            Producer::transactional(&config.kafka, brokers, &id, timeout)?
        }
    };
    Ok(Some(Arc::new(producer)))
}

impl KafkaRun {
    /// Loads the plugins, connects to `brokers` and subscribes to the source topic.
    pub fn start(config: &Config, brokers: &str) -> Result<Self, PipelineError> {
        Self::start_with(config, brokers, Services::default())
    }

    /// Like [`KafkaRun::start`], reporting readiness to `health` (ready once partitions are
    /// assigned, not ready with the error once a round fails, e.g. results cannot be
    /// delivered) and checkpoints to `metrics`. The state directory is opened first: one
    /// that cannot be used stops the start, named.
    pub fn start_with(
        config: &Config,
        brokers: &str,
        services: Services,
    ) -> Result<Self, PipelineError> {
        let Services {
            health,
            metrics,
            control,
            runtime,
        } = services;
        health.set_unready("waiting for partitions");
        let mut config = config.clone();
        if let Some(control) = &control {
            control.apply_kept(&mut config)?;
        }
        let config = &config;
        let SourceConfig::Kafka { topic } = &config.source else {
            return Err(KafkaError::Client("the source is not a Kafka topic".into()).into());
        };
        let store = Arc::new(Mutex::new(state::open(&config.state)?));
        let producer = producer_for(config, brokers)?;
        let outputs = Outputs::open(config, producer.as_ref())?;
        let runtime = match runtime {
            Some(runtime) => runtime,
            None => Arc::new(Runtime::with_metrics(
                &config.plugins,
                Arc::clone(&metrics.plugins),
            )?),
        };
        let mut pipeline = Pipeline::with_runtime(config, runtime, outputs)?;
        if let Some(registry) = pipeline.schema_registry() {
            registry.watch(Arc::clone(&health), Arc::clone(&metrics));
        }
        pipeline.set_emit_lag(metrics.pipeline.event_time_lag.clone());
        pipeline.watch_outputs(&health);
        if let Some(producer) = &producer {
            producer
                .deliveries()
                .export_latency(metrics.pipeline.delivery.clone());
        }
        if let Some(control) = &control {
            control.set_stages(&pipeline.stages());
        }
        let consumer = GroupConsumer::new(
            &config.kafka,
            brokers,
            topic,
            producer.clone(),
            &config.state,
            Arc::clone(&store),
            Some(metrics.pipeline.consumer_lag.clone()),
        )?;
        consumer.set_formats(pipeline.state_formats());
        let postgres_pipeline = match &config.sink {
            SinkConfig::Postgres(sink)
                if config.state.delivery == Delivery::ExactlyOnce && pipeline.commits_results() =>
            {
                let progress = PostgresProgress::connect(sink, &config.kafka.group_id)
                    .map_err(SinkError::from)?;
                consumer.set_progress_source(Arc::new(progress));
                tracing::info!(
                    table = %sink.table,
                    pipeline = %config.kafka.group_id,
                    "exactly-once: results and progress committed together in PostgreSQL"
                );
                Some(config.kafka.group_id.clone())
            }
            _ => None,
        };
        // Series at zero from the start, so that rate alerts see the first retry; labelled
        // by the plugin's name, as the retries are.
        for plugin in pipeline.aggregate_plugins() {
            let _ = metrics
                .trap_retries
                .get_or_create(&crate::metrics::PluginLabel { plugin });
        }
        health.expect_beats(STALLED);
        let writer = checkpoint_writer::CheckpointWriter::start(Arc::clone(&store))?;
        let now = Instant::now();
        Ok(Self {
            consumer,
            control,
            producer,
            pipeline,
            store,
            delivery: config.state.delivery,
            durable: config.state.durable(),
            metrics,
            batch_size: config.batch_size,
            commit_interval: config.kafka.commit_interval,
            checkpoint_interval: config.state.checkpoint_interval,
            last_commit: now,
            last_checkpoint: now,
            writer,
            in_flight: std::collections::VecDeque::new(),
            last_tick: now,
            last_log: now,
            poll_errors: 0,
            went_back: 0,
            health,
            assigned: false,
            on_trap: config.plugins.on_trap,
            postgres_pipeline,
            on_reset: config.kafka.on_reset,
            reset_reported: None,
            traps: Traps::default(),
            rebalances: rebalance::Rebalances::default(),
            shadows: crate::app::shadows::Published::default(),
            rollback_traps: config.plugins.rollback_traps as usize,
            rollback_window: config.plugins.rollback_window,
        })
    }

    /// What the pipeline has done so far.
    pub fn stats(&self) -> Stats {
        self.pipeline.stats()
    }

    /// The producer of results and side outputs, when any goes to Kafka.
    pub fn producer(&self) -> Option<&Arc<Producer>> {
        self.producer.as_ref()
    }

    /// Errors the consumer reported while polling (logged; librdkafka recovers from them).
    pub fn poll_errors(&self) -> u64 {
        self.poll_errors
    }

    /// The pipeline (open groups, watermarks).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Readiness of this run.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The metrics of this run.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// One round: reads up to `batch_size` records (waiting briefly for the first), processes
    /// them by partition, lets processing time pass, and commits when due. Returns the number
    /// of records read. A failure makes the run not ready, with the error as the reason.
    pub fn round(&mut self) -> Result<usize, PipelineError> {
        self.health.beat();
        let result = self.poll_and_process();
        if let Err(error) = &result {
            self.health.set_unready(error.to_string());
            self.roll_back_trapped_aggregator(error);
        }
        result
    }

    fn poll_and_process(&mut self) -> Result<usize, PipelineError> {
        self.check_outputs()?;
        if self.control.as_ref().is_some_and(|c| c.has_pending()) {
            self.apply_changes()?;
        }
        let (batches, read) = self.read_batches()?;
        let now = now_ms();
        let spans: BTreeMap<u32, tracing::Span> = batches
            .iter()
            .map(|(&partition, batch)| (partition, batch_span(partition, batch)))
            .collect();
        // Workers compute the batches ahead, unless a partition retries or skips records
        // after a trap (that goes batch by batch).
        if self.traps.is_calm() {
            self.pipeline.prepare_round(&batches, &spans, now)?;
        }
        let processed = self.process_batches(batches, &spans, now);
        self.pipeline.end_round();
        processed?;
        self.pipeline.migrate()?;
        self.record_rollbacks()?;
        if let Some(error) = self.reset_reported.take() {
            self.offset_reset(&error)?;
        }
        if read == 0 || self.last_tick.elapsed() >= TICK_EVERY {
            self.tick(now)?;
        }
        self.poll_checkpoint()?;
        if self.last_checkpoint.elapsed() >= self.checkpoint_interval {
            self.periodic_checkpoint()?;
        } else if self.delivery == Delivery::AtLeastOnce
            && !self.durable
            && self.last_commit.elapsed() >= self.commit_interval
        {
            self.commit(CommitMode::Async)?;
        }
        if self.last_log.elapsed() >= LOG_EVERY {
            self.log_progress();
        }
        Ok(read)
    }

    /// Processes the round's batches in partition order, each in its span, until every
    /// partition went back after a trap (what else was read comes again).
    fn process_batches(
        &mut self,
        batches: BTreeMap<u32, RawBatch>,
        spans: &BTreeMap<u32, tracing::Span>,
        now: i64,
    ) -> Result<(), PipelineError> {
        for (partition, batch) in batches {
            let _entered = spans.get(&partition).map(tracing::Span::enter);
            if self.process_batch(batch, now)? {
                break;
            }
        }
        Ok(())
    }

    /// Readiness from the outputs and the brokers: not ready while results cannot be
    /// delivered or no broker is reachable; ready again once they are and partitions are
    /// assigned.
    fn check_outputs(&mut self) -> Result<(), PipelineError> {
        let mut outage = None;
        if let Some(producer) = &self.producer {
            producer.check()?;
            outage = producer
                .outage()
                .map(|reason| format!("sink unreachable: {reason}"));
        }
        let brokers = self.consumer.broker_outage()?;
        if outage.is_none() {
            outage = brokers;
        }
        match outage {
            Some(reason) => self.health.set_unready(reason),
            None if self.assigned => self.health.set_ready(),
            None => {}
        }
        Ok(())
    }

    /// Lets processing time pass (time triggers, idle partitions, `state.ttl`) and publishes
    /// progress and metrics.
    fn tick(&mut self, now: i64) -> Result<(), PipelineError> {
        let _span = tracing::debug_span!("tick").entered();
        // Progress of a pipeline ahead of its outputs is never published.
        self.pipeline.check_whole()?;
        let expired = self.pipeline.stats().expired;
        self.pipeline.tick_at(now)?;
        self.metrics
            .groups_expired
            .inc_by(self.pipeline.stats().expired - expired);
        // Progress scans every open group, so it is published with the tick, not per
        // round. A revoke in between commits the last published progress: older, but
        // consistent (offset, read position and watermark taken together), so the next
        // owner re-reads a little more and writes nothing partial.
        self.consumer.set_progress(&self.pipeline.progress());
        self.last_tick = Instant::now();
        self.export_metrics(now);
        self.shadows
            .publish(&self.pipeline, self.control.as_deref(), &self.metrics);
        Ok(())
    }

    fn log_progress(&mut self) {
        self.last_log = Instant::now();
        let stats = self.pipeline.stats();
        tracing::info!(
            records = stats.records_in,
            results = stats.results,
            late = stats.late,
            dead_letters = stats.dead_letters,
            open_groups = self.pipeline.open_groups(),
            computed_by_workers = self.pipeline.batches_computed(),
            "progress"
        );
    }

    fn export_metrics(&self, now: i64) {
        let metrics = &self.metrics.pipeline;
        metrics.observe(&self.pipeline.stats(), self.poll_errors);
        metrics.observe_workers(self.pipeline.batches_computed());
        metrics
            .groups
            .set(i64::try_from(self.pipeline.open_groups()).unwrap_or(i64::MAX));
        metrics
            .groups_moving
            .set(i64::try_from(self.pipeline.migrating()).unwrap_or(i64::MAX));
        let watermark = self.pipeline.watermark();
        if watermark > i64::MIN {
            metrics
                .watermark_lag
                .set(now.saturating_sub(watermark) as f64 / 1e3);
        }
    }

    /// Once `stopping` is set, the consumer no longer waits out unreachable brokers when
    /// partitions are assigned (see [`crate::kafka::GroupConsumer::stop_waiting_when`]).
    pub fn stop_waiting_when(&self, stopping: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.consumer.stop_waiting_when(stopping);
    }

    /// Waits for every result written so far to be acknowledged, then commits the resume
    /// offsets (at-least-once). With exactly-once, takes a checkpoint, which commits them in
    /// its transaction.
    pub fn commit(&mut self, mode: CommitMode) -> Result<(), PipelineError> {
        if self.delivery == Delivery::ExactlyOnce {
            self.checkpoint()?;
            return Ok(());
        }
        self.pipeline.check_whole()?;
        if let Some(producer) = &self.producer {
            producer.flush()?;
        }
        self.pipeline.flush()?;
        self.consumer.set_progress(&self.pipeline.progress());
        self.consumer.commit(mode)?;
        self.forget_durable_quarantine(&self.pipeline.progress());
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Stops: takes a checkpoint and commits progress. With `fire_open_windows`, every open
    /// window is fired first, as at the end of a bounded input (the demo); otherwise open
    /// windows are in the checkpoint (and can be rebuilt from the committed offsets).
    pub fn shutdown(mut self, fire_open_windows: bool) -> Result<Stats, PipelineError> {
        if fire_open_windows {
            self.pipeline.finish()?;
        }
        self.checkpoint()?;
        if self.delivery == Delivery::AtLeastOnce {
            self.commit(CommitMode::Sync)?;
        }
        Ok(self.pipeline.stats())
    }
}

/// The span of a partition's batch, linked to the trace contexts its records carried.
fn batch_span(partition: u32, batch: &RawBatch) -> tracing::Span {
    let span = tracing::debug_span!(
        "batch",
        partition,
        first_offset = batch.source_offsets.first().copied().unwrap_or(-1),
        records = batch.len()
    );
    crate::telemetry::link_to(&span, &batch.trace_parents);
    span
}

/// Applies a change of the partitions owned: revoked partitions' windows and unprocessed
/// records dropped; assigned partitions restored, resumed or started.
pub(super) fn apply(
    pipeline: &mut Pipeline,
    health: &Health,
    metrics: &Metrics,
    change: PartitionChange,
    batches: &mut BTreeMap<u32, RawBatch>,
) -> Result<(), PipelineError> {
    match change {
        PartitionChange::Revoked(partitions) => {
            for partition in partitions {
                batches.remove(&partition);
                pipeline.revoke(partition);
            }
        }
        PartitionChange::Assigned(resumes) => {
            let any = !resumes.is_empty();
            let now = now_ms();
            for (partition, resume) in resumes {
                match resume {
                    Resume::Fresh => {}
                    Resume::Replay(replay) => {
                        tracing::info!(partition, ?replay, "continuing from committed progress");
                        metrics.checkpoint.replayed.inc();
                        pipeline.resume(partition, replay)?;
                    }
                    Resume::Restore(state, origin) => {
                        metrics.checkpoint.restored.inc();
                        if origin == RestoredFrom::Shared {
                            metrics.checkpoint.restored_shared.inc();
                        }
                        pipeline.restore_partition(&state, now)?;
                    }
                }
            }
            // Ready once every assigned partition is restored or resumed.
            if any {
                health.set_ready();
            }
        }
        // The loop sends kept partitions back itself (it needs the consumer).
        PartitionChange::Rewind(_) | PartitionChange::Revoking(_) => {}
        PartitionChange::Failed(error) => return Err(KafkaError::Client(error).into()),
    }
    Ok(())
}
