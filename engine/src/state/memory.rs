//! Checkpoints kept in memory: for tests and for pipelines that rebuild state by re-reading
//! their source.

use std::collections::VecDeque;

use super::{
    Checkpoint, CheckpointInfo, CheckpointWrite, PartitionState, StateBackend, StateError, Written,
};
use crate::delta::SavedState;

/// The last `keep` checkpoints, in memory.
#[derive(Debug)]
pub struct MemoryState {
    keep: usize,
    checkpoints: VecDeque<Checkpoint>,
}

impl MemoryState {
    /// Keeps the last `keep` checkpoints (at least one).
    pub fn new(keep: usize) -> Self {
        Self {
            keep: keep.max(1),
            checkpoints: VecDeque::new(),
        }
    }
}

impl MemoryState {
    /// `partition`'s state in the latest checkpoint that holds it.
    fn latest_of(&self, partition: u32) -> Option<&PartitionState> {
        self.checkpoints
            .iter()
            .rev()
            .find_map(|c| c.partitions.iter().find(|p| p.partition == partition))
    }
}

impl StateBackend for MemoryState {
    fn write(&mut self, checkpoint: &CheckpointWrite) -> Result<Written, StateError> {
        if let Some(latest) = self.checkpoints.back()
            && checkpoint.id <= latest.id
        {
            return Err(StateError::Order {
                id: checkpoint.id,
                latest: latest.id,
            });
        }
        let bytes = postcard::to_allocvec(checkpoint)
            .map_err(|e| StateError::Encode(e.to_string()))?
            .len() as u64;
        let partitions = checkpoint
            .partitions
            .iter()
            .map(|change| {
                let snapshot = match &change.saved {
                    SavedState::Full(snapshot) => snapshot.clone(),
                    SavedState::Delta(delta) => self
                        .latest_of(change.partition)
                        .ok_or(StateError::NoBase(change.partition))?
                        .snapshot
                        .apply(delta)
                        .map_err(|e| StateError::Encode(e.to_string()))?,
                };
                Ok(PartitionState {
                    partition: change.partition,
                    offset: change.offset,
                    snapshot,
                })
            })
            .collect::<Result<_, StateError>>()?;
        self.checkpoints.push_back(Checkpoint {
            id: checkpoint.id,
            created_ms: checkpoint.created_ms,
            plugins: checkpoint.plugins.clone(),
            partitions,
        });
        while self.checkpoints.len() > self.keep {
            self.checkpoints.pop_front();
        }
        Ok(Written { bytes })
    }

    fn read(&mut self, id: u64) -> Result<Checkpoint, StateError> {
        self.checkpoints
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or(StateError::Missing(id))
    }

    fn index(&self) -> Result<Vec<CheckpointInfo>, StateError> {
        Ok(self.checkpoints.iter().map(Checkpoint::info).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(id: u64) -> CheckpointWrite {
        CheckpointWrite {
            id,
            created_ms: 0,
            plugins: Vec::new(),
            partitions: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_last_n_in_order() {
        let mut state = MemoryState::new(2);
        for id in [1, 2, 3] {
            state.write(&checkpoint(id)).expect("write");
        }
        assert_eq!(state.ids().expect("ids"), vec![2, 3]);
        assert_eq!(state.latest().expect("latest").map(|c| c.id), Some(3));
        assert!(state.write(&checkpoint(3)).is_err(), "ids only increase");
    }

    /// Changes apply to the partition's latest state; changes with none are refused.
    #[test]
    fn changes_apply_to_the_latest_state() {
        use crate::delta::{OperatorDelta, SavedState};
        use crate::snapshot::OperatorSnapshot;
        use crate::state::PartitionChange;
        let empty = OperatorSnapshot::default();
        let change = |saved| PartitionChange {
            partition: 4,
            offset: 9,
            saved,
        };
        let delta = SavedState::Delta(OperatorDelta {
            watermark: 7,
            max_seen: vec![(4, 8)],
            formats: Vec::new(),
            removed: Vec::new(),
            groups: Vec::new(),
            states: Vec::new(),
        });
        let mut state = MemoryState::new(2);
        let mut first = checkpoint(1);
        first.partitions = vec![change(delta.clone())];
        assert!(matches!(state.write(&first), Err(StateError::NoBase(4))));
        first.partitions = vec![change(SavedState::Full(empty))];
        state.write(&first).expect("whole");
        let mut second = checkpoint(2);
        second.partitions = vec![change(delta)];
        state.write(&second).expect("changes");
        let latest = state.latest().expect("read").expect("one");
        assert_eq!(latest.partitions[0].snapshot.watermark, 7);
        assert_eq!(latest.partitions[0].snapshot.max_seen, [(4, 8)]);
    }
}
