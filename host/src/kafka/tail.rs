//! Reads topics from their beginning without a consumer group: the demo prints results with
//! it, and tests and benchmarks compare what Eddy wrote.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::KafkaError;

/// A record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRecord {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Its headers, as text.
    pub headers: Vec<(String, String)>,
    /// Its timestamp (milliseconds since the epoch; when it was produced), if it has one.
    pub timestamp: Option<i64>,
}

impl TailRecord {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A reader of whole topics (committed records only).
pub struct Tail {
    consumer: BaseConsumer,
}

impl Tail {
    /// Reads partitions `0..partitions` of each topic from the beginning.
    pub fn new(brokers: &str, topics: &[(&str, u32)]) -> Result<Self, KafkaError> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "eddy-tail")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .map_err(|e| KafkaError::Client(format!("creating a reader: {e}")))?;
        let mut tpl = TopicPartitionList::new();
        for &(topic, partitions) in topics {
            for partition in 0..partitions {
                tpl.add_partition_offset(topic, partition as i32, Offset::Beginning)
                    .map_err(|e| KafkaError::Client(e.to_string()))?;
            }
        }
        consumer
            .assign(&tpl)
            .map_err(|e| KafkaError::Client(format!("assigning: {e}")))?;
        Ok(Self { consumer })
    }

    /// The next record, waiting up to `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Result<TailRecord, KafkaError>> {
        self.consumer.poll(timeout).map(|polled| {
            let message = polled.map_err(|e| KafkaError::Client(e.to_string()))?;
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(TailRecord {
                topic: message.topic().to_string(),
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
                timestamp: message.timestamp().to_millis(),
            })
        })
    }
}
