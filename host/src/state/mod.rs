//! Checkpoint storage on disk: the RocksDB backend, and opening the backend a config names
//! (the backend trait, the memory backend and the shared hand-over files are the engine's).

mod rocks;

use eddy_engine::config::{BackendKind, StateConfig, replica_name};
use eddy_engine::state::{CheckpointStore, MemoryState, SharedDir, StateBackend, StateError};
pub use rocks::{ABORT_AT_DELTA_WRITE, RocksState};

/// Opens the backend `config` names, and the shared directory when one is set: an unusable
/// directory is an error naming it.
pub fn open(config: &StateConfig) -> Result<CheckpointStore, StateError> {
    let backend: Box<dyn StateBackend> = match config.backend {
        BackendKind::Memory => Box::new(MemoryState::new(config.keep)),
        BackendKind::Rocksdb => Box::new(RocksState::open(&config.dir, config.keep)?),
    };
    let store = CheckpointStore::new(backend)?;
    Ok(match &config.shared_dir {
        Some(dir) => store.with_shared(SharedDir::open(dir, &replica_name(), config.keep)?),
        None => store,
    })
}

#[cfg(test)]
mod tests {
    use eddy_engine::config::{BackendKind, StateConfig};
    use eddy_engine::snapshot::OperatorSnapshot;
    use eddy_engine::state::PartitionState;

    use super::open;

    fn state(partition: u32, offset: i64) -> PartitionState {
        PartitionState {
            partition,
            offset,
            snapshot: OperatorSnapshot::default(),
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
