//! Kafka connection, consumer and producer settings.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a consumer starts reading a partition.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartPosition {
    /// Resume from the consumer group's committed offsets; partitions without one start at
    /// their earliest offset.
    #[default]
    Committed,
    /// Every partition assigned for the first time in this process starts at its earliest
    /// offset, whatever the group committed (a replay).
    Earliest,
    /// Every partition assigned for the first time in this process starts at its end: only
    /// records produced from now on are read.
    Latest,
}

/// What to do when a partition's position is no longer in the log (retention, or the
/// embedded cluster's limit, deleted records before they were read): those records are lost.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnReset {
    /// Stop with an error naming the partition and the records lost (readiness false).
    #[default]
    Stop,
    /// Log an error, count the records skipped, and continue from the earliest record left.
    Continue,
}

/// Whether this replica joins its consumer group as a static member (`group.instance.id`,
/// KIP-345): a restarted member with the same name gets its partitions back at once, without a
/// rebalance and without waiting for the group to give up on its predecessor.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaticMembership {
    /// On when this replica's name is stable: `kafka.instance_id` is set, or the process runs
    /// in Kubernetes under a StatefulSet pod name (`HOSTNAME` is `<name>-<ordinal>`).
    #[default]
    Auto,
    /// Always, named by `kafka.instance_id`, else `HOSTNAME`.
    On,
    /// Never: a restarted replica joins as a new member.
    Off,
}

/// How the consumer group moves partitions between replicas when one joins or leaves.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RebalanceProtocol {
    /// Incremental (the cooperative-sticky assignor, KIP-429): only the partitions that move
    /// stop; the others keep processing through the rebalance. Exactly-once: the open
    /// transaction is aborted when partitions go, and the kept ones continue from their last
    /// checkpoint.
    #[default]
    Cooperative,
    /// Incremental, by the broker (the consumer group protocol of KIP-848,
    /// `group.protocol=consumer`; Apache Kafka 4.0 or later). Session timeout and heartbeats
    /// are then the broker's settings (`group.consumer.*`), not the consumer's.
    Consumer,
    /// Every rebalance revokes every partition of every replica and assigns them again (the
    /// range assignor): all partitions stop while one moves.
    Eager,
}

/// Compression of produced batches.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    #[default]
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The librdkafka name.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Settings shared by the Kafka source, sink and side outputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers (`host:port,host:port`), or `embedded` for an in-process mock cluster
    /// (librdkafka's; for the demo and tests, it keeps nothing after the process exits).
    pub brokers: String,
    /// Consumer group id; replicas with the same id share the input's partitions.
    pub group_id: String,
    /// Whether the consumer is a static group member (see [`StaticMembership`]).
    pub static_membership: StaticMembership,
    /// This replica's static member name (`group.instance.id`); default `HOSTNAME`. Each
    /// replica of a group needs its own.
    pub instance_id: Option<String>,
    /// How partitions move between replicas (see [`RebalanceProtocol`]). Replicas of one group
    /// must use the same one; switching needs every replica stopped first.
    pub rebalance: RebalanceProtocol,
    /// Where partitions start when first assigned.
    pub start: StartPosition,
    /// What to do when records were deleted before they were read (see [`OnReset`]). A
    /// partition that never had a committed position continues from its earliest record
    /// whatever this says.
    pub on_reset: OnReset,
    /// How often progress is committed (the producer is flushed first, so a committed offset
    /// never runs ahead of a result that has not been acknowledged).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub commit_interval: Duration,
    /// How long the producer batches records before sending (`linger.ms`).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub linger: Duration,
    /// Largest produce batch in bytes (`batch.size`).
    pub batch_bytes: u64,
    /// Compression of produced batches.
    pub compression: Compression,
    /// How long a produced record may take to be acknowledged, retries included
    /// (`delivery.timeout.ms`); after that the failure stops the pipeline.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub delivery_timeout: Duration,
    /// First wait between produce retries (`retry.backoff.ms`), doubled up to
    /// `retry.backoff.max.ms` by librdkafka.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub retry_backoff: Duration,
    /// Partitions of each topic the embedded cluster creates (`brokers: embedded` only).
    pub embedded_partitions: u32,
    /// librdkafka properties for both consumer and producer, passed through as they are
    /// (e.g. `security.protocol: SASL_SSL`). In environment overrides, write `_` for `.`:
    /// `EDDY_KAFKA__PROPERTIES__SECURITY_PROTOCOL=SASL_SSL`.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// librdkafka properties for the consumer only; they win over `properties`.
    pub consumer_properties: BTreeMap<String, serde_json::Value>,
    /// librdkafka properties for the producer only; they win over `properties`.
    pub producer_properties: BTreeMap<String, serde_json::Value>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "localhost:9092".into(),
            group_id: "eddy".into(),
            static_membership: StaticMembership::Auto,
            instance_id: None,
            rebalance: RebalanceProtocol::Cooperative,
            start: StartPosition::Committed,
            on_reset: OnReset::Stop,
            commit_interval: Duration::from_secs(5),
            linger: Duration::from_millis(5),
            batch_bytes: 1_000_000,
            compression: Compression::Lz4,
            delivery_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            embedded_partitions: 4,
            properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
            producer_properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// The consumer's static member name (`group.instance.id`), if it is a static member;
    /// `env` reads an environment variable.
    pub fn group_instance_id(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        let named = self
            .instance_id
            .clone()
            .filter(|name| !name.trim().is_empty());
        let host = env("HOSTNAME").filter(|name| !name.trim().is_empty());
        match self.static_membership {
            StaticMembership::Off => None,
            StaticMembership::On => named.or(host),
            StaticMembership::Auto => named.or_else(|| {
                let in_kubernetes = env("KUBERNETES_SERVICE_HOST").is_some();
                host.filter(|name| in_kubernetes && is_stateful_set_pod(name))
            }),
        }
    }
}

/// Whether `name` looks like a StatefulSet pod's: `<name>-<ordinal>`.
fn is_stateful_set_pod(name: &str) -> bool {
    name.rsplit_once('-').is_some_and(|(set, ordinal)| {
        !set.is_empty() && !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A property name as librdkafka spells it: environment overrides write `_` for `.`.
pub fn property_name(name: &str) -> String {
    name.replace('_', ".")
}

/// A property value as text (numbers and booleans from YAML or the environment included).
pub fn property_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl KafkaConfig {
    /// Whether the brokers are an in-process mock cluster.
    pub fn is_embedded(&self) -> bool {
        self.brokers == "embedded"
    }
}
