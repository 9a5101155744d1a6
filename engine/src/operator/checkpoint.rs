//! An operator's state for a checkpoint (whole, or only what changed since its previous one),
//! and a snapshot restored.

use super::Operator;
use crate::aggregate::{AggregatorLoader, PluginError};
use crate::config::AggregateConfig;
use crate::delta::{GroupId, OperatorDelta, SavedState};
use crate::snapshot::{OperatorSnapshot, RestoreError, SavedGroup};

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

    /// The operator's state: watermark, open groups and their aggregate state.
    pub fn snapshot(&mut self) -> Result<OperatorSnapshot, PluginError> {
        let slots = self.groups.open_slots();
        let groups = slots
            .iter()
            .filter_map(|&slot| self.groups.get(slot).map(SavedGroup::of))
            .collect();
        Ok(OperatorSnapshot {
            watermark: self.watermarks.current(),
            max_seen: self.watermarks.max_seen(),
            formats: self.aggregates.state_formats(),
            groups,
            states: self.aggregates.save(&slots)?,
            retiring: self.aggregates.save_retiring(&slots)?,
        })
    }

    /// Restores a snapshot into this operator, which has no groups yet, at processing time
    /// `now_ms`.
    pub fn restore(
        &mut self,
        snapshot: &OperatorSnapshot,
        now_ms: i64,
        loader: &dyn AggregatorLoader,
        configs: &[AggregateConfig],
    ) -> Result<(), RestoreError> {
        let current = self.aggregates.state_formats();
        if snapshot.formats != current {
            return Err(RestoreError::Formats {
                saved: snapshot.formats.clone(),
                current,
            });
        }
        let n = snapshot.groups.len();
        if snapshot.states.len() != current.len() || snapshot.states.iter().any(|c| !c.fits(n)) {
            return Err(RestoreError::Inconsistent(format!(
                "{n} groups but state columns that do not fit them"
            )));
        }
        if !self.groups.is_empty() {
            return Err(RestoreError::Inconsistent(
                "restoring into an operator that has groups".into(),
            ));
        }
        let slots = self.restore_groups(&snapshot.groups, snapshot.watermark);
        self.aggregates.restore(&slots, &snapshot.states)?;
        self.aggregates
            .restore_retiring(loader, configs, &slots, &snapshot.retiring)?;
        self.watermarks.resume(snapshot.watermark);
        self.watermarks.restore_max_seen(&snapshot.max_seen, now_ms);
        self.checkpointed = None;
        Ok(())
    }
}
