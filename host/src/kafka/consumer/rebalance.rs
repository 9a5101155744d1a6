//! Rebalances, handled in librdkafka's callback on the polling thread.
//!
//! Before partitions are revoked, every result written so far is acknowledged (producer
//! flush) and their resume offsets are committed (at-least-once). Exactly-once, the callback
//! leaves them assigned and tells the loop ([`PartitionChange::Revoking`]), which takes a
//! checkpoint — one transaction with every partition's output and progress, committed while
//! the group waits for this member — and then gives them up; kept partitions go on where they
//! are, as Kafka Streams does. Only when that cannot be done (the assignment was lost, or the
//! consumer is closing) is the open transaction aborted here: with an incremental protocol
//! (cooperative-sticky, or KIP-848's consumer protocol) the kept partitions' output since the
//! last checkpoint went with it, so they go back to it ([`PartitionChange::Rewind`]). The loop
//! drops the revoked partitions' windows and any of their records it had read but not
//! processed.
//!
//! Assigned partitions are assigned once, each at the offset it continues from (see
//! [`eddy_engine::recovery`]): a local or shared checkpoint's, the committed position, or the
//! start `kafka.start` names.

use std::collections::BTreeMap;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use super::committed::committed_positions;
use super::{GroupContext, PartitionChange, lock};
use eddy_engine::config::{Delivery, StartPosition};
use eddy_engine::progress::Committed;
use eddy_engine::recovery::{Resume, fallback};

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let incremental = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let assignment = self.assign(consumer, tpl);
                let assigned = if incremental {
                    consumer.incremental_assign(&assignment)
                } else {
                    consumer.assign(&assignment)
                };
                if let Err(error) = assigned {
                    self.record(PartitionChange::Failed(format!(
                        "assigning partitions at their start offsets: {error}"
                    )));
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if self.loop_settles(consumer) {
                    let partitions = self.partitions(tpl);
                    tracing::info!(
                        ?partitions,
                        "partitions revoked: given up once everything processed is committed"
                    );
                    self.record(PartitionChange::Revoking(partitions));
                    return;
                }
                self.revoke(consumer, tpl, incremental);
                let unassigned = if incremental {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(error) = unassigned {
                    tracing::error!(%error, "giving up revoked partitions");
                }
            }
            other => {
                // As librdkafka's own handler: the assignment is dropped; the group is joined
                // again.
                let error = RDKafkaErrorCode::from(other);
                tracing::error!(%error, "rebalance failed");
                let unassigned = if incremental {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(error) = unassigned {
                    tracing::error!(%error, "dropping the assignment after a failed rebalance");
                }
            }
        }
    }
}

impl GroupContext {
    /// Whether the loop settles revoked partitions itself, after the poll
    /// ([`PartitionChange::Revoking`]): exactly-once, while it polls, unless the assignment
    /// was lost (then nothing can be committed in its name).
    fn loop_settles(&self, consumer: &BaseConsumer<Self>) -> bool {
        self.delivery == Delivery::ExactlyOnce
            && self.polling.load(std::sync::atomic::Ordering::SeqCst)
            && !consumer.assignment_lost()
    }

    /// Settles revoked partitions (see the module docs) and records what changed.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList, incremental: bool) {
        let partitions = self.partitions(tpl);
        let owned = consumer
            .assignment()
            .map(|tpl| self.partitions(&tpl))
            .unwrap_or_default();
        let kept: Vec<u32> = owned
            .into_iter()
            .filter(|p| !partitions.contains(p))
            .collect();
        tracing::info!(
            ?partitions,
            ?kept,
            lost = consumer.assignment_lost(),
            "partitions revoked"
        );
        if self.delivery == Delivery::ExactlyOnce {
            // What was written since the last checkpoint is discarded; the partitions'
            // next owner continues from the last committed transaction.
            if let Some(producer) = &self.producer
                && let Err(error) = producer.abort_transaction()
            {
                tracing::error!(%error, "aborting the transaction of revoked partitions");
            }
            let checkpointed = lock(&self.checkpointed);
            let mut progress = lock(&self.progress);
            progress.clear();
            for &partition in &kept {
                if let Some(p) = checkpointed.get(&partition) {
                    progress.insert(partition, *p);
                }
            }
            drop(progress);
            drop(checkpointed);
            lock(&self.checkpointed).retain(|p, _| kept.contains(p));
            self.record(PartitionChange::Revoked(partitions));
            if incremental && !kept.is_empty() {
                self.record(PartitionChange::Rewind(kept));
            }
            return;
        }
        let flushed = self.producer.as_ref().map_or(Ok(()), |p| p.flush());
        match flushed {
            Ok(()) => {
                let commit = if self.durable {
                    // The position of the latest checkpoint, which holds its state (the next
                    // owner restores it and reads again what came after); none since the
                    // assignment: the committed position already names one.
                    self.checkpointed_list(&partitions)
                } else {
                    self.commit_list(Some(&partitions))
                };
                if commit.count() > 0
                    && let Err(error) = consumer.commit(&commit, CommitMode::Sync)
                {
                    tracing::warn!(%error, "committing revoked partitions failed; their next owner re-reads from the last commit");
                }
            }
            Err(error) => {
                tracing::error!(%error, "results not acknowledged; revoked partitions are not committed");
            }
        }
        lock(&self.progress).retain(|p, _| !partitions.contains(p));
        lock(&self.checkpointed).retain(|p, _| !partitions.contains(p));
        self.record(PartitionChange::Revoked(partitions));
    }

    /// The assignment of `tpl`'s partitions, each at the offset it continues from; records
    /// how each continues. When that cannot be found out, records the failure (the pipeline
    /// stops) and returns `tpl` as it is.
    fn assign(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &TopicPartitionList,
    ) -> TopicPartitionList {
        let partitions = self.partitions(tpl);
        tracing::info!(?partitions, "partitions assigned");
        match self.resumes(consumer, &partitions) {
            Ok((assignment, resumes)) => {
                self.record(PartitionChange::Assigned(resumes));
                assignment
            }
            Err(error) => {
                self.record(PartitionChange::Failed(error));
                tpl.clone()
            }
        }
    }

    /// Where each of `partitions` continues, as an assignment and as resumes.
    fn resumes(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &[u32],
    ) -> Result<(TopicPartitionList, Vec<(u32, Resume)>), String> {
        let first_time: Vec<u32> = {
            let mut started = lock(&self.started);
            partitions
                .iter()
                .copied()
                .filter(|&p| started.insert(p))
                .collect()
        };
        let start = match self.start {
            StartPosition::Committed => None,
            StartPosition::Earliest => Some(Offset::Beginning),
            StartPosition::Latest => Some(Offset::End),
        };
        let (fresh, continuing): (Vec<u32>, Vec<u32>) = partitions
            .iter()
            .partition(|p| start.is_some() && first_time.contains(p));
        let positions = committed_positions(consumer, &self.topic, &continuing)
            .map_err(|error| error.to_string())?;
        let committed: BTreeMap<u32, Committed> = positions
            .iter()
            .filter_map(|(&p, (_, c))| Some((p, (*c)?)))
            .collect();
        let mut resumes = Vec::with_capacity(partitions.len());
        let mut assignment = TopicPartitionList::new();
        for &partition in &fresh {
            let offset = start.unwrap_or(Offset::Stored);
            let _ = assignment.add_partition_offset(&self.topic, partition as i32, offset);
            resumes.push((partition, Resume::Fresh));
        }
        let mut restored = self.load_checkpoints(&continuing, &committed)?;
        let external = lock(&self.external).is_some();
        for &partition in &continuing {
            let (offset, resume) = match restored.remove(&partition) {
                Some((state, origin)) => (
                    Offset::Offset(state.offset),
                    Resume::Restore(Box::new(state), origin),
                ),
                None => {
                    // With `auto.offset.reset=error` a partition without a committed position
                    // needs an explicit start: its beginning.
                    let offset = match positions.get(&partition) {
                        Some((Some(offset), _)) if external => Offset::Offset(*offset),
                        Some((Some(_), _)) => Offset::Stored,
                        _ => Offset::Beginning,
                    };
                    (offset, fallback(committed.get(&partition)))
                }
            };
            let _ = assignment.add_partition_offset(&self.topic, partition as i32, offset);
            resumes.push((partition, resume));
        }
        Ok((assignment, resumes))
    }
}
