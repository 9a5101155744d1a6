//! An operator's state for a checkpoint: whole, or only what changed since its previous one.

use super::Operator;
use crate::aggregate::PluginError;
use crate::delta::{GroupId, OperatorDelta, SavedState};
use crate::snapshot::SavedGroup;

impl Operator {
    /// The operator's state for a checkpoint. With `incremental`, only the groups changed
    /// since its previous checkpoint and those closed since (see [`OperatorDelta`]) — except
    /// the first time, after a restore, after a change of state formats and while a previous
    /// plugin version finishes groups, when every group is saved.
    pub fn checkpoint(&mut self, incremental: bool) -> Result<SavedState, PluginError> {
        let formats = self.aggregates.state_formats();
        let whole = !incremental
            || self.aggregates.has_retiring()
            || self.checkpointed.as_ref() != Some(&formats);
        // Until this save succeeds, the next one must be whole (the changes are taken now).
        self.checkpointed = None;
        let saved = if whole {
            self.groups.restart_changes();
            SavedState::Full(self.snapshot()?)
        } else {
            let changes = self.groups.take_changes();
            let slots: Vec<u32> = changes
                .slots
                .into_iter()
                .filter(|&slot| self.groups.get(slot).is_some())
                .collect();
            let groups = slots
                .iter()
                .filter_map(|&slot| self.groups.get(slot).map(SavedGroup::of))
                .collect();
            let removed = changes
                .closed
                .into_iter()
                .map(|(key, window)| GroupId {
                    key: key.to_string(),
                    start: window.start,
                    end: window.end,
                })
                .collect();
            SavedState::Delta(OperatorDelta {
                watermark: self.watermarks.current(),
                max_seen: self.watermarks.max_seen(),
                formats: formats.clone(),
                removed,
                groups,
                states: self.aggregates.save(&slots)?,
            })
        };
        self.checkpointed = Some(formats);
        Ok(saved)
    }
}
