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
/// restarting) is asked again until `kafka.delivery_timeout` has passed, like a write.
pub(super) fn committed_positions(
    consumer: &BaseConsumer<GroupContext>,
    topic: &str,
    partitions: &[u32],
) -> Result<BTreeMap<u32, Position>, KafkaError> {
    let (patience, backoff) = consumer.context().patience;
    let started = Instant::now();
    loop {
        match read_positions(consumer, topic, partitions) {
            Err(error) if started.elapsed() + backoff < patience => {
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
