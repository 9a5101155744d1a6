//! Checkpoints: everything a pipeline needs to continue after a crash or a hand-over — each
//! partition's operator snapshot and the source offset it belongs to, and the plugin versions
//! that made the state — written atomically under increasing ids by a state backend, in memory
//! or in RocksDB.

mod memory;
mod record;
mod shared;
mod store;

use serde::{Deserialize, Serialize};

pub use memory::MemoryState;
pub use record::{decode_legacy_record, decode_record, encode_record};
pub use shared::{SharedDir, SharedEntry, decode_published, digest};
pub use store::CheckpointStore;

use crate::delta::SavedState;
use crate::snapshot::OperatorSnapshot;

/// One partition's state in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Source partition (0 for unpartitioned sources).
    pub partition: u32,
    /// The first source offset not reflected in `snapshot`: reading resumes here.
    pub offset: i64,
    /// The operator's state.
    pub snapshot: OperatorSnapshot,
}

/// One partition's part of a checkpoint being written: its state whole, or the changes since
/// the latest checkpoint that holds the partition (see [`crate::delta`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionChange {
    /// Source partition.
    pub partition: u32,
    /// The first source offset not reflected in the state: reading resumes here.
    pub offset: i64,
    /// The operator's state, or its changes.
    pub saved: SavedState,
}

impl From<PartitionState> for PartitionChange {
    fn from(state: PartitionState) -> Self {
        Self {
            partition: state.partition,
            offset: state.offset,
            saved: SavedState::Full(state.snapshot),
        }
    }
}

/// A checkpoint as written: each partition whole or as its changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointWrite {
    /// Increasing id.
    pub id: u64,
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// The plugin versions whose state it holds (content hashes).
    pub plugins: Vec<String>,
    /// Per partition.
    pub partitions: Vec<PartitionChange>,
}

impl CheckpointWrite {
    /// What its manifest says.
    pub fn info(&self) -> CheckpointInfo {
        let offsets = self.partitions.iter().map(|p| (p.partition, p.offset));
        CheckpointInfo::of(self.id, self.created_ms, &self.plugins, offsets)
    }
}

impl From<Checkpoint> for CheckpointWrite {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            id: checkpoint.id,
            created_ms: checkpoint.created_ms,
            plugins: checkpoint.plugins,
            partitions: checkpoint.partitions.into_iter().map(Into::into).collect(),
        }
    }
}

/// A checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Increasing id.
    pub id: u64,
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// The plugin versions whose state it holds (content hashes).
    pub plugins: Vec<String>,
    /// Per partition.
    pub partitions: Vec<PartitionState>,
}

impl Checkpoint {
    /// What its manifest says.
    pub fn info(&self) -> CheckpointInfo {
        let offsets = self.partitions.iter().map(|p| (p.partition, p.offset));
        CheckpointInfo::of(self.id, self.created_ms, &self.plugins, offsets)
    }
}

/// A checkpoint's manifest: what it holds, without the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Its id.
    pub id: u64,
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// The plugin versions whose state it holds.
    pub plugins: Vec<String>,
    /// Per partition held, the offset reading resumes from.
    pub offsets: Vec<(u32, i64)>,
}

impl CheckpointInfo {
    /// The manifest of checkpoint `id` holding the partitions of `offsets`.
    fn of(
        id: u64,
        created_ms: i64,
        plugins: &[String],
        offsets: impl Iterator<Item = (u32, i64)>,
    ) -> Self {
        Self {
            id,
            created_ms,
            plugins: plugins.to_vec(),
            offsets: offsets.collect(),
        }
    }

    /// The resume offset of `partition`, when the checkpoint holds it.
    pub fn offset(&self, partition: u32) -> Option<i64> {
        self.offsets
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, o)| *o)
    }
}

/// What writing a checkpoint cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes of state written.
    pub bytes: u64,
}

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory cannot be used; it is left as it is.
    #[error("state directory {dir}: {message}")]
    Open {
        /// The directory.
        dir: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("state store: {0}")]
    Store(String),
    /// A checkpoint could not be encoded.
    #[error("encoding a checkpoint: {0}")]
    Encode(String),
    /// A checkpoint is incomplete or its digest does not match.
    #[error("checkpoint {id} is unusable: {reason}")]
    Corrupt {
        /// Its id.
        id: u64,
        /// What is wrong.
        reason: String,
    },
    /// No checkpoint has this id.
    #[error("no checkpoint {0}")]
    Missing(u64),
    /// A partition's changes have no checkpoint before them to apply to.
    #[error("partition {0}: changes with no earlier checkpoint of the partition to apply to")]
    NoBase(u32),
    /// A checkpoint id did not increase.
    #[error("checkpoint id {id} is not above the latest, {latest}")]
    Order {
        /// The id given.
        id: u64,
        /// The latest id written.
        latest: u64,
    },
}

/// Where checkpoints are kept.
pub trait StateBackend: Send {
    /// Writes `checkpoint` atomically: afterwards it is the latest, or (on error) nothing
    /// changed. A partition's changes apply to the latest checkpoint that holds the partition.
    /// Older checkpoints beyond the number kept are removed (unless a kept one builds on
    /// them).
    fn write(&mut self, checkpoint: &CheckpointWrite) -> Result<Written, StateError>;

    /// The checkpoint `id`, checked whole.
    fn read(&mut self, id: u64) -> Result<Checkpoint, StateError>;

    /// The manifests of the checkpoints kept, oldest first (their state is not checked).
    fn index(&self) -> Result<Vec<CheckpointInfo>, StateError>;

    /// The latest complete checkpoint. A latest one that is corrupt or incomplete is skipped,
    /// loudly, for the one before it.
    fn latest(&mut self) -> Result<Option<Checkpoint>, StateError> {
        for info in self.index()?.iter().rev() {
            match self.read(info.id) {
                Ok(checkpoint) => return Ok(Some(checkpoint)),
                Err(error @ StateError::Corrupt { .. }) => {
                    tracing::error!(%error, "falling back to the checkpoint before");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(None)
    }

    /// Ids of the checkpoints kept, oldest first.
    fn ids(&self) -> Result<Vec<u64>, StateError> {
        Ok(self.index()?.iter().map(|i| i.id).collect())
    }
}

/// `f` over `items` on every core, results in order (partitions are independent, and
/// encoding a million keys' state on one core is most of a checkpoint's time).
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, StateError> + Sync,
) -> Vec<Result<R, StateError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(StateError::Store("a worker thread panicked".into()))]
                })
            })
            .collect()
    })
}
