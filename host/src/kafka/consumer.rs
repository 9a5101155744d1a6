//! The group consumer of the source topic. Rebalances are handled in librdkafka's callback on
//! the polling thread (see [`rebalance`]); the loop takes the partition changes they made
//! ([`GroupConsumer::take_changes`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerGroupMetadata, RebalanceProtocol,
};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

mod brokers;
mod checkpoints;
mod committed;
mod fetch_watch;
mod positions;
mod rebalance;

use committed::committed_positions;

use super::KafkaError;
use super::client::{Role, client_config};
use super::producer::Producer;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use rdkafka::statistics::Statistics;

use crate::metrics::PartitionLabels;
use eddy_engine::config::{Delivery, KafkaConfig, StartPosition, StateConfig};
use eddy_engine::progress::{Committed, Progress};
use eddy_engine::recovery::{Resume, fallback};
use eddy_engine::state::CheckpointStore;

/// How long reading the group's committed offsets may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// A change of the partitions this consumer owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionChange {
    /// Partitions given to this consumer, and how each continues.
    Assigned(Vec<(u32, Resume)>),
    /// Partitions taken away (their progress is committed before they go).
    Revoked(Vec<u32>),
    /// Partitions the group takes away, exactly-once, not given up yet: the loop commits
    /// everything processed so far (a checkpoint, whose transaction holds every partition's
    /// output and progress), then gives them up ([`GroupConsumer::give_up`]). Partitions kept
    /// go on from where they are.
    Revoking(Vec<u32>),
    /// Partitions kept through an incremental rebalance whose uncommitted output was
    /// discarded with the open transaction (exactly-once): they go back to where they continue
    /// after a restart, and records of theirs already read are dropped.
    Rewind(Vec<u32>),
    /// Where assigned partitions continue could not be found out; the pipeline stops.
    Failed(String),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where committed progress is kept when it is not the consumer group: exactly-once into
/// PostgreSQL commits it in the results' transactions, and assigned partitions continue from
/// there.
pub trait ProgressSource: Send + Sync {
    /// Each of `partitions` that has committed progress: its offset and what the committer
    /// had accounted for.
    fn positions(&self, partitions: &[u32]) -> Result<BTreeMap<u32, (i64, Committed)>, String>;
}

/// State shared between the rebalance callback and the pipeline loop.
pub struct GroupContext {
    topic: String,
    start: StartPosition,
    producer: Option<Arc<Producer>>,
    changes: Mutex<Vec<PartitionChange>>,
    generation: AtomicU64,
    /// Whether the loop is polling (and settles revoked partitions itself after the poll);
    /// not while the consumer closes.
    polling: AtomicBool,
    progress: Mutex<BTreeMap<u32, Progress>>,
    started: Mutex<BTreeSet<u32>>,
    delivery: Delivery,
    store: Arc<Mutex<CheckpointStore>>,
    checkpoint: Mutex<Option<u64>>,
    /// Each partition's progress at the latest checkpoint since it was assigned.
    checkpointed: Mutex<BTreeMap<u32, Progress>>,
    /// Checkpoints outlive the process: commits name checkpointed positions only.
    durable: bool,
    formats: Mutex<Option<Vec<String>>>,
    lag: Option<Family<PartitionLabels, Gauge>>,
    /// Whether a broker answered lately, and whether the client knows any.
    brokers: brokers::BrokerView,
    /// Assigned partitions waiting for an offset instead of fetching.
    fetches: fetch_watch::FetchWatch,
    /// Committed progress kept outside the group, when there is such a place.
    external: Mutex<Option<Arc<dyn ProgressSource>>>,
    /// Set once the process stops: reading committed positions is no longer retried.
    stopping: std::sync::OnceLock<Arc<AtomicBool>>,
    /// How long reading committed positions is retried while no broker answers
    /// (`kafka.delivery_timeout`), and the pause between tries (`kafka.retry_backoff`).
    patience: (Duration, Duration),
}

impl ClientContext for GroupContext {
    /// A partition without a committed position reports an offset reset before the start
    /// Eddy assigns it applies (`auto.offset.reset=error`): not an error. Real resets are
    /// handled by the loop (`kafka.on_reset`).
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset)
            && reason.contains("no previously committed offset")
        {
            tracing::debug!(%error, reason, "partition without a committed position");
        } else {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }

    /// librdkafka's statistics (every `statistics.interval.ms`): for each assigned partition,
    /// the records between the next one the pipeline reads and the end (last stable offset).
    /// (librdkafka's own `consumer_lag` counts from the committed offset, which Eddy keeps at
    /// the oldest record an open window holds.)
    ///
    /// Also whether a broker answers, and whether the client still knows one
    /// ([`brokers::BrokerView`]).
    fn stats(&self, statistics: Statistics) {
        self.brokers.observe(&statistics.brokers);
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        let states = topic
            .partitions
            .iter()
            .map(|(&p, stats)| (p, stats.desired, stats.fetch_state.as_str()));
        for (partition, state) in self.fetches.observe(states) {
            tracing::warn!(
                partition,
                state,
                "partition fetches nothing: librdkafka has waited in this state for {} statistics reports",
                fetch_watch::STALLED_AFTER
            );
        }
        let Some(lag) = &self.lag else {
            return;
        };
        for (&partition, stats) in &topic.partitions {
            if partition >= 0 && stats.app_offset >= 0 && stats.ls_offset >= 0 {
                lag.get_or_create(&PartitionLabels {
                    partition: i64::from(partition),
                })
                .set((stats.ls_offset - stats.app_offset).max(0));
            }
        }
    }
}

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
        self.list_of(&lock(&self.progress), partitions)
    }

    /// The commit list for `partitions` from their progress at the latest checkpoint.
    fn checkpointed_list(&self, partitions: &[u32]) -> TopicPartitionList {
        self.list_of(&lock(&self.checkpointed), Some(partitions))
    }

    fn list_of(
        &self,
        progress: &BTreeMap<u32, Progress>,
        partitions: Option<&[u32]>,
    ) -> TopicPartitionList {
        let checkpoint = *lock(&self.checkpoint);
        let mut tpl = TopicPartitionList::new();
        for (&partition, p) in progress {
            if partitions.is_none_or(|ps| ps.contains(&partition)) {
                let mut element = tpl.add_partition(&self.topic, partition as i32);
                let _ = element.set_offset(Offset::Offset(p.offset));
                element.set_metadata(p.metadata(checkpoint));
            }
        }
        tpl
    }
}

/// How long reading committed positions is retried: `kafka.delivery_timeout`; exactly-once,
/// at least until a dead predecessor's open transaction has timed out (the broker holds its
/// partitions' committed offsets back until then), and a little more.
fn patience(kafka: &KafkaConfig, state: &StateConfig) -> Duration {
    match state.delivery {
        Delivery::ExactlyOnce => kafka
            .delivery_timeout
            .max(state.transaction_timeout() + Duration::from_secs(15)),
        Delivery::AtLeastOnce => kafka.delivery_timeout,
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
        state: &StateConfig,
        store: Arc<Mutex<CheckpointStore>>,
        lag: Option<Family<PartitionLabels, Gauge>>,
    ) -> Result<Self, KafkaError> {
        let checkpoint = Mutex::new(lock(&store).latest_id());
        let context = GroupContext {
            topic: topic.to_string(),
            start: kafka.start,
            producer,
            changes: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            progress: Mutex::new(BTreeMap::new()),
            started: Mutex::new(BTreeSet::new()),
            delivery: state.delivery,
            store,
            checkpoint,
            checkpointed: Mutex::new(BTreeMap::new()),
            durable: state.durable(),
            formats: Mutex::new(None),
            lag,
            brokers: brokers::BrokerView::new(kafka.delivery_timeout),
            fetches: fetch_watch::FetchWatch::default(),
            external: Mutex::new(None),
            patience: (patience(kafka, state), kafka.retry_backoff),
            stopping: std::sync::OnceLock::new(),
        };
        let mut config = client_config(kafka, brokers, Role::Consumer);
        if config.get("statistics.interval.ms").is_none() {
            config.set("statistics.interval.ms", "5000");
        }
        if let Some(name) = config.get("group.instance.id") {
            tracing::info!(
                instance = name,
                "static group member: a restart under this name gets its partitions back without a rebalance"
            );
        }
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
    /// Exactly-once, partitions revoked here are settled by the loop
    /// ([`PartitionChange::Revoking`]).
    pub fn poll(&self, timeout: Duration) -> Option<Result<BorrowedMessage<'_>, KafkaError>> {
        let polling = &self.consumer.context().polling;
        polling.store(true, Ordering::SeqCst);
        let polled = self.consumer.poll(timeout);
        polling.store(false, Ordering::SeqCst);
        polled.map(|r| {
            r.map_err(|e| match e.rdkafka_error_code() {
                Some(RDKafkaErrorCode::AutoOffsetReset) => KafkaError::OffsetReset(e.to_string()),
                _ => KafkaError::Client(e.to_string()),
            })
        })
    }

    /// Once `stopping` is set, reading committed positions (when partitions are assigned) is
    /// tried once and not again: a stop does not wait out `kafka.delivery_timeout`.
    pub fn stop_waiting_when(&self, stopping: Arc<AtomicBool>) {
        let _ = self.consumer.context().stopping.set(stopping);
    }

    /// Why the brokers cannot be used, while they cannot (from librdkafka's statistics,
    /// every 5 s): none answers lately, or the client knows none any more — an error once
    /// that has lasted longer than `kafka.delivery_timeout` (librdkafka does not recover
    /// from it by itself).
    pub fn broker_outage(&self) -> Result<Option<String>, KafkaError> {
        self.consumer.context().brokers.outage()
    }

    /// Counts rebalances; changes when [`GroupConsumer::take_changes`] has something new.
    pub fn generation(&self) -> u64 {
        self.consumer.context().generation.load(Ordering::SeqCst)
    }

    /// Gives up `partitions` once the loop has committed their progress
    /// ([`PartitionChange::Revoking`]); the group's rebalance goes on from here.
    pub fn give_up(&self, partitions: &[u32]) -> Result<(), KafkaError> {
        let context = self.consumer.context();
        lock(&context.progress).retain(|p, _| !partitions.contains(p));
        lock(&context.checkpointed).retain(|p, _| !partitions.contains(p));
        let given_up = if matches!(
            self.consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        ) {
            let mut tpl = TopicPartitionList::new();
            for &partition in partitions {
                tpl.add_partition(&self.topic, partition as i32);
            }
            self.consumer.incremental_unassign(&tpl)
        } else {
            self.consumer.unassign()
        };
        tracing::info!(
            ?partitions,
            "revoked partitions given up after their commit"
        );
        given_up.map_err(|e| KafkaError::Client(format!("giving up revoked partitions: {e}")))?;
        // librdkafka paused every partition while it waited for the unassignment; a seek to
        // where each kept partition is restarts its fetching at once.
        let kept = self
            .consumer
            .position()
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        for element in kept.elements_for_topic(&self.topic) {
            if let Offset::Offset(offset) = element.offset()
                && let Err(error) = self.consumer.seek(
                    &self.topic,
                    element.partition(),
                    Offset::Offset(offset),
                    Duration::ZERO,
                )
            {
                tracing::debug!(%error, partition = element.partition(), "restarting the fetch");
            }
        }
        Ok(())
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

    /// Takes committed progress from `source` instead of the group's committed offsets
    /// (exactly-once into PostgreSQL); set before the first poll.
    pub fn set_progress_source(&self, source: Arc<dyn ProgressSource>) {
        *lock(&self.consumer.context().external) = Some(source);
    }

    /// The aggregates' state formats: checkpoints made by others are not restored (the
    /// partition continues from the committed progress instead).
    pub fn set_formats(&self, formats: Vec<String>) {
        *lock(&self.consumer.context().formats) = Some(formats);
    }

    /// Records the latest checkpoint and each partition's progress in it: commits name it
    /// in their metadata, and (with durable checkpoints) a revoke commits that progress.
    pub fn set_checkpoint(&self, id: u64, progress: &[Progress]) {
        let context = self.consumer.context();
        *lock(&context.checkpoint) = Some(id);
        self.set_progress(progress);
        let mut checkpointed = lock(&context.checkpointed);
        for p in progress {
            checkpointed.insert(p.partition, *p);
        }
    }

    /// The published progress of every partition, as offsets to commit (with metadata).
    pub fn progress_offsets(&self) -> TopicPartitionList {
        self.consumer.context().commit_list(None)
    }

    /// The consumer group's metadata, for committing offsets in a transaction.
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata, KafkaError> {
        self.consumer
            .group_metadata()
            .ok_or_else(|| KafkaError::Client("no consumer group metadata".into()))
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

    /// The partitions assigned to this consumer.
    pub fn assigned(&self) -> Vec<u32> {
        self.consumer
            .assignment()
            .map(|tpl| self.consumer.context().partitions(&tpl))
            .unwrap_or_default()
    }

    /// Sends `partitions` back to where they continue after a restart — their newest usable
    /// checkpoint, else the committed position, else the start of the partition — and says
    /// how each continues. Records fetched past that point are fetched again.
    pub fn rewind(&self, partitions: &[u32]) -> Result<Vec<(u32, Resume)>, KafkaError> {
        let context = self.consumer.context();
        // Progress published before going back is no longer true: exactly-once, the aborted
        // transaction took the results it stood for, and committing it in the next one lost
        // them. Each partition publishes progress again once it has processed records.
        lock(&context.progress).retain(|p, _| !partitions.contains(p));
        lock(&context.checkpointed).retain(|p, _| !partitions.contains(p));
        let positions = committed_positions(&self.consumer, &self.topic, partitions)?;
        let committed: BTreeMap<u32, Committed> = positions
            .iter()
            .filter_map(|(&p, (_, c))| Some((p, (*c)?)))
            .collect();
        let mut restored = context
            .load_checkpoints(partitions, &committed)
            .map_err(KafkaError::Client)?;
        let mut resumes = Vec::with_capacity(partitions.len());
        for &partition in partitions {
            let (offset, resume) = match restored.remove(&partition) {
                Some((state, origin)) => (
                    Offset::Offset(state.offset),
                    Resume::Restore(Box::new(state), origin),
                ),
                None => match positions.get(&partition) {
                    Some(&(Some(offset), _)) => {
                        (Offset::Offset(offset), fallback(committed.get(&partition)))
                    }
                    _ if context.start == StartPosition::Latest => {
                        return Err(KafkaError::Client(format!(
                            "partition {partition} has no checkpoint or committed position to go back to"
                        )));
                    }
                    _ => (Offset::Beginning, Resume::Fresh),
                },
            };
            self.consumer
                .seek(&self.topic, partition as i32, offset, COMMITTED_TIMEOUT)
                .map_err(|e| KafkaError::Client(format!("seeking partition {partition}: {e}")))?;
            resumes.push((partition, resume));
        }
        Ok(resumes)
    }
}
