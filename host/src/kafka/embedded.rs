//! An in-process Kafka cluster (librdkafka's mock cluster) for the demo and fast tests. It
//! speaks the Kafka protocol on a loopback port and keeps everything in memory; it lives as
//! long as this value.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::KafkaError;

/// A running in-process cluster.
pub struct Embedded {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Embedded {
    /// Starts a one-broker cluster.
    pub fn start() -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(1)
            .map_err(|e| KafkaError::Client(format!("starting the embedded cluster: {e}")))?;
        Ok(Self { cluster })
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), KafkaError> {
        let partitions = i32::try_from(partitions)
            .map_err(|_| KafkaError::Client(format!("too many partitions for `{topic}`")))?;
        self.cluster
            .create_topic(topic, partitions, 1)
            .map_err(|e| KafkaError::Client(format!("creating topic `{topic}`: {e}")))
    }

    /// The `bootstrap.servers` of the cluster.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
