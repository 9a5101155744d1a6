//! The checkpoints of one process: a backend, the manifests it keeps, and the next id; and,
//! when configured, the directory shared by every replica that each checkpoint also
//! publishes its partitions to.

use std::collections::BTreeMap;

use super::{
    Checkpoint, CheckpointInfo, PartitionState, SharedDir, SharedEntry, StateBackend, StateError,
    Written,
};

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

    /// Writes a checkpoint of `partitions` made by `plugins` under the next id.
    pub fn write(
        &mut self,
        created_ms: i64,
        plugins: Vec<String>,
        partitions: Vec<PartitionState>,
    ) -> Result<(u64, Written), StateError> {
        let checkpoint = Checkpoint {
            id: self.next_id,
            created_ms,
            plugins,
            partitions,
        };
        let mut written = self.backend.write(&checkpoint)?;
        if let Some(shared) = &self.shared {
            written.bytes += shared.publish(
                checkpoint.id,
                created_ms,
                &checkpoint.plugins,
                &checkpoint.partitions,
            )?;
        }
        self.next_id += 1;
        self.index.push(checkpoint.info());
        let kept = self.backend.ids()?;
        self.index.retain(|i| kept.contains(&i.id));
        Ok((checkpoint.id, written))
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
