//! Checkpoints in RocksDB. Each checkpoint is one write batch (synced): one record per
//! partition under `z/<id>/<partition>` (its state encoded with postcard, then LZ4-compressed:
//! window state shrinks about 2.5 times, and the synced write of the log is what a checkpoint
//! waits for) and, last, its manifest under `m/<id>` with the SHA-256 over the partition
//! records' SHA-256s. Checkpoints written before compression (`p/<id>/<partition>`, plain
//! postcard) are still read. Old checkpoints are removed with a range delete. A
//! checkpoint whose manifest is missing, whose records are missing or whose digest does not
//! match is skipped (logged as an error) for the one before it.

use std::path::Path;

use rocksdb::{DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use eddy_engine::state::{
    Checkpoint, CheckpointInfo, PartitionState, StateBackend, StateError, Written, parallel_map,
};

/// The manifest of a checkpoint.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    info: CheckpointInfo,
    digest: Vec<u8>,
}

/// Checkpoints in a RocksDB database.
pub struct RocksState {
    db: DB,
    keep: usize,
}

fn manifest_key(id: u64) -> Vec<u8> {
    format!("m/{id:020}").into_bytes()
}

/// Where a partition's compressed state is stored.
fn partition_key(id: u64, partition: u32) -> Vec<u8> {
    format!("z/{id:020}/{partition:010}").into_bytes()
}

/// Where a partition's state was stored before compression.
fn plain_partition_key(id: u64, partition: u32) -> Vec<u8> {
    format!("p/{id:020}/{partition:010}").into_bytes()
}

/// A partition's stored bytes and their SHA-256.
type Encoded = Result<(Vec<u8>, [u8; 32]), StateError>;

/// Each partition's state encoded, compressed and digested on every core (partitions are
/// independent); the manifest's digest is over these digests, in order.
fn encode_all(partitions: &[PartitionState]) -> Vec<Encoded> {
    parallel_map(partitions, |state| {
        let encoded =
            postcard::to_allocvec(state).map_err(|e| StateError::Encode(e.to_string()))?;
        let stored = lz4_flex::block::compress_prepend_size(&encoded);
        let digest: [u8; 32] = Sha256::digest(&stored).into();
        Ok((stored, digest))
    })
}

/// A partition's state from its stored bytes, `compressed` or not.
fn decode(bytes: &[u8], compressed: bool) -> Result<PartitionState, String> {
    if !compressed {
        return postcard::from_bytes(bytes).map_err(|e| e.to_string());
    }
    let encoded = lz4_flex::block::decompress_size_prepended(bytes).map_err(|e| e.to_string())?;
    postcard::from_bytes(&encoded).map_err(|e| e.to_string())
}

fn store(error: rocksdb::Error) -> StateError {
    StateError::Store(error.to_string())
}

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
        Ok(Self {
            db,
            keep: keep.max(1),
        })
    }

    /// Ids of every manifest key, readable or not, oldest first.
    fn stored_ids(&self) -> Result<Vec<u64>, StateError> {
        let mut ids = Vec::new();
        for item in self
            .db
            .iterator(IteratorMode::From(b"m/", Direction::Forward))
        {
            let (key, _) = item.map_err(store)?;
            let Some(id) = key.strip_prefix(b"m/") else {
                break;
            };
            if let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn manifest(&self, id: u64) -> Result<Manifest, String> {
        let manifest = self
            .db
            .get(manifest_key(id))
            .map_err(|e| e.to_string())?
            .ok_or("no manifest")?;
        postcard::from_bytes(&manifest).map_err(|e| format!("manifest: {e}"))
    }

    fn read_checked(&self, id: u64) -> Result<Checkpoint, String> {
        let manifest = self.manifest(id)?;
        let partitions: Vec<u32> = manifest.info.offsets.iter().map(|&(p, _)| p).collect();
        // Partitions are independent: read and digest them on every core; decode them only
        // once the digests match, so damaged bytes never reach the decompressor.
        let read = parallel_map(&partitions, |&partition| {
            let (bytes, compressed) = match self.db.get(partition_key(id, partition)) {
                Ok(Some(bytes)) => (bytes, true),
                Ok(None) => (
                    self.db
                        .get(plain_partition_key(id, partition))
                        .map_err(store)?
                        .ok_or_else(|| {
                            StateError::Store(format!("partition {partition} is missing"))
                        })?,
                    false,
                ),
                Err(e) => return Err(store(e)),
            };
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            Ok((partition, bytes, compressed, digest))
        });
        let reason = |e: StateError| match e {
            StateError::Store(reason) => reason,
            other => other.to_string(),
        };
        let read = read
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(reason)?;
        let mut digest = Sha256::new();
        for (_, _, _, partition_digest) in &read {
            digest.update(partition_digest);
        }
        if digest.finalize().as_slice() != manifest.digest.as_slice() {
            return Err("digest mismatch".into());
        }
        let states = parallel_map(&read, |(partition, bytes, compressed, _)| {
            decode(bytes, *compressed)
                .map_err(|e| StateError::Store(format!("partition {partition}: {e}")))
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(reason)?;
        let info = manifest.info;
        Ok(Checkpoint {
            id: info.id,
            created_ms: info.created_ms,
            plugins: info.plugins,
            partitions: states,
        })
    }
}

impl StateBackend for RocksState {
    fn write(&mut self, checkpoint: &Checkpoint) -> Result<Written, StateError> {
        let id = checkpoint.id;
        let ids = self.stored_ids()?;
        if let Some(&latest) = ids.last()
            && id <= latest
        {
            return Err(StateError::Order { id, latest });
        }
        let encoded = encode_all(&checkpoint.partitions)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        // Sized once: growing the batch would copy the partitions' bytes again and again.
        let mut batch = WriteBatch::with_capacity_bytes(
            encoded.iter().map(|(e, _)| e.len() + 64).sum::<usize>() + 4096,
        );
        let mut digest = Sha256::new();
        let mut bytes = 0u64;
        for (state, (encoded, partition_digest)) in checkpoint.partitions.iter().zip(encoded) {
            digest.update(partition_digest);
            bytes += encoded.len() as u64;
            batch.put(partition_key(id, state.partition), encoded);
        }
        let manifest = Manifest {
            info: checkpoint.info(),
            digest: digest.finalize().to_vec(),
        };
        let encoded =
            postcard::to_allocvec(&manifest).map_err(|e| StateError::Encode(e.to_string()))?;
        batch.put(manifest_key(id), encoded);
        let drop = (ids.len() + 1).saturating_sub(self.keep);
        for &old in ids.iter().take(drop) {
            batch.delete(manifest_key(old));
            batch.delete_range(partition_key(old, 0), partition_key(old + 1, 0));
            batch.delete_range(plain_partition_key(old, 0), plain_partition_key(old + 1, 0));
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(store)?;
        Ok(Written { bytes })
    }

    fn read(&mut self, id: u64) -> Result<Checkpoint, StateError> {
        self.read_checked(id)
            .map_err(|reason| StateError::Corrupt { id, reason })
    }

    fn index(&self) -> Result<Vec<CheckpointInfo>, StateError> {
        let mut index = Vec::new();
        for id in self.stored_ids()? {
            match self.manifest(id) {
                Ok(manifest) => index.push(manifest.info),
                Err(reason) => tracing::error!(id, %reason, "checkpoint manifest unusable"),
            }
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::snapshot::OperatorSnapshot;

    fn checkpoint(id: u64) -> Checkpoint {
        Checkpoint {
            id,
            created_ms: 1_000 + id as i64,
            plugins: vec![format!("sum@{id}")],
            partitions: (0..3)
                .map(|partition| PartitionState {
                    partition,
                    offset: id as i64 * 100 + i64::from(partition),
                    snapshot: OperatorSnapshot {
                        watermark: id as i64,
                        max_seen: vec![(partition, id as i64 + 5)],
                        formats: vec!["n/count/1".into()],
                        groups: Vec::new(),
                        states: Vec::new(),
                        retiring: Vec::new(),
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_the_last_n_and_reads_the_latest() {
        let dir = tempfile::tempdir().expect("dir");
        let mut state = RocksState::open(dir.path(), 2).expect("open");
        assert_eq!(state.latest().expect("read"), None);
        for id in 1..=4 {
            state.write(&checkpoint(id)).expect("write");
        }
        assert_eq!(state.ids().expect("ids"), vec![3, 4]);
        assert!(matches!(
            state.write(&checkpoint(4)),
            Err(StateError::Order { .. })
        ));
        drop(state);
        let mut state = RocksState::open(dir.path(), 2).expect("reopen");
        assert_eq!(state.latest().expect("read"), Some(checkpoint(4)));
    }

    #[test]
    fn a_corrupt_or_incomplete_latest_falls_back_to_the_one_before() {
        let dir = tempfile::tempdir().expect("dir");
        let mut state = RocksState::open(dir.path(), 3).expect("open");
        for id in 1..=3 {
            state.write(&checkpoint(id)).expect("write");
        }
        // Garbage in one partition record of checkpoint 3: the digest no longer matches.
        state.db.put(partition_key(3, 1), b"garbage").expect("put");
        assert_eq!(state.latest().expect("read"), Some(checkpoint(2)));
        // A missing partition record of checkpoint 2: incomplete.
        state.db.delete(partition_key(2, 0)).expect("delete");
        assert_eq!(state.latest().expect("read"), Some(checkpoint(1)));
    }

    /// A checkpoint written before compression (plain postcard under `p/`) is still read,
    /// and removed like the others once it is old.
    #[test]
    fn reads_checkpoints_written_before_compression() {
        let dir = tempfile::tempdir().expect("dir");
        let mut state = RocksState::open(dir.path(), 2).expect("open");
        let old = checkpoint(1);
        let mut digest = Sha256::new();
        for partition in &old.partitions {
            let bytes = postcard::to_allocvec(partition).expect("encode");
            digest.update(Sha256::digest(&bytes));
            state
                .db
                .put(plain_partition_key(1, partition.partition), bytes)
                .expect("put");
        }
        let manifest = Manifest {
            info: old.info(),
            digest: digest.finalize().to_vec(),
        };
        let manifest = postcard::to_allocvec(&manifest).expect("encode");
        state.db.put(manifest_key(1), manifest).expect("put");
        assert_eq!(state.latest().expect("read"), Some(old));
        for id in 2..=3 {
            state.write(&checkpoint(id)).expect("write");
        }
        assert_eq!(state.ids().expect("ids"), vec![2, 3]);
        let stored = state.db.get(plain_partition_key(1, 0)).expect("get");
        assert_eq!(stored, None, "the old checkpoint's records are removed");
    }

    #[test]
    fn an_unusable_directory_is_named_and_left_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"precious").expect("file");
        let error = RocksState::open(&file, 2).err().expect("refused");
        assert!(error.to_string().contains("not-a-dir"), "{error}");
        assert_eq!(std::fs::read(&file).expect("still there"), b"precious");
    }
}
