//! Kafka clients: a group consumer whose partitions each feed their own window operator, an
//! idempotent or transactional producer for results and side outputs, an embedded
//! (in-process) cluster for the demo, and a reader of output topics. The loop that drives
//! them is the application's (`app::kafka_loop`).

mod client;
mod consumer;
mod embedded;
mod generate;
mod producer;
mod tail;

pub use client::{Role, client_config};
pub use consumer::{GroupConsumer, PartitionChange, ProgressSource};
pub use embedded::Embedded;
pub use generate::{produce, produce_paced};
pub use producer::{Deliveries, Producer, Record};
pub use tail::{Tail, TailRecord};

/// What went wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A client could not be made or a request failed.
    #[error("kafka: {0}")]
    Client(String),
    /// Records could not be delivered (after librdkafka's retries with backoff).
    #[error(
        "kafka: {failed} record(s) could not be delivered within kafka.delivery_timeout: {error}"
    )]
    Delivery {
        /// How many failed so far.
        failed: u64,
        /// The first error.
        error: String,
    },
    /// A transaction could not be begun, committed or aborted (exactly-once).
    #[error("kafka: transaction: {0}")]
    Transaction(String),
    /// The open transaction cannot commit but the producer can go on once it is aborted
    /// (e.g. the consumer's group membership expired while the broker was unreachable).
    #[error("kafka: transaction: {0}")]
    TransactionAborted(String),
    /// Committing progress failed.
    #[error("kafka: committing offsets: {0}")]
    Commit(String),
    /// A partition's position is no longer in the log: records were deleted before they were
    /// read.
    #[error("kafka: {0}")]
    OffsetReset(String),
}
