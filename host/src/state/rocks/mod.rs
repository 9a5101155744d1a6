//! Checkpoints in RocksDB. Each checkpoint is one synced write batch: a record per partition
//! — its state whole, or the changes since the partition's previous checkpoint — and, last,
//! its manifest (see [`chain`] for the format). A partition whose chain of changes reaches
//! [`MAX_DEPTH`] is written whole again by a thread of the backend ([`compact`]), not by the
//! writer, so a checkpoint's write stays as small as its changes. Old checkpoints are removed with
//! range deletes, except those a kept checkpoint still builds on. A checkpoint whose manifest
//! or records are missing or whose digests do not match is skipped (logged as an error) for
//! the one before it. Checkpoints written by earlier versions are still read ([`legacy`]).

mod chain;
mod compact;
mod fault;
mod legacy;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rocksdb::{DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};

use eddy_engine::delta::SavedState;
use eddy_engine::state::{
    Checkpoint, CheckpointInfo, CheckpointWrite, PartitionChange, PartitionState, StateBackend,
    StateError, Written, parallel_map,
};

use chain::{Manifest, Part, encode, manifest_key, record_key};
use compact::{Compactor, FORCED_DEPTH};
pub use fault::ABORT_AT_DELTA_WRITE;

/// The most changes a partition's record builds on before it is written whole again in the
/// background: reading a partition reads its last whole record and about this many changes.
pub const MAX_DEPTH: u32 = 16;

/// Checkpoints in a RocksDB database.
pub struct RocksState {
    compactor: Compactor,
    db: Arc<DB>,
    /// Held by checkpoint writes and reads, and by a compaction's write.
    lock: Arc<Mutex<()>>,
    keep: usize,
}

fn store(error: rocksdb::Error) -> StateError {
    StateError::Store(error.to_string())
}

/// A partition's record, ready to write.
type Encoded = Result<(Vec<u8>, Part), StateError>;

impl RocksState {
    /// Opens (or creates) the database in `dir`, keeping the last `keep` checkpoints. A
    /// directory that cannot be opened is an error naming it; nothing is removed.
    pub fn open(dir: &Path, keep: usize) -> Result<Self, StateError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let db = DB::open(&options, dir).map_err(|e| StateError::Open {
            dir: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let db = Arc::new(db);
        let lock: Arc<Mutex<()>> = Arc::default();
        Ok(Self {
            compactor: Compactor::start(Arc::clone(&db), Arc::clone(&lock)),
            db,
            lock,
            keep: keep.max(1),
        })
    }

    /// Waits until the compactions asked for are done.
    #[cfg(test)]
    pub(super) fn settle(&self) {
        while self.compactor.busy() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Ids of the keys under `prefix` (`m/` or `n/`), readable or not.
    fn ids_under(&self, prefix: &[u8]) -> Result<Vec<u64>, StateError> {
        let mut ids = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(prefix, Direction::Forward))
        {
            let (key, _) = item.map_err(store)?;
            let Some(id) = key.strip_prefix(prefix) else {
                break;
            };
            if let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Ids of every manifest, in either format, readable or not, oldest first.
    fn stored_ids(&self) -> Result<Vec<u64>, StateError> {
        let mut ids = self.ids_under(b"m/")?;
        ids.extend(self.ids_under(b"n/")?);
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The readable manifests among `ids` (in the current format).
    fn manifests(&self, ids: &[u64]) -> BTreeMap<u64, Manifest> {
        ids.iter()
            .filter_map(|&id| match self.manifest(id) {
                Ok(Some(manifest)) => Some((id, manifest)),
                Ok(None) => None,
                Err(reason) => {
                    tracing::error!(id, %reason, "checkpoint manifest unusable");
                    None
                }
            })
            .collect()
    }

    /// `change`'s record: its changes on top of `base` (the latest checkpoint holding the
    /// partition, and the depth there), or whole when it is whole or the chain is far too
    /// long (compactions failing).
    fn encode_change(&self, change: &PartitionChange, base: Option<(&Manifest, u32)>) -> Encoded {
        let partition = change.partition;
        let part = |parent, depth, digest| Part {
            partition,
            parent,
            depth,
            digest,
        };
        match (&change.saved, base) {
            (SavedState::Full(_), _) => {
                let (bytes, digest) = encode(&change.saved)?;
                Ok((bytes, part(None, 0, digest)))
            }
            (SavedState::Delta(_), None) => Err(StateError::NoBase(partition)),
            (SavedState::Delta(delta), Some((parent, depth))) if depth >= FORCED_DEPTH => {
                let id = parent.info.id;
                let whole = self
                    .read_partition(parent, partition)
                    .map_err(|reason| StateError::Corrupt { id, reason })?
                    .apply(delta)
                    .map_err(|e| StateError::Encode(e.to_string()))?;
                let (bytes, digest) = encode(&SavedState::Full(whole))?;
                Ok((bytes, part(None, 0, digest)))
            }
            (SavedState::Delta(_), Some((parent, depth))) => {
                let (bytes, digest) = encode(&change.saved)?;
                Ok((bytes, part(Some(parent.info.id), depth + 1, digest)))
            }
        }
    }

    /// The checkpoints to remove once `written` (with `manifests`, among `ids`) is stored:
    /// all but the last `keep` and those they build on.
    fn removable(
        &self,
        ids: &[u64],
        manifests: &BTreeMap<u64, Manifest>,
        written: &Manifest,
    ) -> Vec<u64> {
        let mut all: Vec<u64> = ids.to_vec();
        all.push(written.info.id);
        let kept = &all[all.len().saturating_sub(self.keep)..];
        let mut needed: BTreeSet<u64> = BTreeSet::new();
        let mut todo: Vec<u64> = kept.to_vec();
        while let Some(id) = todo.pop() {
            if !needed.insert(id) {
                continue;
            }
            let manifest = if id == written.info.id {
                Some(written)
            } else {
                manifests.get(&id)
            };
            if let Some(manifest) = manifest {
                todo.extend(manifest.parts.iter().filter_map(|p| p.parent));
            }
        }
        all.into_iter().filter(|id| !needed.contains(id)).collect()
    }
}

impl StateBackend for RocksState {
    fn write(&mut self, checkpoint: &CheckpointWrite) -> Result<Written, StateError> {
        let lock = Arc::clone(&self.lock);
        let _writing = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let id = checkpoint.id;
        let ids = self.stored_ids()?;
        if let Some(&latest) = ids.last()
            && id <= latest
        {
            return Err(StateError::Order { id, latest });
        }
        let manifests = self.manifests(&ids);
        let bases: Vec<Option<(&Manifest, u32)>> = checkpoint
            .partitions
            .iter()
            .map(|change| {
                manifests
                    .values()
                    .rev()
                    .find_map(|m| m.part(change.partition).map(|part| (m, part.depth)))
            })
            .collect();
        let work: Vec<(&PartitionChange, Option<(&Manifest, u32)>)> =
            checkpoint.partitions.iter().zip(bases).collect();
        // Partitions are independent: encode (and compact) them on every core.
        let encoded = parallel_map(&work, |(change, base)| self.encode_change(change, *base))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // Sized once: growing the batch would copy the partitions' bytes again and again.
        let mut batch = WriteBatch::with_capacity_bytes(
            encoded.iter().map(|(e, _)| e.len() + 64).sum::<usize>() + 4096,
        );
        let mut bytes = 0u64;
        let mut parts = Vec::with_capacity(encoded.len());
        for (record, part) in encoded {
            bytes += record.len() as u64;
            batch.put(record_key(id, part.partition), record);
            parts.push(part);
        }
        let manifest = Manifest {
            info: checkpoint.info(),
            parts,
        };
        let encoded =
            postcard::to_allocvec(&manifest).map_err(|e| StateError::Encode(e.to_string()))?;
        batch.put(manifest_key(id), encoded);
        for old in self.removable(&ids, &manifests, &manifest) {
            legacy::delete(&mut batch, old);
            batch.delete(manifest_key(old));
            batch.delete_range(record_key(old, 0), record_key(old + 1, 0));
        }
        if manifest.parts.iter().any(|p| p.parent.is_some()) {
            fault::delta_write();
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(store)?;
        for part in manifest.parts.iter().filter(|p| p.depth >= MAX_DEPTH) {
            self.compactor.request(id, part.partition);
        }
        Ok(Written { bytes })
    }

    fn read(&mut self, id: u64) -> Result<Checkpoint, StateError> {
        // Not while a compaction swaps a record for its whole state.
        let lock = Arc::clone(&self.lock);
        let _reading = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let corrupt = |reason| StateError::Corrupt { id, reason };
        let Some(manifest) = self.manifest(id).map_err(corrupt)? else {
            return self.read_legacy(id).map_err(corrupt);
        };
        let partitions: Vec<u32> = manifest.parts.iter().map(|p| p.partition).collect();
        let states = parallel_map(&partitions, |&partition| {
            self.read_partition(&manifest, partition)
                .map(|snapshot| PartitionState {
                    partition,
                    offset: manifest.info.offset(partition).unwrap_or(0),
                    snapshot,
                })
                .map_err(StateError::Store)
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            StateError::Store(reason) => corrupt(reason),
            other => other,
        })?;
        let info = manifest.info;
        Ok(Checkpoint {
            id: info.id,
            created_ms: info.created_ms,
            plugins: info.plugins,
            partitions: states,
        })
    }

    fn index(&self) -> Result<Vec<CheckpointInfo>, StateError> {
        let mut index = Vec::new();
        for id in self.stored_ids()? {
            let info = match self.manifest(id) {
                Ok(Some(manifest)) => Ok(manifest.info),
                Ok(None) => self.legacy_manifest(id).map(|m| m.info),
                Err(reason) => Err(reason),
            };
            match info {
                Ok(info) => index.push(info),
                Err(reason) => tracing::error!(id, %reason, "checkpoint manifest unusable"),
            }
        }
        Ok(index)
    }
}
