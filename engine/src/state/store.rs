//! The checkpoints of one process: a backend, the manifests it keeps, and the next id; and,
//! when configured, the directory shared by every replica that each checkpoint also
//! publishes its partitions to.

use std::collections::BTreeMap;

use super::{
    CheckpointInfo, CheckpointWrite, PartitionChange, PartitionState, SharedDir, SharedEntry,
    StateBackend, StateError, Written,
};
use crate::delta::SavedState;

/// Checkpoints written and read through a backend, with their manifests at hand.
pub struct CheckpointStore {
    backend: Box<dyn StateBackend>,
    index: Vec<CheckpointInfo>,
    next_id: u64,
    shared: Option<SharedDir>,
}

impl CheckpointStore {
    /// Reads the manifests `backend` keeps.
    pub fn new(backend: Box<dyn StateBackend>) -> Result<Self, StateError> {
        let index = backend.index()?;
        let next_id = index.last().map_or(1, |i| i.id + 1);
        if let Some(latest) = index.last() {
            tracing::info!(
                checkpoint = latest.id,
                kept = index.len(),
                "checkpoints found"
            );
        }
        Ok(Self {
            backend,
            index,
            next_id,
            shared: None,
        })
    }

    /// Also publishes every checkpoint's partitions to `shared`, and restores from it.
    pub fn with_shared(mut self, shared: SharedDir) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The manifests of the checkpoints kept, oldest first.
    pub fn index(&self) -> &[CheckpointInfo] {
        &self.index
    }

    /// Id of the latest checkpoint written or found.
    pub fn latest_id(&self) -> Option<u64> {
        self.index.last().map(|i| i.id)
    }

    /// Whether checkpoints may hold partitions' changes instead of their whole state: not
    /// when every checkpoint is also published whole to a shared directory.
    pub fn incremental(&self) -> bool {
        self.shared.is_none()
    }

    /// Writes a checkpoint of `partitions` (whole) made by `plugins` under the next id.
    pub fn write(
        &mut self,
        created_ms: i64,
        plugins: Vec<String>,
        partitions: Vec<PartitionState>,
    ) -> Result<(u64, Written), StateError> {
        let changes = partitions.into_iter().map(PartitionChange::from).collect();
        self.write_changes(created_ms, plugins, changes)
    }

    /// Writes a checkpoint of `partitions` (whole or their changes; changes only when
    /// [`CheckpointStore::incremental`]) made by `plugins` under the next id.
    pub fn write_changes(
        &mut self,
        created_ms: i64,
        plugins: Vec<String>,
        partitions: Vec<PartitionChange>,
    ) -> Result<(u64, Written), StateError> {
        let checkpoint = CheckpointWrite {
            id: self.next_id,
            created_ms,
            plugins,
            partitions,
        };
        let mut written = self.backend.write(&checkpoint)?;
        self.next_id += 1;
        let info = checkpoint.info();
        if let Some(shared) = &self.shared {
            let whole = checkpoint
                .partitions
                .into_iter()
                .map(|change| match change.saved {
                    SavedState::Full(snapshot) => Ok(PartitionState {
                        partition: change.partition,
                        offset: change.offset,
                        snapshot,
                    }),
                    SavedState::Delta(_) => Err(StateError::Encode(
                        "changes cannot be published to the shared directory".into(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            written.bytes += shared.publish(info.id, created_ms, &info.plugins, &whole)?;
        }
        let id = info.id;
        self.index.push(info);
        let kept = self.backend.ids()?;
        self.index.retain(|i| kept.contains(&i.id));
        Ok((id, written))
    }

    /// The state of `partitions` in checkpoint `id`. A checkpoint that cannot be read whole
    /// is logged as an error and forgotten (`None`): the caller falls back.
    pub fn load(
        &mut self,
        id: u64,
        partitions: &[u32],
    ) -> Result<Option<BTreeMap<u32, PartitionState>>, StateError> {
        match self.backend.read(id) {
            Ok(checkpoint) => Ok(Some(
                checkpoint
                    .partitions
                    .into_iter()
                    .filter(|p| partitions.contains(&p.partition))
                    .map(|p| (p.partition, p))
                    .collect(),
            )),
            Err(error @ (StateError::Corrupt { .. } | StateError::Missing(_))) => {
                tracing::error!(%error, "checkpoint unusable; falling back");
                self.index.retain(|i| i.id != id);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

impl CheckpointStore {
    /// The states of `partition` in the shared directory, newest first (none without one).
    pub fn shared_entries(&self, partition: u32) -> Result<Vec<SharedEntry>, StateError> {
        self.shared
            .as_ref()
            .map_or(Ok(Vec::new()), |shared| shared.entries(partition))
    }

    /// A state from the shared directory; one that cannot be read whole is logged as an
    /// error (`None`): the caller falls back.
    pub fn load_shared(&self, entry: &SharedEntry) -> Option<PartitionState> {
        let shared = self.shared.as_ref()?;
        match shared.read(entry) {
            Ok(state) => Some(state),
            Err(error) => {
                tracing::error!(%error, "shared checkpoint unusable; falling back");
                None
            }
        }
    }
}
