//! Checkpoints kept in memory: for tests and for pipelines that rebuild state by re-reading
//! their source.

use std::collections::VecDeque;

use super::{Checkpoint, CheckpointInfo, StateBackend, StateError, Written};

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

impl StateBackend for MemoryState {
    fn write(&mut self, checkpoint: &Checkpoint) -> Result<Written, StateError> {
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
        self.checkpoints.push_back(checkpoint.clone());
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

    fn checkpoint(id: u64) -> Checkpoint {
        Checkpoint {
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
}
