//! Checkpoints written before incremental checkpoints, still read (and removed once old):
//! one record per partition under `z/<id>/<partition>` (the state as postcard, then LZ4) or,
//! before compression, `p/<id>/<partition>` (plain postcard), and a manifest under `m/<id>`
//! with the SHA-256 over the partition records' SHA-256s.

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use eddy_engine::state::{
    Checkpoint, CheckpointInfo, StateError, decode_legacy_record, parallel_map,
};

use super::{RocksState, store};

/// The manifest of a checkpoint in the old format.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LegacyManifest {
    pub info: CheckpointInfo,
    pub digest: Vec<u8>,
}

pub(super) fn manifest_key(id: u64) -> Vec<u8> {
    format!("m/{id:020}").into_bytes()
}

/// Where a partition's compressed state was stored.
pub(super) fn partition_key(id: u64, partition: u32) -> Vec<u8> {
    format!("z/{id:020}/{partition:010}").into_bytes()
}

/// Where a partition's state was stored before compression.
pub(super) fn plain_partition_key(id: u64, partition: u32) -> Vec<u8> {
    format!("p/{id:020}/{partition:010}").into_bytes()
}

/// Removes old checkpoint `id`'s records in `batch`.
pub(super) fn delete(batch: &mut WriteBatch, id: u64) {
    batch.delete(manifest_key(id));
    batch.delete_range(partition_key(id, 0), partition_key(id + 1, 0));
    batch.delete_range(plain_partition_key(id, 0), plain_partition_key(id + 1, 0));
}

impl RocksState {
    pub(super) fn legacy_manifest(&self, id: u64) -> Result<LegacyManifest, String> {
        let manifest = self
            .db
            .get(manifest_key(id))
            .map_err(|e| e.to_string())?
            .ok_or("no manifest")?;
        postcard::from_bytes(&manifest).map_err(|e| format!("manifest: {e}"))
    }

    pub(super) fn read_legacy(&self, id: u64) -> Result<Checkpoint, String> {
        let manifest = self.legacy_manifest(id)?;
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
            decode_legacy_record(bytes, *compressed)
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
