//! A plugin version handing its groups over to a new version with the same state format, a
//! few at a time, so that a swap does not stop the stream while every open group moves.
//!
//! From the swap on, the new version is the aggregate's version: a group still held by the
//! previous one moves to it (its state saved there and restored here) before any event, merge
//! or result touches it, so every event after the swap is counted by the new code, exactly as
//! if all groups had moved at once. Between batches, [`Migrating::step`] moves the rest a
//! chunk at a time; when the last has moved, the previous instance is dropped. A checkpoint
//! meanwhile saves each group from the instance that holds it (the bytes are the same format).

use super::{AggregatorInstance, AggregatorPlugin, PluginError, SavedColumn};

/// The previous version of an aggregate and the groups whose state it still holds.
pub struct Migrating {
    /// The previous version's instance.
    plugin: AggregatorPlugin,
    /// `held[slot]`: the group's state is still in the previous version.
    held: Vec<bool>,
    /// Number of groups held.
    count: usize,
    /// Slots held at the swap, moved in this order by [`Migrating::step`].
    queue: Vec<u32>,
    /// Position in `queue` of the next slot to move.
    next: usize,
    /// Scratch list of slots to move.
    moving: Vec<u32>,
}

impl Migrating {
    /// `plugin` holds the state of the groups in `slots` until they move.
    pub fn new(plugin: AggregatorPlugin, slots: Vec<u32>) -> Self {
        let size = slots.iter().max().map_or(0, |&s| s as usize + 1);
        let mut held = vec![false; size];
        for &slot in &slots {
            held[slot as usize] = true;
        }
        Self {
            plugin,
            held,
            count: slots.len(),
            queue: slots,
            next: 0,
            moving: Vec::new(),
        }
    }

    /// Whether group `slot`'s state is still in the previous version.
    pub fn holds(&self, slot: u32) -> bool {
        self.held.get(slot as usize).copied().unwrap_or(false)
    }

    /// Number of groups still held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether every group has moved.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Moves the groups among `slots` still held into `current` (before `current` works on
    /// them).
    pub fn take(
        &mut self,
        current: &mut dyn AggregatorInstance,
        slots: &[u32],
    ) -> Result<(), PluginError> {
        self.moving.clear();
        for &slot in slots {
            if let Some(held) = self.held.get_mut(slot as usize)
                && *held
            {
                *held = false;
                self.moving.push(slot);
            }
        }
        self.move_now(current)
    }

    /// Moves up to `budget` more held groups into `current`; returns how many moved.
    pub fn step(
        &mut self,
        current: &mut dyn AggregatorInstance,
        budget: usize,
    ) -> Result<usize, PluginError> {
        self.moving.clear();
        while self.moving.len() < budget && self.next < self.queue.len() {
            let slot = self.queue[self.next];
            self.next += 1;
            if let Some(held) = self.held.get_mut(slot as usize)
                && *held
            {
                *held = false;
                self.moving.push(slot);
            }
        }
        let moved = self.moving.len();
        self.move_now(current)?;
        if self.next == self.queue.len() {
            self.queue = Vec::new();
        }
        Ok(moved)
    }

    fn move_now(&mut self, current: &mut dyn AggregatorInstance) -> Result<(), PluginError> {
        if self.moving.is_empty() {
            return Ok(());
        }
        self.count -= self.moving.len();
        let column = self.plugin.save(&self.moving)?;
        current.restore(&self.moving, &column)
    }

    /// Forgets the groups among `slots` (freed: their slots may hold new groups, which start
    /// in the current version).
    pub fn forget(&mut self, slots: &[u32]) {
        for &slot in slots {
            if let Some(held) = self.held.get_mut(slot as usize)
                && *held
            {
                *held = false;
                self.count -= 1;
            }
        }
    }

    /// The state of the groups in `slots`, each saved by the instance that holds it
    /// (`current` for the groups that moved or are new), in the order of `slots`.
    pub fn save(
        &mut self,
        current: &mut dyn AggregatorInstance,
        slots: &[u32],
    ) -> Result<SavedColumn, PluginError> {
        let (old, new): (Vec<u32>, Vec<u32>) = slots.iter().partition(|s| self.holds(**s));
        if old.is_empty() {
            return current.save(slots);
        }
        let old_column = self.plugin.save(&old)?;
        let new_column = if new.is_empty() {
            SavedColumn {
                data: Vec::new(),
                offsets: vec![0],
            }
        } else {
            current.save(&new)?
        };
        let mut saved = SavedColumn {
            data: Vec::with_capacity(old_column.data.len() + new_column.data.len()),
            offsets: Vec::with_capacity(slots.len() + 1),
        };
        saved.offsets.push(0);
        let (mut o, mut n) = (0, 0);
        for slot in slots {
            let (column, row) = if self.holds(*slot) {
                o += 1;
                (&old_column, o - 1)
            } else {
                n += 1;
                (&new_column, n - 1)
            };
            let bytes = row_bytes(column, row).ok_or_else(|| PluginError::Failed {
                plugin: self.plugin.info().name.clone(),
                call: "save",
                message: format!("saved {} rows for more groups", column.offsets.len()),
            })?;
            saved.data.extend_from_slice(bytes);
            saved.offsets.push(saved.data.len() as u32);
        }
        Ok(saved)
    }
}

/// The bytes of row `row` of `column`, if the column has it.
fn row_bytes(column: &SavedColumn, row: usize) -> Option<&[u8]> {
    let start = *column.offsets.get(row)? as usize;
    let end = *column.offsets.get(row + 1)? as usize;
    column.data.get(start..end)
}
