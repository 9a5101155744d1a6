//! Which groups changed since the last checkpoint: the slots opened, updated or fired, and
//! the groups closed (by key and window, since their slots are reused). An incremental
//! checkpoint saves only these.

use std::sync::Arc;

use crate::window::Window;

/// Changes recorded since tracking started or was last taken.
#[derive(Debug, Default)]
pub(super) struct Changes {
    tracking: bool,
    marked: Vec<bool>,
    slots: Vec<u32>,
    closed: Vec<(Arc<str>, Window)>,
}

/// What changed since the previous [`super::GroupTable::take_changes`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupChanges {
    /// Slots whose group was opened or changed (some may have closed since), ascending.
    pub slots: Vec<u32>,
    /// Groups closed (a group closed and opened again is in both).
    pub closed: Vec<(Arc<str>, Window)>,
}

impl Changes {
    /// Records a change to `slot`'s group.
    pub(super) fn mark(&mut self, slot: u32) {
        if !self.tracking {
            return;
        }
        let index = slot as usize;
        if index >= self.marked.len() {
            self.marked.resize(index + 1, false);
        }
        if !self.marked[index] {
            self.marked[index] = true;
            self.slots.push(slot);
        }
    }

    /// Records that `key`'s group in `window` no longer exists.
    pub(super) fn close(&mut self, key: &Arc<str>, window: Window) {
        if self.tracking {
            self.closed.push((Arc::clone(key), window));
        }
    }

    /// The changes so far; tracking goes on from now.
    pub(super) fn take(&mut self) -> GroupChanges {
        for &slot in &self.slots {
            self.marked[slot as usize] = false;
        }
        let mut slots = std::mem::take(&mut self.slots);
        slots.sort_unstable();
        self.tracking = true;
        GroupChanges {
            slots,
            closed: std::mem::take(&mut self.closed),
        }
    }

    /// Forgets what was recorded; tracking goes on from now.
    pub(super) fn restart(&mut self) {
        self.take();
    }
}
