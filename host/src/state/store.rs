//! The checkpoints of one process: a backend, the manifests it keeps, and the next id; and,
//! when configured, the directory shared by every replica that each checkpoint also
//! publishes its partitions to.

use std::collections::BTreeMap;

use super::{
    Checkpoint, CheckpointInfo, MemoryState, PartitionState, RocksState, SharedDir, SharedEntry,
    StateBackend, StateError, Written,
};
use crate::config::{BackendKind, StateConfig, replica_name};

/// Checkpoints written and read through a backend, with their manifests at hand.
pub struct CheckpointStore {
    backend: Box<dyn StateBackend>,
    index: Vec<CheckpointInfo>,
    next_id: u64,
    shared: Option<SharedDir>,
}

/// Opens the backend `config` names, and the shared directory when one is set: an unusable
/// directory is an error naming it.
pub fn open(config: &StateConfig) -> Result<CheckpointStore, StateError> {
    let backend: Box<dyn StateBackend> = match config.backend {
        BackendKind::Memory => Box::new(MemoryState::new(config.keep)),
        BackendKind::Rocksdb => Box::new(RocksState::open(&config.dir, config.keep)?),
    };
    let mut store = CheckpointStore::new(backend)?;
    if let Some(dir) = &config.shared_dir {
        store.shared = Some(SharedDir::open(dir, &replica_name(), config.keep)?);
    }
    Ok(store)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::OperatorSnapshot;

    fn state(partition: u32, offset: i64) -> PartitionState {
        PartitionState {
            partition,
            offset,
            snapshot: OperatorSnapshot {
                watermark: 0,
                max_seen: Vec::new(),
                formats: Vec::new(),
                groups: Vec::new(),
                states: Vec::new(),
                retiring: Vec::new(),
            },
        }
    }

    #[test]
    fn ids_continue_after_a_reopen_and_loads_pick_partitions() {
        let dir = tempfile::tempdir().expect("dir");
        let config = StateConfig {
            backend: BackendKind::Rocksdb,
            dir: dir.path().join("state"),
            keep: 2,
            ..StateConfig::default()
        };
        let mut store = open(&config).expect("open");
        for offset in [10, 20, 30] {
            store
                .write(
                    0,
                    vec!["count@1".into()],
                    vec![state(0, offset), state(1, offset)],
                )
                .expect("write");
        }
        assert_eq!(
            store.index().iter().map(|i| i.id).collect::<Vec<_>>(),
            [2, 3]
        );
        drop(store);
        let mut store = open(&config).expect("reopen");
        assert_eq!(store.latest_id(), Some(3));
        let loaded = store.load(3, &[1]).expect("read").expect("usable");
        assert_eq!(loaded.keys().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(loaded[&1].offset, 30);
        let (id, _) = store.write(0, Vec::new(), Vec::new()).expect("write");
        assert_eq!(id, 4);
        assert_eq!(store.load(1, &[0]).expect("read"), None, "removed long ago");
    }
}
