//! The committed position of assigned partitions: the group's offsets (with the progress Eddy
//! wrote in their metadata), or the progress an external store holds (exactly-once into
//! PostgreSQL).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{COMMITTED_TIMEOUT, GroupContext, lock};
use crate::kafka::KafkaError;
use eddy_engine::progress::{Committed, Progress};

/// A partition's committed offset (none: nothing committed) and, where Eddy wrote it, its
/// progress.
pub(super) type Position = (Option<i64>, Option<Committed>);

/// Each of `partitions`' committed position. A broker that does not answer (killed, frozen,
/// restarting) is asked again until `kafka.delivery_timeout` has passed, like a write, unless
/// the process is stopping.
pub(super) fn committed_positions(
    consumer: &BaseConsumer<GroupContext>,
    topic: &str,
    partitions: &[u32],
) -> Result<BTreeMap<u32, Position>, KafkaError> {
    let context = consumer.context();
    let (patience, backoff) = context.patience;
    let stopping = || {
        context
            .stopping
            .get()
            .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::SeqCst))
    };
    let started = Instant::now();
    loop {
        match read_positions(consumer, topic, partitions) {
            Err(error) if started.elapsed() + backoff < patience && !stopping() => {
                tracing::warn!(%error, "reading committed positions: trying again");
                std::thread::sleep(backoff.max(Duration::from_millis(100)));
            }
            result => return result,
        }
    }
}

fn read_positions(
    consumer: &BaseConsumer<GroupContext>,
    topic: &str,
    partitions: &[u32],
) -> Result<BTreeMap<u32, Position>, KafkaError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let external = lock(&consumer.context().external).clone();
    if let Some(external) = external {
        let found = external
            .positions(partitions)
            .map_err(|e| KafkaError::Client(format!("reading committed progress: {e}")))?;
        tracing::debug!(committed = ?found, "committed progress of assigned partitions");
        return Ok(partitions
            .iter()
            .map(|&p| match found.get(&p) {
                Some(&(offset, committed)) => (p, (Some(offset), Some(committed))),
                None => (p, (None, None)),
            })
            .collect());
    }
    let mut tpl = TopicPartitionList::new();
    for &partition in partitions {
        tpl.add_partition(topic, partition as i32);
    }
    let committed = consumer
        .committed_offsets(tpl, COMMITTED_TIMEOUT)
        .map_err(|e| KafkaError::Client(format!("reading committed offsets: {e}")))?;
    tracing::debug!(committed = ?committed, "committed offsets of assigned partitions");
    Ok(committed
        .elements_for_topic(topic)
        .iter()
        .filter_map(|e| {
            let partition = u32::try_from(e.partition()).ok()?;
            let offset = match e.offset() {
                Offset::Offset(o) if o >= 0 => Some(o),
                _ => None,
            };
            Some((partition, (offset, Progress::parse_metadata(e.metadata()))))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    use eddy_engine::config::{Delivery, KafkaConfig, StateConfig};
    use eddy_engine::state::{CheckpointStore, MemoryState};

    use super::super::GroupConsumer;
    use super::*;

    /// A consumer of a broker that never answers (nothing listens on port 1), which would
    /// read committed positions again for `kafka.delivery_timeout` (here 5 minutes).
    fn consumer_of_nobody() -> GroupConsumer {
        let kafka = KafkaConfig {
            delivery_timeout: Duration::from_secs(300),
            ..KafkaConfig::default()
        };
        let state = StateConfig {
            delivery: Delivery::AtLeastOnce,
            ..StateConfig::default()
        };
        let store = CheckpointStore::new(Box::new(MemoryState::new(2))).expect("store");
        GroupConsumer::new(
            &kafka,
            "127.0.0.1:1",
            "events",
            None,
            &state,
            Arc::new(Mutex::new(store)),
            None,
        )
        .expect("consumer")
    }

    #[test]
    fn a_stopping_process_reads_committed_positions_once() {
        let consumer = consumer_of_nobody();
        consumer.stop_waiting_when(Arc::new(AtomicBool::new(true)));
        let started = Instant::now();
        let read = committed_positions(&consumer.consumer, "events", &[0]);
        assert!(read.is_err(), "no broker answers: {read:?}");
        // One try takes COMMITTED_TIMEOUT; without the stop it would go on for 5 minutes.
        assert!(
            started.elapsed() < COMMITTED_TIMEOUT * 2,
            "tried again after the stop: {:?}",
            started.elapsed()
        );
    }
}
