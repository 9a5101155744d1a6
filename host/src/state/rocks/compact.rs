//! Long chains of changes written whole in the background. When a partition's record is the
//! [`super::MAX_DEPTH`]th change on its last whole record, the checkpoint is written as usual
//! (changes only, so the writer — the loop itself with exactly-once — does not wait), and a
//! thread of the backend's reads that partition's state back, writes it whole in place of the
//! record and updates the manifest, in one write batch. The content is the same, so readers see
//! the same state before and after; the records it built on are removed by the next checkpoint
//! once nothing kept needs them. A compaction that fails or finds the record changed or gone
//! is dropped: the chain stays valid, only longer (at [`FORCED_DEPTH`] the writer writes it
//! whole itself).

use std::collections::BTreeSet;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rocksdb::{DB, WriteBatch};

use eddy_engine::delta::SavedState;

use super::chain::{encode, manifest, manifest_key, read_partition, record_key};

/// A chain this long is written whole by the writer, compaction or not.
pub const FORCED_DEPTH: u32 = 4 * super::MAX_DEPTH;

/// A partition to write whole in a checkpoint.
type Job = (u64, u32);

/// The background thread and what it has been asked to do.
pub(super) struct Compactor {
    jobs: Option<Sender<Job>>,
    /// Partitions asked for and not yet done (one job per partition at a time).
    pending: Arc<Mutex<BTreeSet<u32>>>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    /// Starts the thread over `db`; `lock` is held by every write of the backend, so a
    /// compaction never lands between a checkpoint's reading of manifests and its write.
    pub fn start(db: Arc<DB>, lock: Arc<Mutex<()>>) -> Self {
        let (jobs, received) = channel::<Job>();
        let pending: Arc<Mutex<BTreeSet<u32>>> = Arc::default();
        let done = Arc::clone(&pending);
        let thread = std::thread::Builder::new()
            .name("eddy-compact".into())
            .spawn(move || {
                for (id, partition) in received {
                    match compact(&db, &lock, id, partition) {
                        Ok(true) => tracing::debug!(id, partition, "chain of changes written whole"),
                        Ok(false) => {}
                        Err(reason) => {
                            tracing::warn!(id, partition, %reason, "compaction dropped: the chain stays as it is");
                        }
                    }
                    done.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&partition);
                }
            })
            .ok();
        Self {
            jobs: thread.as_ref().map(|_| jobs),
            pending,
            thread,
        }
    }

    /// A compactor that does nothing (tests of the writer's own rewrite).
    #[cfg(test)]
    pub fn stopped() -> Self {
        Self {
            jobs: None,
            pending: Arc::default(),
            thread: None,
        }
    }

    /// Asks for `partition`'s record in checkpoint `id` to be written whole, unless a
    /// compaction of the partition is already pending.
    pub fn request(&self, id: u64, partition: u32) {
        let Some(jobs) = &self.jobs else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.insert(partition) && jobs.send((id, partition)).is_err() {
            pending.remove(&partition);
        }
    }

    /// Whether any compaction is asked for and not done.
    #[cfg(test)]
    pub fn busy(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `partition`'s record in checkpoint `id` whole; `false` when there was nothing to do
/// (already whole, or the checkpoint or record changed or went meanwhile).
fn compact(db: &DB, lock: &Mutex<()>, id: u64, partition: u32) -> Result<bool, String> {
    let Some(read) = manifest(db, id)? else {
        return Ok(false);
    };
    let Some(part) = read.part(partition).cloned() else {
        return Ok(false);
    };
    if part.depth == 0 {
        return Ok(false);
    }
    let whole = read_partition(db, &read, partition)?;
    let (bytes, digest) = encode(&SavedState::Full(whole)).map_err(|e| e.to_string())?;
    let _writing = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(mut current) = manifest(db, id)? else {
        return Ok(false);
    };
    let Some(now) = current.parts.iter_mut().find(|p| p.partition == partition) else {
        return Ok(false);
    };
    if now.digest != part.digest {
        return Ok(false);
    }
    now.parent = None;
    now.depth = 0;
    now.digest = digest;
    let encoded = postcard::to_allocvec(&current).map_err(|e| e.to_string())?;
    let mut batch = WriteBatch::with_capacity_bytes(bytes.len() + encoded.len() + 256);
    batch.put(record_key(id, partition), bytes);
    batch.put(manifest_key(id), encoded);
    // Not synced: a batch lost in a crash leaves the changes, still valid; the next
    // checkpoint's synced write makes it durable.
    db.write(batch).map_err(|e| e.to_string())?;
    Ok(true)
}
