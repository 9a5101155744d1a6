//! The checkpoints of one process: a backend, the manifests it keeps, and the next id.

use std::collections::BTreeMap;

use super::{
    Checkpoint, CheckpointInfo, MemoryState, PartitionState, RocksState, StateBackend, StateError,
    Written,
};
use crate::config::{BackendKind, StateConfig};

/// Checkpoints written and read through a backend, with their manifests at hand.
pub struct CheckpointStore {
    backend: Box<dyn StateBackend>,
    index: Vec<CheckpointInfo>,
    next_id: u64,
}

/// Opens the backend `config` names: an unusable RocksDB directory is an error naming it.
pub fn open(config: &StateConfig) -> Result<CheckpointStore, StateError> {
    let backend: Box<dyn StateBackend> = match config.backend {
        BackendKind::Memory => Box::new(MemoryState::new(config.keep)),
        BackendKind::Rocksdb => Box::new(RocksState::open(&config.dir, config.keep)?),
    };
    CheckpointStore::new(backend)
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
        let written = self.backend.write(&checkpoint)?;
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
