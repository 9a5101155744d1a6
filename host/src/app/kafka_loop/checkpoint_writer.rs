//! The thread that makes checkpoints durable while the poll loop goes on: it waits for the
//! results written before the checkpoint to be acknowledged (so no durable state is missing a
//! result that was never delivered), then encodes, compresses and writes the checkpoint (and
//! publishes it to the shared directory). One checkpoint at a time, in the order handed over;
//! the loop learns the outcomes, in that order, with [`CheckpointWriter::try_done`] or
//! [`CheckpointWriter::wait`].

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eddy_engine::state::{CheckpointStore, PartitionChange, Written};

use crate::kafka::Producer;
use crate::pipeline::PipelineError;

/// A checkpoint to write.
pub struct Job {
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// The plugin versions whose state it holds.
    pub plugins: Vec<String>,
    /// Each partition's state or changes.
    pub changes: Vec<PartitionChange>,
    /// Flushed (every result so far acknowledged) before the state is written.
    pub flush: Option<Arc<Producer>>,
}

/// A checkpoint written.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    /// Its id.
    pub id: u64,
    /// What it wrote.
    pub written: Written,
    /// How long the flush and the write took.
    pub took: Duration,
}

/// The writer thread and its channels.
pub struct CheckpointWriter {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Result<Done, PipelineError>>,
    thread: Option<JoinHandle<()>>,
}

fn stopped() -> PipelineError {
    PipelineError::Io(std::io::Error::other("the checkpoint writer stopped"))
}

fn write(store: &Mutex<CheckpointStore>, job: Job) -> Result<Done, PipelineError> {
    let started = Instant::now();
    if let Some(producer) = &job.flush {
        producer.flush()?;
    }
    let (id, written) = store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .write_changes(job.created_ms, job.plugins, job.changes)?;
    Ok(Done {
        id,
        written,
        took: started.elapsed(),
    })
}

impl CheckpointWriter {
    /// Starts the thread writing to `store`.
    pub fn start(store: Arc<Mutex<CheckpointStore>>) -> Result<Self, PipelineError> {
        let (jobs, received) = sync_channel::<Job>(1);
        let (sent, done) = sync_channel(2);
        let thread = std::thread::Builder::new()
            .name("eddy-checkpoint".into())
            .spawn(move || {
                for job in received {
                    let _span = tracing::info_span!("checkpoint_write").entered();
                    if sent.send(write(&store, job)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| {
                PipelineError::Io(std::io::Error::other(format!(
                    "starting the checkpoint writer: {e}"
                )))
            })?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Hands `job` to the thread; at most one waits behind the one being written (a third
    /// would block until the first is written).
    pub fn send(&self, job: Job) -> Result<(), PipelineError> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(stopped)
    }

    /// The outcome of the checkpoint handed over, once it is known.
    pub fn try_done(&self) -> Option<Result<Done, PipelineError>> {
        match self.done.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(stopped())),
        }
    }

    /// Waits for the outcome of the checkpoint handed over.
    pub fn wait(&self) -> Result<Done, PipelineError> {
        self.done.recv().map_err(|_| stopped())?
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::delta::{OperatorDelta, SavedState};
    use eddy_engine::state::MemoryState;

    fn job(partition: u32, saved: SavedState) -> Job {
        Job {
            created_ms: 0,
            plugins: Vec::new(),
            changes: vec![PartitionChange {
                partition,
                offset: 1,
                saved,
            }],
            flush: None,
        }
    }

    fn delta() -> SavedState {
        SavedState::Delta(OperatorDelta {
            watermark: 0,
            max_seen: Vec::new(),
            formats: Vec::new(),
            removed: Vec::new(),
            groups: Vec::new(),
            states: Vec::new(),
        })
    }

    /// Checkpoints are written in the order handed over, one queued behind the one being
    /// written; a failed write is reported, and the writer goes on with the next.
    #[test]
    fn writes_in_order_and_reports_failures() {
        let store = CheckpointStore::new(Box::new(MemoryState::new(4))).expect("store");
        let store = Arc::new(Mutex::new(store));
        let writer = CheckpointWriter::start(Arc::clone(&store)).expect("writer");
        let whole = SavedState::Full(eddy_engine::snapshot::OperatorSnapshot::default());
        writer.send(job(0, whole)).expect("sent");
        writer.send(job(0, delta())).expect("queued");
        assert_eq!(writer.wait().expect("written").id, 1);
        assert_eq!(writer.wait().expect("written").id, 2);
        // Changes to a partition no checkpoint holds cannot be written.
        writer.send(job(9, delta())).expect("sent");
        let error = writer.wait().expect_err("refused");
        assert!(error.to_string().contains("partition 9"), "{error}");
        assert!(writer.try_done().is_none(), "nothing else in flight");
        let ids = store.lock().expect("store").index().len();
        assert_eq!(ids, 2);
    }
}
