//! The group consumer of the source topic. Rebalances are handled in librdkafka's callback on
//! the polling thread: before partitions are revoked, every result written so far is
//! acknowledged (producer flush) and their resume offsets are committed; the changes are then
//! handed to the pipeline loop, which drops the revoked partitions' windows and any of their
//! records it had read but not processed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::KafkaError;
use super::client::{Role, client_config};
use super::producer::Producer;
use crate::config::{KafkaConfig, StartPosition};
use crate::operator::Replay;
use crate::progress::Progress;

/// How long reading the group's committed offsets may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// A change of the partitions this consumer owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionChange {
    /// Partitions given to this consumer, and which of them continue from the progress the
    /// group committed (all of them, unless `kafka.start` replays them from elsewhere).
    Assigned {
        /// The partitions.
        partitions: Vec<u32>,
        /// Those that continue from the committed progress.
        resume: Vec<u32>,
    },
    /// Partitions taken away (their progress is committed before they go).
    Revoked(Vec<u32>),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// State shared between the rebalance callback and the pipeline loop.
pub struct GroupContext {
    topic: String,
    start: StartPosition,
    producer: Option<Arc<Producer>>,
    changes: Mutex<Vec<PartitionChange>>,
    generation: AtomicU64,
    progress: Mutex<BTreeMap<u32, Progress>>,
    started: Mutex<BTreeSet<u32>>,
}

impl ClientContext for GroupContext {}

impl GroupContext {
    fn partitions(&self, tpl: &TopicPartitionList) -> Vec<u32> {
        tpl.elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| u32::try_from(e.partition()).ok())
            .collect()
    }

    fn record(&self, change: PartitionChange) {
        lock(&self.changes).push(change);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The commit list for `partitions` from the progress the loop published.
    fn commit_list(&self, partitions: Option<&[u32]>) -> TopicPartitionList {
        let progress = lock(&self.progress);
        let mut tpl = TopicPartitionList::new();
        for (&partition, p) in progress.iter() {
            if partitions.is_none_or(|ps| ps.contains(&partition)) {
                let mut element = tpl.add_partition(&self.topic, partition as i32);
                let _ = element.set_offset(Offset::Offset(p.offset));
                element.set_metadata(p.metadata());
            }
        }
        tpl
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let partitions = self.partitions(tpl);
        tracing::info!(?partitions, "partitions revoked");
        let flushed = self.producer.as_ref().map_or(Ok(()), |p| p.flush());
        match flushed {
            Ok(()) => {
                let commit = self.commit_list(Some(&partitions));
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
        self.record(PartitionChange::Revoked(partitions));
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else {
            return;
        };
        let partitions = self.partitions(tpl);
        tracing::info!(?partitions, "partitions assigned");
        let first_time: Vec<u32> = {
            let mut started = lock(&self.started);
            partitions
                .iter()
                .copied()
                .filter(|&p| started.insert(p))
                .collect()
        };
        let offset = match self.start {
            StartPosition::Committed => None,
            StartPosition::Earliest => Some(Offset::Beginning),
            StartPosition::Latest => Some(Offset::End),
        };
        if let Some(offset) = offset
            && !first_time.is_empty()
        {
            if matches!(
                consumer.rebalance_protocol(),
                RebalanceProtocol::Cooperative
            ) {
                tracing::warn!("kafka.start is applied with the eager rebalance protocol only");
            } else {
                let mut assignment = TopicPartitionList::new();
                for &p in &partitions {
                    let at = if first_time.contains(&p) {
                        offset
                    } else {
                        Offset::Stored
                    };
                    let _ = assignment.add_partition_offset(&self.topic, p as i32, at);
                }
                if let Err(error) = consumer.assign(&assignment) {
                    tracing::error!(%error, "could not apply kafka.start");
                }
            }
        }
        let resume = if offset.is_some() {
            partitions
                .iter()
                .copied()
                .filter(|p| !first_time.contains(p))
                .collect()
        } else {
            partitions.clone()
        };
        self.record(PartitionChange::Assigned { partitions, resume });
    }
}

/// The source topic's consumer in the group `kafka.group_id`.
pub struct GroupConsumer {
    consumer: BaseConsumer<GroupContext>,
    topic: String,
}

impl GroupConsumer {
    /// Subscribes to `topic`. `producer`, when results go to Kafka, is flushed before
    /// progress is committed.
    pub fn new(
        kafka: &KafkaConfig,
        brokers: &str,
        topic: &str,
        producer: Option<Arc<Producer>>,
    ) -> Result<Self, KafkaError> {
        let context = GroupContext {
            topic: topic.to_string(),
            start: kafka.start,
            producer,
            changes: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            progress: Mutex::new(BTreeMap::new()),
            started: Mutex::new(BTreeSet::new()),
        };
        let config = client_config(kafka, brokers, Role::Consumer);
        let consumer = BaseConsumer::from_config_and_context(&config, context)
            .map_err(|e| KafkaError::Client(format!("creating the consumer: {e}")))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| KafkaError::Client(format!("subscribing to `{topic}`: {e}")))?;
        Ok(Self {
            consumer,
            topic: topic.to_string(),
        })
    }

    /// Waits up to `timeout` for the next record (or error); rebalance callbacks run here.
    pub fn poll(&self, timeout: Duration) -> Option<Result<BorrowedMessage<'_>, KafkaError>> {
        self.consumer
            .poll(timeout)
            .map(|r| r.map_err(|e| KafkaError::Client(e.to_string())))
    }

    /// Counts rebalances; changes when [`GroupConsumer::take_changes`] has something new.
    pub fn generation(&self) -> u64 {
        self.consumer.context().generation.load(Ordering::SeqCst)
    }

    /// Partition changes since the last call, in order.
    pub fn take_changes(&self) -> Vec<PartitionChange> {
        std::mem::take(&mut *lock(&self.consumer.context().changes))
    }

    /// Publishes each partition's progress; committed periodically and when partitions are
    /// revoked.
    pub fn set_progress(&self, progress: &[Progress]) {
        let mut published = lock(&self.consumer.context().progress);
        for p in progress {
            published.insert(p.partition, *p);
        }
    }

    /// The progress the group committed for `partitions`, where it was written by Eddy.
    pub fn committed(&self, partitions: &[u32]) -> Result<Vec<(u32, Replay)>, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for &partition in partitions {
            tpl.add_partition(&self.topic, partition as i32);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, COMMITTED_TIMEOUT)
            .map_err(|e| KafkaError::Client(format!("reading committed offsets: {e}")))?;
        tracing::debug!(committed = ?committed, "committed offsets of assigned partitions");
        Ok(committed
            .elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| {
                let partition = u32::try_from(e.partition()).ok()?;
                Some((partition, Progress::parse_metadata(e.metadata())?))
            })
            .collect())
    }

    /// Commits the published resume offsets. The caller has flushed the producer.
    pub fn commit(&self, mode: CommitMode) -> Result<(), KafkaError> {
        let tpl = self.consumer.context().commit_list(None);
        tracing::debug!(offsets = ?tpl, "committing");
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&tpl, mode)
            .map_err(|e| KafkaError::Commit(e.to_string()))
    }

    /// The source topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}
