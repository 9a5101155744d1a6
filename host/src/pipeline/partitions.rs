//! A pipeline's state by partition: progress to commit, resuming from committed progress,
//! operator snapshots and their restore, and the states a checkpoint holds.

use std::sync::Arc;

use super::{Pipeline, PipelineError};
use crate::plugin::PluginError;
use eddy_engine::operator::{Operator, Replay};
use eddy_engine::progress::Progress;
use eddy_engine::snapshot::OperatorSnapshot;
use eddy_engine::state::{PartitionChange, PartitionState};

/// What was saved of each partition: partition, resume offset, state.
type Saved<T> = Vec<(u32, i64, T)>;

impl Pipeline {
    /// For each partition read so far, its [`Progress`]: the offset from which it must be
    /// read again to rebuild what is not yet written (the lowest offset held by an open
    /// window, or the next offset when every record read so far is accounted for), how far it
    /// was read, and its watermark. Valid to commit once the outputs written so far are
    /// acknowledged.
    pub fn progress(&self) -> Vec<Progress> {
        self.next_offsets
            .iter()
            .map(|(&partition, &next)| {
                let operator = self.operators.get(&partition);
                let held = operator.map_or(i64::MAX, Operator::first_offset);
                Progress {
                    partition,
                    offset: next.min(held),
                    read_to: next,
                    watermark: operator.map_or(i64::MIN, Operator::watermark),
                }
            })
            .collect()
    }

    /// The partition was given to this pipeline with the progress a previous owner
    /// committed: its operator starts from that watermark and skips what was accounted for.
    pub fn resume(&mut self, partition: u32, replay: Replay) -> Result<(), PipelineError> {
        if self.per_partition {
            self.operators.remove(&partition);
            self.shadows.forget(partition);
        }
        self.ready.remove(&partition);
        self.operator(partition)?.resume(replay);
        Ok(())
    }

    /// The state of every operator, by partition (0 for unpartitioned sources).
    pub fn snapshot(&mut self) -> Result<Vec<(u32, OperatorSnapshot)>, PipelineError> {
        let mut snapshots = Vec::with_capacity(self.operators.len());
        for (&partition, operator) in &mut self.operators {
            snapshots.push((partition, operator.snapshot()?));
        }
        Ok(snapshots)
    }

    /// Replaces the operator of `partition` (0 for unpartitioned sources) with one restored
    /// from `snapshot` at processing time `now_ms`.
    pub fn restore(
        &mut self,
        partition: u32,
        snapshot: &OperatorSnapshot,
        now_ms: i64,
    ) -> Result<(), PipelineError> {
        let key = self.operator_key(partition);
        self.operators.remove(&key);
        self.shadows.forget(key);
        // What workers computed from the old state is not written.
        self.ready.remove(&key);
        let runtime = Arc::clone(&self.runtime);
        let configs = self.config.aggregates.clone();
        self.operator(partition)?
            .restore(snapshot, now_ms, runtime.as_ref(), &configs)?;
        Ok(())
    }

    /// Each partition's state with the offset reading continues from, for a checkpoint.
    /// Valid once the outputs written so far are acknowledged.
    pub fn checkpoint_states(&mut self) -> Result<Vec<PartitionState>, PipelineError> {
        let saved = self.save_partitions(Operator::snapshot)?;
        Ok(saved
            .into_iter()
            .map(|(partition, offset, snapshot)| PartitionState {
                partition,
                offset,
                snapshot,
            })
            .collect())
    }

    /// Each partition's state for a checkpoint: with `incremental`, only what changed since
    /// the partition's previous checkpoint (see [`Operator::checkpoint`]). Valid once the
    /// outputs written so far are acknowledged.
    pub fn checkpoint_changes(
        &mut self,
        incremental: bool,
    ) -> Result<Vec<PartitionChange>, PipelineError> {
        let saved = self.save_partitions(|operator| operator.checkpoint(incremental))?;
        Ok(saved
            .into_iter()
            .map(|(partition, offset, saved)| PartitionChange {
                partition,
                offset,
                saved,
            })
            .collect())
    }

    /// `save` over every operator that has read something, on every core (operators are
    /// independent), with its partition and resume offset, by partition.
    fn save_partitions<T: Send>(
        &mut self,
        save: impl Fn(&mut Operator) -> Result<T, PluginError> + Sync,
    ) -> Result<Saved<T>, PipelineError> {
        self.check_whole()?;
        let offsets = &self.next_offsets;
        let per_partition = self.per_partition;
        let work: Vec<(u32, i64, &mut Operator)> = self
            .operators
            .iter_mut()
            .filter_map(|(&key, operator)| {
                let partition = if per_partition { key } else { 0 };
                offsets
                    .get(&partition)
                    .map(|&offset| (partition, offset, operator))
            })
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, work.len().max(1));
        let mut chunks: Vec<Vec<(u32, i64, &mut Operator)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (i, item) in work.into_iter().enumerate() {
            chunks[i % threads].push(item);
        }
        let save = &save;
        let results: Vec<Result<Saved<T>, PluginError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .into_iter()
                            .map(|(partition, offset, operator)| {
                                Ok((partition, offset, save(operator)?))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(PluginError::Failed {
                            plugin: "snapshot".into(),
                            call: "save",
                            message: "a snapshot thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let mut saved = Vec::with_capacity(offsets.len());
        for result in results {
            saved.extend(result?);
        }
        saved.sort_by_key(|s| s.0);
        Ok(saved)
    }

    /// Continues `state.partition` from a checkpoint at processing time `now_ms`: its
    /// operator restored, reading from `state.offset`.
    pub fn restore_partition(
        &mut self,
        state: &PartitionState,
        now_ms: i64,
    ) -> Result<(), PipelineError> {
        self.restore(state.partition, &state.snapshot, now_ms)?;
        self.next_offsets.insert(state.partition, state.offset);
        Ok(())
    }
}
