//! Windows dropped instead of finished. When an aggregator fails to finish a window twice
//! (the retry on fresh instances finishes one group per call, so the failure names its
//! group), the `dead_letter` trap policy drops that window: its state is released when it is
//! due, and one dead letter stands for its events — the key, the window, how many events it
//! held and the offset of the first. The record is written once per drop at-least-once (a
//! replay drops the window again without writing it again); exactly-once the aborted
//! transaction takes it with it and the replay writes it again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use eddy_engine::event::Origin;
use eddy_engine::groups::Group;
use eddy_engine::operator::{Dropped, Operator};
use eddy_engine::window::Window;

use super::{Pipeline, PipelineError};
use crate::sink::SideRecord;

/// One partition's windows to drop: why, and whether the dead letter is written.
pub(super) type DropList = HashMap<(Arc<str>, Window), (Arc<str>, bool)>;

/// Which partitions retry carefully and which windows they drop.
#[derive(Debug, Default)]
pub(super) struct Dropping {
    careful: BTreeSet<u32>,
    windows: BTreeMap<u32, DropList>,
}

impl Dropping {
    /// Sets up a new operator of `partition` as the partition's settings say.
    pub(super) fn prepare(&self, partition: u32, operator: &mut Operator) {
        operator.set_careful(self.careful.contains(&partition));
        for ((key, window), (reason, _)) in self.windows.get(&partition).into_iter().flatten() {
            operator.drop_window(key, *window, Arc::clone(reason));
        }
    }
}

/// The dead letter of a dropped window: what it held, as JSON.
fn payload(group: &Group) -> Vec<u8> {
    serde_json::json!({
        "dropped_window": {
            "key": &*group.key,
            "window_start": group.window.start,
            "window_end": group.window.end,
            "events": group.pending,
            "first_offset": (group.first_offset != i64::MAX).then_some(group.first_offset),
        }
    })
    .to_string()
    .into_bytes()
}

impl Pipeline {
    /// Whether `partition` finishes one group per call (a retry after a trap).
    pub fn set_careful(&mut self, partition: u32, careful: bool) {
        if careful {
            self.dropping.careful.insert(partition);
        } else {
            self.dropping.careful.remove(&partition);
        }
        let key = self.operator_key(partition);
        if let Some(operator) = self.operators.get_mut(&key) {
            operator.set_careful(careful);
        }
    }

    /// The group whose finish failed in `partition` (careful mode), once.
    pub fn take_failed_group(&mut self, partition: u32) -> Option<Group> {
        let key = self.operator_key(partition);
        self.operators.get_mut(&key)?.take_failed()
    }

    /// Drops `group`'s window of `partition` instead of finishing it, from now on and after
    /// any rewind (see the module docs).
    pub fn drop_window(&mut self, partition: u32, group: &Group, reason: &str) {
        let reason: Arc<str> = Arc::from(reason);
        self.dropping.windows.entry(partition).or_default().insert(
            (group.key.clone(), group.window),
            (Arc::clone(&reason), false),
        );
        let key = self.operator_key(partition);
        if let Some(operator) = self.operators.get_mut(&key) {
            operator.drop_window(&group.key, group.window, reason);
        }
    }

    /// An aborted transaction took the dropped windows' dead letters with it.
    pub fn dropped_letters_undone(&mut self) {
        for (_, written) in self
            .dropping
            .windows
            .values_mut()
            .flat_map(|w| w.values_mut())
        {
            *written = false;
        }
    }

    /// Forgets dropped windows that no rewind can bring back: their dead letter is written
    /// and `watermark` (of durable progress) is past their allowed lateness.
    pub fn forget_dropped(&mut self, partition: u32, watermark: i64) {
        let lateness = i64::try_from(self.config.allowed_lateness.as_millis()).unwrap_or(i64::MAX);
        if let Some(windows) = self.dropping.windows.get_mut(&partition) {
            windows.retain(|(_, window), (_, written)| {
                !*written || window.end.saturating_add(lateness) > watermark
            });
        }
    }

    /// Writes the dead letters of `dropped` groups of `partition` not written before.
    pub(super) fn write_dropped(
        &mut self,
        partition: u32,
        dropped: &[Dropped],
    ) -> Result<(), PipelineError> {
        let windows = self.dropping.windows.entry(partition).or_default();
        let mut letters = Vec::new();
        for dropped in dropped {
            let entry = windows.get_mut(&(dropped.group.key.clone(), dropped.group.window));
            if let Some((_, written)) = entry {
                if *written {
                    continue;
                }
                *written = true;
            }
            letters.push((dropped, payload(&dropped.group)));
        }
        if letters.is_empty() {
            return Ok(());
        }
        let reasons: Vec<String> = letters
            .iter()
            .map(|(d, _)| format!("window dropped: {}", d.reason))
            .collect();
        let records: Vec<SideRecord<'_>> = letters
            .iter()
            .zip(&reasons)
            .map(|((dropped, payload), reason)| SideRecord {
                reason,
                late: None,
                payload,
                origin: (dropped.group.first_offset != i64::MAX).then_some(Origin {
                    partition,
                    offset: dropped.group.first_offset,
                }),
                line: None,
            })
            .collect();
        self.stats.dead_letters += records.len() as u64;
        self.stats.windows_dropped += records.len() as u64;
        self.outputs.dead_letter.side(&records)?;
        Ok(())
    }
}
