//! Reading a round's records from the group consumer, by partition, and applying the
//! partition changes rebalances make meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;

use super::{KafkaRun, POLL_WAIT, apply};
use crate::kafka::{KafkaError, PartitionChange};
use crate::pipeline::PipelineError;
use eddy_engine::decode::NO_TIMESTAMP;
use eddy_engine::event::RawBatch;

/// What a poll's answer means for the round.
enum Polled {
    /// A record was read; go on.
    Record,
    /// Nothing more this round (no record in time, or an error).
    Done,
}

impl KafkaRun {
    /// Reads up to `batch_size` records (waiting briefly for the first), by partition;
    /// applies partition changes that happen meanwhile. Returns the batches and how many
    /// records were read.
    pub(super) fn read_batches(
        &mut self,
    ) -> Result<(BTreeMap<u32, RawBatch>, usize), PipelineError> {
        let mut batches: BTreeMap<u32, RawBatch> = BTreeMap::new();
        let mut read = 0;
        let mut wait = POLL_WAIT;
        while read < self.batch_size {
            let generation = self.consumer.generation();
            let polled = self.consumer.poll(wait);
            let step = match polled {
                None => Polled::Done,
                Some(Err(KafkaError::OffsetReset(error))) => {
                    self.poll_errors += 1;
                    self.reset_reported = Some(error);
                    Polled::Done
                }
                Some(Err(error)) => {
                    self.poll_errors += 1;
                    tracing::warn!(%error, "consumer error");
                    Polled::Done
                }
                Some(Ok(message)) => {
                    if let Ok(partition) = u32::try_from(message.partition()) {
                        let timestamp = message.timestamp().to_millis().unwrap_or(NO_TIMESTAMP);
                        let batch = batches.entry(partition).or_insert_with(|| {
                            let mut batch = RawBatch::with_capacity(self.batch_size, 0);
                            batch.partition = partition;
                            batch
                        });
                        batch.push_at(
                            message.payload().unwrap_or_default(),
                            timestamp,
                            message.offset(),
                        );
                        if let Some(traceparent) = crate::telemetry::traceparent_of(&message) {
                            batch.add_trace_parent(traceparent);
                        }
                        read += 1;
                    }
                    wait = Duration::ZERO;
                    Polled::Record
                }
            };
            if self.consumer.generation() != generation {
                // After the record: one of a partition revoked or sent back in this poll was
                // read before that, and is dropped with the partition's batch.
                let rewind = self.apply_changes_of_poll(&mut batches)?;
                if !rewind.is_empty() {
                    // Before the next poll, which could return more records read before.
                    self.rewind_kept(&rewind, &mut batches)?;
                }
            }
            if matches!(step, Polled::Done) {
                break;
            }
        }
        Ok((batches, read))
    }

    /// Applies the partition changes the last poll's rebalance made, in order; returns the
    /// partitions that must go back to their last checkpoint
    /// ([`PartitionChange::Rewind`]).
    fn apply_changes_of_poll(
        &mut self,
        batches: &mut BTreeMap<u32, RawBatch>,
    ) -> Result<Vec<u32>, PipelineError> {
        let mut rewind = Vec::new();
        for change in self.consumer.take_changes() {
            self.rebalances.observe(&change, &self.metrics.rebalance);
            match change {
                PartitionChange::Rewind(kept) => {
                    rewind.extend(kept);
                    continue;
                }
                PartitionChange::Revoking(partitions) => {
                    self.settle_revoked(partitions, batches)?;
                    continue;
                }
                _ => {}
            }
            if matches!(change, PartitionChange::Revoked(_)) && self.postgres_pipeline.is_some() {
                // As the aborted Kafka transaction: what was written since the last
                // checkpoint is rolled back; the partitions continue from the committed
                // progress.
                self.pipeline.discard_results()?;
            }
            apply(
                &mut self.pipeline,
                &self.health,
                &self.metrics,
                change,
                batches,
            )?;
        }
        self.assigned = !self.consumer.assigned().is_empty();
        Ok(rewind)
    }

    /// Partitions the group takes away, exactly-once ([`PartitionChange::Revoking`]):
    /// everything processed so far, theirs and the kept partitions', is committed in one
    /// checkpoint; then they are given up and their windows and unread records dropped. Kept
    /// partitions go on where they are, unless the transaction could not commit (then every
    /// partition went back to its checkpoint, and what was read is read again).
    fn settle_revoked(
        &mut self,
        partitions: Vec<u32>,
        batches: &mut BTreeMap<u32, RawBatch>,
    ) -> Result<(), PipelineError> {
        let went_back = self.went_back;
        self.checkpoint()?;
        if self.went_back != went_back {
            batches.clear();
        }
        self.consumer.give_up(&partitions)?;
        apply(
            &mut self.pipeline,
            &self.health,
            &self.metrics,
            PartitionChange::Revoked(partitions),
            batches,
        )
    }
}
