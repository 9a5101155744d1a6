//! Loading the checkpoints assigned partitions continue from: this replica's own, else the
//! shared directory's, newest usable first (see [`eddy_engine::recovery::candidates`]).

use std::collections::BTreeMap;

use super::{GroupContext, lock};
use eddy_engine::progress::Committed;
use eddy_engine::recovery::{Candidate, RestoredFrom, candidates};
use eddy_engine::state::PartitionState;

impl GroupContext {
    /// For each of `partitions` that a usable checkpoint holds (this replica's or the shared
    /// directory's), its state and where it came from. Unusable checkpoints are logged and
    /// skipped for the next candidate.
    pub(super) fn load_checkpoints(
        &self,
        partitions: &[u32],
        committed: &BTreeMap<u32, Committed>,
    ) -> Result<BTreeMap<u32, (PartitionState, RestoredFrom)>, String> {
        let mut store = lock(&self.store);
        let mut loaded: BTreeMap<u64, Option<BTreeMap<u32, PartitionState>>> = BTreeMap::new();
        let mut restored = BTreeMap::new();
        let expected = lock(&self.formats).clone();
        for &partition in partitions {
            let shared = store.shared_entries(partition).map_err(|e| e.to_string())?;
            let found = candidates(
                self.delivery,
                partition,
                committed.get(&partition),
                store.index(),
                &shared,
            );
            for candidate in found {
                let (state, origin, id) = match candidate {
                    Candidate::Local(id) => {
                        if let std::collections::btree_map::Entry::Vacant(entry) = loaded.entry(id)
                        {
                            entry.insert(store.load(id, partitions).map_err(|e| e.to_string())?);
                        }
                        let state = loaded
                            .get_mut(&id)
                            .and_then(Option::as_mut)
                            .and_then(|states| states.remove(&partition));
                        (state, RestoredFrom::Local, id)
                    }
                    Candidate::Shared(entry) => {
                        (store.load_shared(&entry), RestoredFrom::Shared, entry.id)
                    }
                };
                let Some(state) = state else { continue };
                if let Some(expected) = &expected
                    && &state.snapshot.formats != expected
                {
                    tracing::warn!(
                        partition,
                        checkpoint = id,
                        saved = ?state.snapshot.formats,
                        current = ?expected,
                        "checkpoint made by other aggregates; continuing from the committed progress"
                    );
                    continue;
                }
                tracing::info!(
                    partition,
                    checkpoint = id,
                    ?origin,
                    offset = state.offset,
                    "restoring from checkpoint"
                );
                restored.insert(partition, (state, origin));
                break;
            }
        }
        Ok(restored)
    }
}
