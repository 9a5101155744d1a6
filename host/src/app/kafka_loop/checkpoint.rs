//! Checkpoints of a Kafka pipeline. At-least-once: every result so far acknowledged, then
//! each partition's state written (one atomic write), then the progress committed to the
//! group. Exactly-once: the state written, then the results, side outputs and progress
//! committed in one Kafka transaction whose offsets' metadata names the checkpoint; a newer
//! checkpoint whose transaction did not commit is never restored. Exactly-once into
//! PostgreSQL: the same, with the results and the progress committed in one PostgreSQL
//! transaction (the progress table names the checkpoint).

use std::sync::PoisonError;
use std::time::Instant;

use eddy_engine::config::Delivery;
use eddy_engine::event::now_ms;

use super::KafkaRun;
use crate::kafka::KafkaError;
use crate::pipeline::PipelineError;

impl KafkaRun {
    /// Takes a checkpoint now; returns its id, or `None` when no partition has been read
    /// (before the first assignment; an empty checkpoint would push out useful ones). A
    /// failure is counted and stops the pipeline (nothing is committed past what is safely
    /// written).
    pub fn checkpoint(&mut self) -> Result<Option<u64>, PipelineError> {
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
        if self.delivery == Delivery::AtLeastOnce
            && let Some(producer) = &self.producer
        {
            producer.flush()?;
        }
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
        let groups: usize = changes.iter().map(|c| c.saved.groups()).sum();
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
        self.forget_durable_quarantine();
        let metrics = &self.metrics.checkpoint;
        metrics.id.set(i64::try_from(id).unwrap_or(i64::MAX));
        metrics
            .bytes
            .set(i64::try_from(written.bytes).unwrap_or(i64::MAX));
        metrics
            .groups
            .set(i64::try_from(groups).unwrap_or(i64::MAX));
        metrics.written.inc();
        self.metrics.pipeline.last_checkpoint.set(now_ms() / 1000);
        Ok(Some(id))
    }
}
