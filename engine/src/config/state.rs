//! Where checkpoints go, how often they are taken, and the delivery guarantee they back.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The store of checkpoints.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// In the process: a restart rebuilds open windows by reading the source again from the
    /// committed progress.
    #[default]
    Memory,
    /// RocksDB in `state.dir`: a restart restores open windows from the latest checkpoint.
    Rocksdb,
}

/// What a consumer of the outputs may rely on.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Nothing is lost; after a crash, results written since the last checkpoint may be
    /// written again.
    #[default]
    AtLeastOnce,
    /// Results, side outputs and source offsets are committed in one Kafka transaction per
    /// checkpoint: a `read_committed` reader sees each exactly once, a checkpoint interval
    /// late.
    ExactlyOnce,
}

/// State and checkpoint settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// Where checkpoints are kept.
    pub backend: BackendKind,
    /// The RocksDB directory (`backend: rocksdb`); created when missing, never wiped.
    pub dir: PathBuf,
    /// A directory every replica of the pipeline can read and write (a ReadWriteMany volume,
    /// NFS): every checkpoint also writes each partition's state here, one file per
    /// partition, so that a partition's next owner restores its open windows from it when the
    /// partition moves (scale-out, scale-in, crash). Unset: a moved partition rebuilds its
    /// open windows by reading the source again from the committed progress.
    pub shared_dir: Option<PathBuf>,
    /// How often a checkpoint is taken.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub checkpoint_interval: Duration,
    /// How many checkpoints are kept (the latest may be unusable after a crash of the disk).
    pub keep: usize,
    /// Delivery guarantee.
    pub delivery: Delivery,
    /// Kafka transactional id (`delivery: exactly_once`): stable per replica, so that a
    /// restarted replica fences its predecessor. Default `<kafka.group_id>-<HOSTNAME>`.
    pub transactional_id: Option<String>,
    /// When a partition has had no event for this long (processing time), its open windows
    /// cannot fire (its watermark does not move) and their state is dropped, counted in
    /// `eddy_groups_expired_total`. Unset (the default): kept until they fire.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<super::reference::DurationText>")]
    pub ttl: Option<Duration>,
    /// How long a stop (SIGTERM, SIGINT) may take: stop reading, checkpoint, commit. After
    /// that the process exits with an error.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub shutdown_timeout: Duration,
    /// Most open groups (key and window) a partition holds: an event that would open one
    /// more is dead-lettered with the reason and counted (`eddy_group_limit_refused_total`),
    /// so a burst of distinct keys cannot exhaust memory. Each open group costs about 100
    /// bytes in the host plus its aggregators' state.
    pub max_open_groups: usize,
}

impl StateConfig {
    /// Whether checkpoints outlive the process (RocksDB or a shared directory): progress is
    /// then committed with checkpoints only, so that a committed position always has its
    /// state.
    pub fn durable(&self) -> bool {
        self.backend == BackendKind::Rocksdb || self.shared_dir.is_some()
    }

    /// Exactly-once: how long a transaction may stay open before the broker aborts it
    /// (`transaction.timeout.ms`): three checkpoint intervals, at least a minute (a broker
    /// frozen for half a minute must not time out the transaction it is in). Also how long a
    /// replica given partitions may have to wait for a dead predecessor's open transaction to
    /// end before their committed offsets can be read.
    pub fn transaction_timeout(&self) -> std::time::Duration {
        (self.checkpoint_interval * 3).max(std::time::Duration::from_secs(60))
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Memory,
            dir: PathBuf::from("eddy-state"),
            shared_dir: None,
            checkpoint_interval: Duration::from_secs(10),
            keep: 3,
            delivery: Delivery::AtLeastOnce,
            transactional_id: None,
            ttl: None,
            shutdown_timeout: Duration::from_secs(30),
            max_open_groups: 2_000_000,
        }
    }
}
