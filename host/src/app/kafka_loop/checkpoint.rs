//! Checkpoints of a Kafka pipeline. At-least-once: the loop collects each partition's changed
//! groups and its progress (the only pause) and goes on; the writer thread waits for every
//! result so far to be acknowledged, then writes the state (one atomic write); once it is
//! durable the loop commits that progress to the group. One periodic checkpoint is in flight
//! at a time: the next is put off while it is written, and waited for once it takes ten
//! intervals; a barrier's checkpoint may queue behind it. Exactly-once: the state written,
//! then the results, side outputs and progress committed in one Kafka transaction whose
//! offsets' metadata names the checkpoint, all in the loop (the changes only); a newer
//! checkpoint whose transaction did not commit is never restored. Exactly-once into
//! PostgreSQL: the same, with the results and the progress committed in one PostgreSQL
//! transaction (the progress table names the checkpoint).

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use eddy_engine::config::Delivery;
use eddy_engine::event::now_ms;

use super::KafkaRun;
use super::checkpoint_writer::Job;
use crate::kafka::KafkaError;
use crate::pipeline::PipelineError;
use eddy_engine::progress::Progress;
use eddy_engine::state::PartitionChange;

/// A checkpoint being written beside the loop.
pub(super) struct InFlight {
    /// Each partition's progress when its state was collected: committed once durable.
    progress: Vec<Progress>,
    /// Groups it saves.
    groups: usize,
    /// When the loop collected it.
    started: Instant,
    /// Whether a checkpoint was put off for it (counted once).
    postponed: bool,
}

/// A checkpoint in flight this many intervals (and at least [`WAIT_AFTER_MIN`]) makes the next
/// one wait for it: progress commits stay bounded behind.
const WAIT_AFTER_INTERVALS: u32 = 10;
/// See [`WAIT_AFTER_INTERVALS`].
const WAIT_AFTER_MIN: Duration = Duration::from_secs(10);
/// Checkpoints handed to the writer at once: one being written and, after a barrier, one
/// queued behind it.
const MAX_IN_FLIGHT: usize = 2;

impl KafkaRun {
    /// A checkpoint when one is due: with at-least-once written beside the loop (see the
    /// module's note), otherwise as [`KafkaRun::checkpoint`].
    pub(super) fn periodic_checkpoint(&mut self) -> Result<(), PipelineError> {
        if self.delivery == Delivery::ExactlyOnce {
            self.checkpoint()?;
            return Ok(());
        }
        if let Some(in_flight) = self.in_flight.back_mut() {
            let limit = (self.checkpoint_interval * WAIT_AFTER_INTERVALS).max(WAIT_AFTER_MIN);
            if in_flight.started.elapsed() < limit {
                if !in_flight.postponed {
                    in_flight.postponed = true;
                    self.metrics.checkpoint.postponed.inc();
                }
                return Ok(());
            }
            self.metrics.checkpoint.waits.inc();
            self.finish_in_flight()?;
        }
        self.start_checkpoint()
    }

    /// A checkpoint at a barrier (before a swap): with at-least-once, the loop pays only for
    /// collecting the state — it is queued behind the one being written, if any (waited for
    /// only when one is queued already); otherwise as [`KafkaRun::checkpoint`].
    pub(super) fn barrier_checkpoint(&mut self) -> Result<(), PipelineError> {
        if self.delivery == Delivery::ExactlyOnce {
            self.checkpoint()?;
            return Ok(());
        }
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.metrics.checkpoint.waits.inc();
            self.checkpoint_written_next(true)?;
        }
        self.start_checkpoint()
    }

    /// Collects the partitions' changes and progress and hands them to the writer.
    fn start_checkpoint(&mut self) -> Result<(), PipelineError> {
        let _span = tracing::debug_span!("checkpoint").entered();
        let started = Instant::now();
        self.last_checkpoint = started;
        let result = self.collect_checkpoint(started);
        if let Err(error) = &result {
            self.metrics.checkpoint.failed.inc();
            tracing::error!(%error, "checkpoint failed");
        }
        self.metrics
            .checkpoint
            .pause
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// The outputs flushed, then each partition's changes (whole when the store needs
    /// whole states) and the groups they save; `None` when no partition has been read.
    fn collect_changes(&mut self) -> Result<Option<(Vec<PartitionChange>, usize)>, PipelineError> {
        self.pipeline.flush()?;
        let incremental = self
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .incremental();
        let changes = self.pipeline.checkpoint_changes(incremental)?;
        if changes.is_empty() {
            return Ok(None);
        }
        let groups = changes.iter().map(|c| c.saved.groups()).sum();
        Ok(Some((changes, groups)))
    }

    fn collect_checkpoint(&mut self, started: Instant) -> Result<(), PipelineError> {
        let Some((changes, groups)) = self.collect_changes()? else {
            return Ok(());
        };
        self.writer.send(Job {
            created_ms: now_ms(),
            plugins: self.pipeline.plugin_versions(),
            changes,
            flush: self.producer.clone(),
        })?;
        self.in_flight.push_back(InFlight {
            progress: self.pipeline.progress(),
            groups,
            started,
            postponed: false,
        });
        Ok(())
    }

    /// Commits the progress of the checkpoints written so far once they are durable; does not
    /// wait.
    pub(super) fn poll_checkpoint(&mut self) -> Result<(), PipelineError> {
        while !self.in_flight.is_empty() {
            if !self.checkpoint_written_next(false)? {
                break;
            }
        }
        Ok(())
    }

    /// Waits for the checkpoints being written, if any, and commits their progress.
    fn finish_in_flight(&mut self) -> Result<(), PipelineError> {
        while !self.in_flight.is_empty() {
            self.checkpoint_written_next(true)?;
        }
        Ok(())
    }

    /// The oldest checkpoint in flight, once durable (waiting for it with `wait`; false when
    /// it is not yet): its progress, for the partitions still assigned, is committed. A
    /// failed write stops the pipeline.
    fn checkpoint_written_next(&mut self, wait: bool) -> Result<bool, PipelineError> {
        if self.in_flight.is_empty() {
            return Ok(false);
        }
        let done = if wait {
            self.writer.wait()
        } else {
            match self.writer.try_done() {
                Some(done) => done,
                None => return Ok(false),
            }
        };
        let Some(in_flight) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        let done = match done {
            Ok(done) => done,
            Err(error) => {
                self.metrics.checkpoint.failed.inc();
                tracing::error!(%error, "checkpoint failed");
                return Err(error);
            }
        };
        let assigned = self.consumer.assigned();
        let progress: Vec<Progress> = in_flight
            .progress
            .into_iter()
            .filter(|p| assigned.contains(&p.partition))
            .collect();
        self.consumer.set_checkpoint(done.id, &progress);
        self.consumer.commit(rdkafka::consumer::CommitMode::Async)?;
        self.last_commit = Instant::now();
        self.forget_durable_quarantine(&progress);
        let metrics = &self.metrics.checkpoint;
        metrics.write.observe(done.took.as_secs_f64());
        metrics
            .duration
            .observe(in_flight.started.elapsed().as_secs_f64());
        self.record_written(done.id, done.written.bytes, in_flight.groups);
        tracing::debug!(checkpoint = done.id, took = ?in_flight.started.elapsed(), "checkpoint");
        Ok(true)
    }

    fn record_written(&self, id: u64, bytes: u64, groups: usize) {
        let metrics = &self.metrics.checkpoint;
        metrics.id.set(i64::try_from(id).unwrap_or(i64::MAX));
        metrics.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        metrics
            .groups
            .set(i64::try_from(groups).unwrap_or(i64::MAX));
        metrics.written.inc();
        self.metrics.pipeline.last_checkpoint.set(now_ms() / 1000);
    }

    /// Takes a checkpoint now and waits until it is durable and its progress committed (the
    /// one being written first); returns its id, or `None` when no partition has been read
    /// (before the first assignment; an empty checkpoint would push out useful ones). A
    /// failure is counted and stops the pipeline (nothing is committed past what is safely
    /// written).
    pub fn checkpoint(&mut self) -> Result<Option<u64>, PipelineError> {
        self.finish_in_flight()?;
        let next = self
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .latest_id()
            .map_or(1, |id| id + 1);
        let _span = tracing::info_span!("checkpoint", id = next).entered();
        let started = Instant::now();
        let result = self.write_checkpoint();
        let metrics = &self.metrics.checkpoint;
        match &result {
            Ok(Some(id)) => {
                metrics.duration.observe(started.elapsed().as_secs_f64());
                metrics.pause.observe(started.elapsed().as_secs_f64());
                tracing::debug!(checkpoint = id, took = ?started.elapsed(), "checkpoint");
            }
            Ok(None) => {}
            Err(error) => {
                metrics.failed.inc();
                tracing::error!(%error, "checkpoint failed");
            }
        }
        self.last_checkpoint = Instant::now();
        result
    }

    fn write_checkpoint(&mut self) -> Result<Option<u64>, PipelineError> {
        self.pipeline.check_whole()?;
        if self.delivery == Delivery::AtLeastOnce
            && let Some(producer) = &self.producer
        {
            producer.flush()?;
        }
        let Some((changes, groups)) = self.collect_changes()? else {
            return Ok(None);
        };
        let plugins = self.pipeline.plugin_versions();
        let (id, written) = self
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_changes(now_ms(), plugins, changes)?;
        self.consumer.set_checkpoint(id, &self.pipeline.progress());
        match (self.delivery, &self.producer) {
            (Delivery::ExactlyOnce, _) if self.postgres_pipeline.is_some() => {
                let pipeline = self.postgres_pipeline.clone().unwrap_or_default();
                let progress = self.pipeline.progress();
                if let Err(error) = self.pipeline.commit_results(&pipeline, &progress, Some(id)) {
                    self.metrics.checkpoint.aborts.inc();
                    return Err(error);
                }
                self.metrics.checkpoint.transactions.inc();
                // For lag tools only: partitions continue from PostgreSQL's progress.
                if let Err(error) = self.consumer.commit(rdkafka::consumer::CommitMode::Async) {
                    tracing::debug!(%error, "committing offsets to the group (informational)");
                }
            }
            (Delivery::ExactlyOnce, Some(producer)) => {
                let offsets = self.consumer.progress_offsets();
                let group = self.consumer.group_metadata()?;
                match producer.commit_transaction(&offsets, &group) {
                    Ok(()) => {}
                    Err(KafkaError::TransactionAborted(error)) => {
                        // Nothing of this interval is visible; every partition goes back to
                        // its last committed checkpoint (the consumer rejoins its group).
                        tracing::warn!(%error, "the transaction cannot commit: aborted, every partition goes back to its last committed checkpoint");
                        self.go_back(0)?;
                        return Ok(None);
                    }
                    Err(error) => {
                        self.metrics.checkpoint.aborts.inc();
                        return Err(error.into());
                    }
                }
                self.metrics.checkpoint.transactions.inc();
            }
            _ => {
                self.consumer.commit(rdkafka::consumer::CommitMode::Async)?;
                self.last_commit = Instant::now();
            }
        }
        self.forget_durable_quarantine(&self.pipeline.progress());
        self.record_written(id, written.bytes, groups);
        Ok(Some(id))
    }
}
