//! Aggregator traps in the Kafka loop (a panic, the memory or time limit, or an answer the
//! host refuses). An aggregator keeps its groups' state inside its instance, so a trap loses
//! the partition's open windows with it. The batch is retried once
//! on fresh instances: the partition goes back to its last checkpoint (or committed position)
//! and reads again up to and through the batch — at-least-once, results written since that
//! checkpoint may be written again; exactly-once, the open transaction is aborted and every
//! partition goes back to the committed one. If the batch traps again, `plugins.on_trap`
//! decides: `stop` the pipeline, `dead_letter` the batch's records (the partition goes back
//! once more and skips them to the dead-letter output), or `rollback` the stage to the version
//! before its last activation and go back once more (a stage running its configured plugin
//! dead-letters instead). An activated version that traps `plugins.rollback_traps` times
//! within `plugins.rollback_window` is rolled back whatever the policy.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::{KafkaRun, apply};
use crate::kafka::PartitionChange;
use crate::metrics::{PluginLabel, TrapOutcomeLabels};
use crate::pipeline::PipelineError;
use crate::plugin::PluginError;
use eddy_engine::config::{Delivery, TrapPolicy};
use eddy_engine::event::RawBatch;
use eddy_engine::progress::Progress;

/// Source offsets (first, last) of a batch.
pub(super) type Span = (i64, i64);

/// What the loop remembers of trapped batches until their partition has read past them.
#[derive(Debug, Default)]
pub(super) struct Traps {
    /// Per partition: the batch being retried on fresh instances.
    retrying: BTreeMap<u32, Span>,
    /// Per partition: batches that trapped again, sent to the dead-letter output when read,
    /// with the trap (the dead letters' reason). Kept until a checkpoint or commit of the
    /// partition passes them: a partition sent back to an older position reads them again, and
    /// must skip them again.
    quarantined: BTreeMap<u32, Vec<(Span, String)>>,
    /// Per partition: the highest offset already written to the dead-letter output and not
    /// undone (an aborted transaction undoes them), so a record read again is not written
    /// twice.
    dead_lettered: BTreeMap<u32, i64>,
    /// Per plugin: when it trapped lately.
    recent: BTreeMap<String, VecDeque<Instant>>,
}

impl Traps {
    /// Whether no partition retries a trapped batch or skips quarantined records: batches
    /// then go through unchanged, and workers may compute them ahead.
    pub(super) fn is_calm(&self) -> bool {
        self.retrying.is_empty() && self.quarantined.is_empty()
    }
}

fn span(batch: &RawBatch) -> Option<Span> {
    Some((
        *batch.source_offsets.first()?,
        *batch.source_offsets.last()?,
    ))
}

impl KafkaRun {
    /// Processes one partition's batch; an aggregator trap is retried or handled by the
    /// policy (see the module docs). Returns whether every partition was sent back (the rest
    /// of this round's batches must be dropped: they will be read again).
    pub(super) fn process_batch(
        &mut self,
        batch: RawBatch,
        now: i64,
    ) -> Result<bool, PipelineError> {
        let partition = batch.partition;
        let batch = self.quarantine(batch)?;
        let Some(batch_span) = span(&batch) else {
            self.pipeline.process_at(batch, now)?;
            return Ok(false);
        };
        let error = match self.pipeline.process_at(batch, now) {
            Ok(()) => {
                self.passed(partition, batch_span.1);
                return Ok(false);
            }
            Err(error) => error,
        };
        // A trap, or an answer the host refused (too large, malformed): either way the
        // instance's state cannot be trusted.
        let (PipelineError::Plugin(PluginError::Trap { plugin, .. })
        | PipelineError::Plugin(PluginError::Failed { plugin, .. })) = &error
        else {
            return Err(error);
        };
        let plugin = plugin.clone();
        if self.pipeline.aggregates_running(&plugin).is_empty() {
            return Err(error);
        }
        if self.too_many_traps(&plugin) && self.roll_back_in_place(partition, &plugin)? {
            self.end_retry(partition);
            return self.go_back(partition);
        }
        // The batch that trapped first holds the culprit: the retry's batches may hold more.
        let first_trap = self
            .traps
            .retrying
            .get(&partition)
            .copied()
            .filter(|&(_, last)| batch_span.0 <= last);
        let Some(trapped) = first_trap else {
            tracing::warn!(%plugin, partition, %error, "aggregator trapped: retrying the batch on fresh instances from the last checkpoint");
            self.metrics
                .trap_retries
                .get_or_create(&PluginLabel {
                    plugin: plugin.clone(),
                })
                .inc();
            self.retry_carefully(partition, batch_span);
            return self.go_back(partition);
        };
        // Careful mode named the group if a finish failed.
        let failed_group = self.pipeline.take_failed_group(partition);
        self.end_retry(partition);
        let policy = self.on_trap;
        if policy == TrapPolicy::Stop {
            self.trap_outcome(&plugin, "stop", format!("stopped: {error}"));
            return Err(error);
        }
        if policy == TrapPolicy::Rollback && self.roll_back_in_place(partition, &plugin)? {
            self.trap_outcome(&plugin, "rollback", format!("rolled back: {error}"));
            return self.go_back(partition);
        }
        if let Some(group) = failed_group {
            let window = format!(
                "window [{}, {}) of key `{}` in partition {partition}",
                group.window.start, group.window.end, group.key
            );
            tracing::error!(%plugin, %window, %error, "aggregator failed to finish a window twice: it is dropped, one dead letter stands for its events");
            self.trap_outcome(&plugin, "dead_letter", format!("{window} dropped: {error}"));
            let reason = format!("aggregator `{plugin}` failed to finish it twice: {error}");
            self.pipeline.drop_window(partition, &group, &reason);
            // Other windows due in the same batch may fail too.
            self.retry_carefully(partition, trapped);
            return self.go_back(partition);
        }
        tracing::error!(%plugin, partition, first = trapped.0, last = trapped.1, %error, "aggregator trapped again: the batch goes to the dead-letter output");
        self.trap_outcome(
            &plugin,
            "dead_letter",
            format!(
                "offsets {}..={} of partition {partition} dead-lettered: {error}",
                trapped.0, trapped.1
            ),
        );
        self.traps.quarantined.entry(partition).or_default().push((
            trapped,
            format!("plugin trap: the batch trapped twice: {error}"),
        ));
        self.go_back(partition)
    }

    /// Counts what became of a batch `plugin` trapped on twice, and shows it on the stages
    /// running it (`/v1/pipelines`).
    fn trap_outcome(&self, plugin: &str, outcome: &'static str, text: String) {
        self.metrics
            .trap_outcomes
            .get_or_create(&TrapOutcomeLabels {
                plugin: plugin.to_string(),
                outcome,
            })
            .inc();
        if let Some(control) = &self.control {
            for stage in self.pipeline.aggregates_running(plugin) {
                control.record_trap(&stage, text.clone());
            }
        }
    }

    /// Counts a trap of `plugin`; true when it trapped `plugins.rollback_traps` times within
    /// `plugins.rollback_window` (an activated version is then rolled back whatever the
    /// policy).
    fn too_many_traps(&mut self, plugin: &str) -> bool {
        let now = Instant::now();
        let recent = self.traps.recent.entry(plugin.to_string()).or_default();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|&t| now.duration_since(t) > self.rollback_window)
        {
            recent.pop_front();
        }
        recent.len() >= self.rollback_traps
    }

    /// Records of quarantined batches go to the dead-letter output; the rest is returned.
    fn quarantine(&mut self, batch: RawBatch) -> Result<RawBatch, PipelineError> {
        let Some(spans) = self.traps.quarantined.get(&batch.partition) else {
            return Ok(batch);
        };
        let held = |offset: i64| spans.iter().any(|&((a, b), _)| (a..=b).contains(&offset));
        // The reason of the first span the batch meets (a batch meeting two quarantined spans
        // of different traps is rare: one reason for all its rejected records).
        let reason = batch
            .source_offsets
            .iter()
            .find_map(|&o| spans.iter().find(|((a, b), _)| (*a..=*b).contains(&o)))
            .map_or_else(String::new, |(_, reason)| reason.clone());
        if !batch.source_offsets.iter().any(|&o| held(o)) {
            return Ok(batch);
        }
        let mut kept = RawBatch::with_capacity(batch.len(), 0);
        let mut rejected = RawBatch::with_capacity(batch.len(), 0);
        kept.partition = batch.partition;
        rejected.partition = batch.partition;
        for row in 0..batch.len() {
            let offset = batch.source_offsets[row];
            let target = if held(offset) {
                &mut rejected
            } else {
                &mut kept
            };
            target.push_at(batch.payload(row), batch.timestamps[row], offset);
        }
        let partition = batch.partition;
        let written = self.traps.dead_lettered.get(&partition).copied();
        let fresh = rejected_after(&rejected, written);
        self.pipeline.dead_letter(&fresh, &reason)?;
        if let Some(&last) = rejected.source_offsets.last() {
            self.pipeline.account_for(partition, last);
            let high = self.traps.dead_lettered.entry(partition).or_insert(last);
            *high = (*high).max(last);
            self.passed(partition, last);
        }
        Ok(kept)
    }

    /// `partition` has processed everything up to `offset`.
    fn passed(&mut self, partition: u32, offset: i64) {
        if self
            .traps
            .retrying
            .get(&partition)
            .is_some_and(|&(_, last)| offset >= last)
        {
            self.end_retry(partition);
        }
    }

    /// `partition` retries `span` on fresh instances, finishing one group per call so that
    /// a failing finish names its window.
    fn retry_carefully(&mut self, partition: u32, span: Span) {
        self.traps.retrying.insert(partition, span);
        self.pipeline.set_careful(partition, true);
    }

    fn end_retry(&mut self, partition: u32) {
        self.traps.retrying.remove(&partition);
        self.pipeline.set_careful(partition, false);
    }

    /// A checkpoint or commit made the partitions' `durable` progress durable: quarantined
    /// batches before the position each would be read again from are never read again.
    pub(super) fn forget_durable_quarantine(&mut self, durable: &[Progress]) {
        for progress in durable {
            if let Some(spans) = self.traps.quarantined.get_mut(&progress.partition) {
                spans.retain(|&((_, last), _)| last >= progress.offset);
            }
            self.pipeline
                .forget_dropped(progress.partition, progress.watermark);
        }
    }

    /// Rolls back the activated stages running `plugin`; false when none was activated.
    fn roll_back_in_place(&mut self, partition: u32, plugin: &str) -> Result<bool, PipelineError> {
        let Some(control) = self.control.clone() else {
            return Ok(false);
        };
        let stages: Vec<_> = self
            .pipeline
            .aggregates_running(plugin)
            .into_iter()
            .filter(|stage| control.rollback_source(stage).is_some())
            .collect();
        if stages.is_empty() {
            return Ok(false);
        }
        // The trapped partition's instances cannot hand their state over: drop them first.
        self.pipeline.revoke(partition);
        for stage in stages {
            let Some(Ok(target)) = control.rollback_source(&stage) else {
                continue;
            };
            self.pipeline
                .swap_with(&stage, &target.source, target.config.as_ref())?;
            control.record_automatic_rollback(
                &stage,
                format!("rolled back automatically: {plugin} trapped"),
            )?;
            self.metrics.rollbacks.inc();
            tracing::error!(%stage, %plugin, "activated aggregator trapped twice: rolled back");
        }
        control.set_stages(&self.pipeline.stages());
        self.consumer.set_formats(self.pipeline.state_formats());
        Ok(true)
    }

    /// Sends `partition` (exactly-once: every partition, the open transaction aborted) back
    /// to where it continues after a restart, on fresh instances; returns whether every
    /// partition went back.
    pub(super) fn go_back(&mut self, partition: u32) -> Result<bool, PipelineError> {
        let (partitions, all) = match (self.delivery, &self.producer) {
            (Delivery::ExactlyOnce, Some(producer)) => {
                producer.abort_transaction()?;
                self.metrics.checkpoint.aborts.inc();
                // The aborted transaction took its dead letters with it.
                self.traps.dead_lettered.clear();
                self.pipeline.dropped_letters_undone();
                (self.consumer.assigned(), true)
            }
            (Delivery::ExactlyOnce, _) if self.postgres_pipeline.is_some() => {
                self.pipeline.discard_results()?;
                // Dead letters in a PostgreSQL table were dropped with the results; in a
                // file they stay written.
                if self.pipeline.commits_dead_letters() {
                    self.traps.dead_lettered.clear();
                }
                self.pipeline.dropped_letters_undone();
                self.metrics.checkpoint.aborts.inc();
                (self.consumer.assigned(), true)
            }
            _ => (vec![partition], false),
        };
        if all {
            self.went_back += 1;
        }
        let resumes = self.consumer.rewind(&partitions)?;
        let mut none = BTreeMap::new();
        for change in [
            PartitionChange::Revoked(partitions),
            PartitionChange::Assigned(resumes),
        ] {
            apply(
                &mut self.pipeline,
                &self.health,
                &self.metrics,
                change,
                &mut none,
            )?;
        }
        Ok(all)
    }
}

impl KafkaRun {
    /// Partitions kept through an incremental rebalance, exactly-once: the transaction
    /// aborted when others were revoked held their output since the last checkpoint, so they
    /// go back to it (on fresh instances) and their records read so far are dropped.
    pub(super) fn rewind_kept(
        &mut self,
        kept: &[u32],
        batches: &mut BTreeMap<u32, RawBatch>,
    ) -> Result<(), PipelineError> {
        tracing::info!(?kept, "kept partitions go back to their last checkpoint");
        self.metrics.checkpoint.aborts.inc();
        // The aborted transaction took its dead letters with it.
        self.traps.dead_lettered.clear();
        self.pipeline.dropped_letters_undone();
        let resumes = self.consumer.rewind(kept)?;
        for change in [
            PartitionChange::Revoked(kept.to_vec()),
            PartitionChange::Assigned(resumes),
        ] {
            apply(
                &mut self.pipeline,
                &self.health,
                &self.metrics,
                change,
                batches,
            )?;
        }
        Ok(())
    }
}

/// The records of `rejected` after offset `written` (all of them when `None`).
fn rejected_after(rejected: &RawBatch, written: Option<i64>) -> RawBatch {
    let Some(written) = written else {
        return rejected.clone();
    };
    let mut fresh = RawBatch::with_capacity(rejected.len(), 0);
    fresh.partition = rejected.partition;
    for row in 0..rejected.len() {
        let offset = rejected.source_offsets[row];
        if offset > written {
            fresh.push_at(rejected.payload(row), rejected.timestamps[row], offset);
        }
    }
    fresh
}
