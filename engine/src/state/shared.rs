//! Checkpoints in a directory every replica shares, one file per partition and checkpoint,
//! so that a partition's state follows it to whichever replica the consumer group gives it.
//!
//! Layout: `<dir>/partition-<p>/<offset>.<id>.<replica>.ckpz`, where `offset` is where reading
//! resumes, `id` the writer's checkpoint id and `replica` the writer's name. The body is the
//! state encoded with postcard and LZ4-compressed (a 100 k-key partition: 9.7 MB → about 2 MB
//! to write and read over a network file system); files of earlier versions (`.ckpt`, not
//! compressed) are still read. A file is written to a temporary name, synced and renamed, so a
//! reader sees it whole or not at all; its last 32 bytes are the SHA-256 of the rest, so a
//! damaged file is refused, loudly, for the one before it. Each partition keeps its newest `keep` files (by offset); older ones are removed
//! by whichever replica writes that partition next.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PartitionState, StateError, parallel_map};

/// Extension of a published file (LZ4-compressed postcard, then the SHA-256).
const COMPRESSED: &str = "ckpz";
/// Extension of a file published before compression (postcard, then the SHA-256).
const PLAIN: &str = "ckpt";

/// One partition's state as published: what made it, and the state (borrowed when written,
/// owned when read: the same bytes).
#[derive(Debug, Serialize, Deserialize)]
struct Published<S> {
    id: u64,
    created_ms: i64,
    replica: String,
    plugins: Vec<String>,
    state: S,
}

/// A published partition state, found by its name (not read yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    /// The partition.
    pub partition: u32,
    /// Where reading resumes with this state.
    pub offset: i64,
    /// The writer's checkpoint id.
    pub id: u64,
    /// The writer.
    pub replica: String,
    /// The file.
    pub path: PathBuf,
}

/// The shared directory of one pipeline.
pub struct SharedDir {
    dir: PathBuf,
    replica: String,
    keep: usize,
}

fn io(path: &Path, error: &std::io::Error) -> StateError {
    StateError::Store(format!("{}: {error}", path.display()))
}

impl SharedDir {
    /// Uses `dir` (created when missing) as replica `replica`, keeping `keep` files a
    /// partition. A directory that cannot be created or written is an error naming it.
    pub fn open(dir: &Path, replica: &str, keep: usize) -> Result<Self, StateError> {
        let open = |e: std::io::Error| StateError::Open {
            dir: dir.display().to_string(),
            message: e.to_string(),
        };
        fs::create_dir_all(dir).map_err(open)?;
        let probe = dir.join(format!(".probe-{}", std::process::id()));
        fs::write(&probe, b"").map_err(open)?;
        let _ = fs::remove_file(&probe);
        Ok(Self {
            dir: dir.to_path_buf(),
            replica: replica.replace(['.', '/', '\\'], "_"),
            keep: keep.max(1),
        })
    }

    fn partition_dir(&self, partition: u32) -> PathBuf {
        self.dir.join(format!("partition-{partition}"))
    }

    /// Publishes every partition of checkpoint `id` (on every core); returns the bytes
    /// written. Afterwards each file is durable; on error some partitions may be published
    /// and others not, which readers handle (each file stands alone).
    pub fn publish(
        &self,
        id: u64,
        created_ms: i64,
        plugins: &[String],
        partitions: &[PartitionState],
    ) -> Result<u64, StateError> {
        let written = parallel_map(partitions, |state| {
            self.publish_one(id, created_ms, plugins, state)
        });
        written.into_iter().sum()
    }

    fn publish_one(
        &self,
        id: u64,
        created_ms: i64,
        plugins: &[String],
        state: &PartitionState,
    ) -> Result<u64, StateError> {
        let published = Published {
            id,
            created_ms,
            replica: self.replica.clone(),
            plugins: plugins.to_vec(),
            state,
        };
        let mut bytes = super::record::encode_compressed(&published)?;
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        let dir = self.partition_dir(state.partition);
        fs::create_dir_all(&dir).map_err(|e| io(&dir, &e))?;
        let name = format!(
            "{:020}.{id:020}.{}.{COMPRESSED}",
            state.offset, self.replica
        );
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = fs::File::create(&temporary).map_err(|e| io(&temporary, &e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&temporary, &e))?;
        let path = dir.join(&name);
        fs::rename(&temporary, &path).map_err(|e| io(&path, &e))?;
        if let Ok(handle) = fs::File::open(&dir) {
            let _ = handle.sync_all();
        }
        self.prune(state.partition)?;
        Ok(bytes.len() as u64)
    }

    /// Removes all but the newest `keep` files of `partition`.
    fn prune(&self, partition: u32) -> Result<(), StateError> {
        let entries = self.entries(partition)?;
        for entry in entries.iter().skip(self.keep) {
            if let Err(error) = fs::remove_file(&entry.path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %entry.path.display(), %error, "removing an old shared checkpoint");
            }
        }
        Ok(())
    }

    /// The published states of `partition`, newest (highest offset, then id) first.
    pub fn entries(&self, partition: u32) -> Result<Vec<SharedEntry>, StateError> {
        let dir = self.partition_dir(partition);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io(&dir, &error)),
        };
        let mut entries: Vec<SharedEntry> = listing
            .filter_map(Result::ok)
            .filter_map(|item| {
                let name = item.file_name().into_string().ok()?;
                let stem = name
                    .strip_suffix(&format!(".{COMPRESSED}"))
                    .or_else(|| name.strip_suffix(&format!(".{PLAIN}")))?;
                let mut fields = stem.splitn(3, '.');
                Some(SharedEntry {
                    partition,
                    offset: fields.next()?.parse().ok()?,
                    id: fields.next()?.parse().ok()?,
                    replica: fields.next()?.to_string(),
                    path: item.path(),
                })
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse((e.offset, e.id)));
        Ok(entries)
    }

    /// Reads a published state, checked whole: a damaged or vanished file is an error.
    pub fn read(&self, entry: &SharedEntry) -> Result<PartitionState, StateError> {
        let corrupt = |reason: String| StateError::Corrupt {
            id: entry.id,
            reason: format!("{}: {reason}", entry.path.display()),
        };
        let bytes = fs::read(&entry.path).map_err(|e| corrupt(e.to_string()))?;
        let compressed = entry.path.extension().is_some_and(|e| e == COMPRESSED);
        let state = decode_published(&bytes, compressed).map_err(corrupt)?;
        if state.partition != entry.partition || state.offset != entry.offset {
            return Err(corrupt(
                "holds another partition or offset than its name".into(),
            ));
        }
        Ok(state)
    }
}

/// The SHA-256 digest a published-state file ends with.
pub fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// Decodes the bytes of a published-state file (`compressed`: an `.ckpz` one): its body,
/// checked against the SHA-256 digest that ends it, then decompressed and decoded. Any
/// damage is an error with the reason, never a panic (fuzzed: `fuzz/fuzz_targets/handover.rs`).
pub fn decode_published(bytes: &[u8], compressed: bool) -> Result<PartitionState, String> {
    let Some(split) = bytes.len().checked_sub(32) else {
        return Err("truncated".into());
    };
    let (body, digest) = bytes.split_at(split);
    if Sha256::digest(body).as_slice() != digest {
        return Err("digest does not match".into());
    }
    let decompressed;
    let body = if compressed {
        decompressed = super::record::decompress(body)?;
        &decompressed[..]
    } else {
        body
    };
    let published: Published<PartitionState> =
        postcard::from_bytes(body).map_err(|e| e.to_string())?;
    Ok(published.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::OperatorSnapshot;

    fn state(partition: u32, offset: i64, watermark: i64) -> PartitionState {
        PartitionState {
            partition,
            offset,
            snapshot: OperatorSnapshot {
                watermark,
                max_seen: Vec::new(),
                formats: vec!["count/count/1".into()],
                groups: Vec::new(),
                states: Vec::new(),
                retiring: Vec::new(),
            },
        }
    }

    #[test]
    fn replicas_read_each_others_partitions_newest_first_and_keep_n() {
        let dir = tempfile::tempdir().expect("dir");
        let a = SharedDir::open(dir.path(), "eddy-0", 2).expect("open a");
        let b = SharedDir::open(dir.path(), "eddy.1", 2).expect("open b");
        a.publish(1, 0, &[], &[state(0, 10, 1), state(1, 5, 1)])
            .expect("a writes");
        a.publish(2, 0, &[], &[state(0, 20, 2)]).expect("a writes");
        b.publish(7, 0, &[], &[state(0, 30, 3)]).expect("b writes");
        let entries = a.entries(0).expect("list");
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.offset, e.id, e.replica.as_str()))
                .collect::<Vec<_>>(),
            [(30, 7, "eddy_1"), (20, 2, "eddy-0")],
            "newest first, the oldest pruned"
        );
        assert_eq!(a.read(&entries[0]).expect("read"), state(0, 30, 3));
        assert_eq!(b.entries(1).expect("list").len(), 1);
        assert!(b.entries(9).expect("none").is_empty());
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let shared = SharedDir::open(dir.path(), "eddy", 3).expect("open");
        shared
            .publish(1, 0, &[], &[state(2, 10, 1)])
            .expect("write");
        let entry = shared.entries(2).expect("list").remove(0);
        let mut bytes = fs::read(&entry.path).expect("read");
        bytes[3] ^= 0xff;
        fs::write(&entry.path, &bytes).expect("damage");
        assert!(matches!(
            shared.read(&entry),
            Err(StateError::Corrupt { id: 1, .. })
        ));
        fs::write(&entry.path, &bytes[..10]).expect("truncate");
        assert!(shared.read(&entry).is_err());
    }

    /// A file published before compression (`.ckpt`: postcard, then its SHA-256) is listed
    /// and read like a new one.
    #[test]
    fn reads_files_published_before_compression() {
        let dir = tempfile::tempdir().expect("dir");
        let shared = SharedDir::open(dir.path(), "eddy", 3).expect("open");
        let old = state(4, 7, 3);
        let published = Published {
            id: 2,
            created_ms: 0,
            replica: "old".to_string(),
            plugins: Vec::new(),
            state: &old,
        };
        let mut bytes = postcard::to_allocvec(&published).expect("encode");
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        let partition_dir = dir.path().join("partition-4");
        fs::create_dir_all(&partition_dir).expect("dir");
        let name = format!("{:020}.{:020}.old.{PLAIN}", 7, 2);
        fs::write(partition_dir.join(name), bytes).expect("old file");
        shared.publish(1, 0, &[], &[state(4, 5, 1)]).expect("write");
        let entries = shared.entries(4).expect("list");
        assert_eq!(
            entries.iter().map(|e| (e.offset, e.id)).collect::<Vec<_>>(),
            [(7, 2), (5, 1)]
        );
        assert_eq!(shared.read(&entries[0]).expect("old file read"), old);
        assert_eq!(
            shared.read(&entries[1]).expect("new file read"),
            state(4, 5, 1)
        );
    }

    #[test]
    fn an_unwritable_directory_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("file");
        fs::write(&file, b"x").expect("file");
        match SharedDir::open(&file.join("shared"), "eddy", 3) {
            Err(StateError::Open { dir, .. }) => assert!(dir.ends_with("shared")),
            other => panic!("expected an open error, got {:?}", other.err()),
        }
    }
}
