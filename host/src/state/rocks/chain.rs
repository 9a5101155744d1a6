//! Checkpoints as written since incremental checkpoints. A checkpoint is a manifest under
//! `n/<id>` and one record per partition under `s/<id>/<partition>`: the partition's
//! [`SavedState`] (postcard, then LZ4), whole or as the changes since the partition's previous
//! checkpoint. The manifest names each record's SHA-256 and, for changes, the checkpoint they
//! apply to (the parent) and how many changes lie since the last whole record (the depth).
//! A partition is read by following parents back to a whole record — every record checked
//! against its manifest's digest before it is decoded — then applying the changes, oldest
//! first.

use rocksdb::DB;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use eddy_engine::delta::{OperatorDelta, SavedState};
use eddy_engine::snapshot::OperatorSnapshot;
use eddy_engine::state::{CheckpointInfo, StateError, decode_record, encode_record};

use super::RocksState;

/// One partition's record in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Part {
    /// The partition.
    pub partition: u32,
    /// For changes: the checkpoint they apply to.
    pub parent: Option<u64>,
    /// Changes since the last whole record (0: this record is whole).
    pub depth: u32,
    /// SHA-256 of the stored record.
    pub digest: [u8; 32],
}

/// What a checkpoint holds and how to read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Manifest {
    pub info: CheckpointInfo,
    pub parts: Vec<Part>,
}

impl Manifest {
    /// `partition`'s record.
    pub fn part(&self, partition: u32) -> Option<&Part> {
        self.parts.iter().find(|p| p.partition == partition)
    }
}

/// Where a checkpoint's manifest is stored.
pub(super) fn manifest_key(id: u64) -> Vec<u8> {
    format!("n/{id:020}").into_bytes()
}

/// Where a partition's record is stored.
pub(super) fn record_key(id: u64, partition: u32) -> Vec<u8> {
    format!("s/{id:020}/{partition:010}").into_bytes()
}

/// A record's stored bytes and their SHA-256.
pub(super) fn encode(saved: &SavedState) -> Result<(Vec<u8>, [u8; 32]), StateError> {
    let stored = encode_record(saved)?;
    let digest: [u8; 32] = Sha256::digest(&stored).into();
    Ok((stored, digest))
}

impl RocksState {
    /// The manifest of checkpoint `id`, when it was written in this format.
    pub(super) fn manifest(&self, id: u64) -> Result<Option<Manifest>, String> {
        manifest(&self.db, id)
    }

    /// `partition`'s whole state in checkpoint `id` (whose manifest is `manifest`).
    pub(super) fn read_partition(
        &self,
        manifest: &Manifest,
        partition: u32,
    ) -> Result<OperatorSnapshot, String> {
        read_partition(&self.db, manifest, partition)
    }
}

/// The manifest of checkpoint `id` in `db`, when it was written in this format.
pub(super) fn manifest(db: &DB, id: u64) -> Result<Option<Manifest>, String> {
    let Some(bytes) = db.get(manifest_key(id)).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    postcard::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| format!("manifest: {e}"))
}

/// `partition`'s record in checkpoint `id`, checked against the manifest's digest.
fn record(db: &DB, id: u64, part: &Part) -> Result<SavedState, String> {
    let partition = part.partition;
    let bytes = db
        .get(record_key(id, partition))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("checkpoint {id}: partition {partition} is missing"))?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if digest != part.digest {
        return Err(format!(
            "checkpoint {id}: partition {partition}: digest mismatch"
        ));
    }
    decode_record(&bytes).map_err(|e| format!("checkpoint {id}: partition {partition}: {e}"))
}

/// `partition`'s whole state in checkpoint `id` of `db` (whose manifest is `manifest`).
pub(super) fn read_partition(
    db: &DB,
    manifest: &Manifest,
    partition: u32,
) -> Result<OperatorSnapshot, String> {
    let mut changes: Vec<OperatorDelta> = Vec::new();
    let mut id = manifest.info.id;
    let mut part = manifest
        .part(partition)
        .ok_or_else(|| format!("partition {partition} is not in the manifest"))?
        .clone();
    let whole = loop {
        match record(db, id, &part)? {
            SavedState::Full(snapshot) => break snapshot,
            SavedState::Delta(delta) => changes.push(delta),
        }
        let parent = part
            .parent
            .ok_or_else(|| format!("checkpoint {id}: changes without a parent"))?;
        let above = self::manifest(db, parent)?
            .ok_or_else(|| format!("checkpoint {id}: its parent {parent} is gone"))?;
        part = above
            .part(partition)
            .ok_or_else(|| format!("parent {parent} does not hold partition {partition}"))?
            .clone();
        id = parent;
    };
    if changes.is_empty() {
        return Ok(whole);
    }
    changes.reverse();
    whole
        .apply_all(&changes)
        .map_err(|e| format!("partition {partition}: {e}"))
}
