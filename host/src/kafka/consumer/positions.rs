//! Where the assigned partitions stand against their logs, and restarting their fetchers: what
//! the loop needs when librdkafka reports an offset reset.

use std::collections::BTreeMap;

use rdkafka::consumer::{Consumer, RebalanceProtocol};
use rdkafka::{Offset, TopicPartitionList};

use super::{COMMITTED_TIMEOUT, GroupConsumer, committed_positions};
use crate::kafka::KafkaError;
use eddy_engine::config::StartPosition;

impl GroupConsumer {
    /// Each assigned partition's position with the log's earliest and next offsets:
    /// `(partition, position, low, high)`. `read` has the next offset to read of each
    /// partition read so far; other partitions' position is their committed offset; a
    /// partition with neither (given its start explicitly at assignment) is left out.
    pub fn positions(
        &self,
        read: &BTreeMap<u32, i64>,
    ) -> Result<Vec<(u32, i64, i64, i64)>, KafkaError> {
        let partitions = self.assigned();
        let committed = committed_positions(&self.consumer, &self.topic, &partitions)?;
        let mut positions = Vec::new();
        for partition in partitions {
            let known = read
                .get(&partition)
                .copied()
                .or_else(|| committed.get(&partition).and_then(|(o, _)| *o));
            let Some(position) = known else {
                continue;
            };
            let (low, high) = self
                .consumer
                .fetch_watermarks(&self.topic, partition as i32, COMMITTED_TIMEOUT)
                .map_err(|e| {
                    KafkaError::Client(format!("reading partition {partition}'s offsets: {e}"))
                })?;
            positions.push((partition, position, low, high));
        }
        Ok(positions)
    }

    /// Fetching continues at `offsets` (partition, offset) — also for partitions whose fetcher
    /// stopped on an error, which a seek cannot restart: the assignment is made again, the
    /// other partitions where they are.
    pub fn restart_at(&self, offsets: &[(u32, i64)]) -> Result<(), KafkaError> {
        let seeks = offsets.iter().all(|&(partition, offset)| {
            self.consumer
                .seek(
                    &self.topic,
                    partition as i32,
                    Offset::Offset(offset),
                    COMMITTED_TIMEOUT,
                )
                .is_ok()
        });
        if seeks {
            return Ok(());
        }
        if matches!(
            self.consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        ) {
            // Incremental protocols change the assignment only incrementally: the stopped
            // partitions are given up and taken again at `offsets`; the others go on.
            let mut again = TopicPartitionList::new();
            for &(partition, offset) in offsets {
                let _ = again.add_partition_offset(
                    &self.topic,
                    partition as i32,
                    Offset::Offset(offset),
                );
            }
            self.consumer
                .incremental_unassign(&again)
                .map_err(|e| KafkaError::Client(format!("giving partitions up: {e}")))?;
            return self
                .consumer
                .incremental_assign(&again)
                .map_err(|e| KafkaError::Client(format!("assigning partitions again: {e}")));
        }
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| KafkaError::Client(format!("reading the assignment: {e}")))?;
        let positions = self
            .consumer
            .position()
            .map_err(|e| KafkaError::Client(format!("reading positions: {e}")))?;
        let mut again = TopicPartitionList::new();
        for element in assignment.elements_for_topic(&self.topic) {
            let partition = element.partition();
            let asked = offsets
                .iter()
                .find(|(p, _)| i64::from(*p) == i64::from(partition))
                .map(|&(_, o)| Offset::Offset(o));
            let current = positions
                .find_partition(&self.topic, partition)
                .map(|e| e.offset())
                .filter(|o| matches!(o, Offset::Offset(_)));
            // A partition not fetched yet had its start given at assignment: it again.
            let start = match self.consumer.context().start {
                StartPosition::Latest => Offset::End,
                _ => Offset::Beginning,
            };
            let offset = asked.or(current).unwrap_or(start);
            let _ = again.add_partition_offset(&self.topic, partition, offset);
        }
        self.consumer
            .assign(&again)
            .map_err(|e| KafkaError::Client(format!("assigning partitions again: {e}")))
    }
}
