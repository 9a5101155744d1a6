//! Sliding windows by slices. Sliding windows of `size` every `slide` cut time into slices of
//! `gcd(size, slide)`, and every event of a slice belongs to the same windows. A key's slice is
//! a group of its own in the group table (its window is the slice): an event is added to it
//! alone, one call whatever the number of windows, while its windows' groups wait. When the
//! watermark reaches the end of the slice's first window (before that window fires), the
//! slice's state is copied into each of its windows with the plugins' own `save`, `restore` and
//! `merge`, and the slice is closed. So when a window is read it holds every event, and results,
//! late updates, checkpoints and swaps work as they do for any group.
//!
//! A slice is copied into its windows when its first window is due and at no other time (a
//! checkpoint holds the slices as groups): the order in which a window's values were combined
//! does not depend on when checkpoints were taken, so a run restored from one writes exactly
//! the results of a run that was never stopped. Events that come after their slice was copied
//! (late for its first window) are added to each open window, as without slices.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use smallvec::SmallVec;

use super::Operator;
use crate::aggregate::{PluginError, SavedColumn};
use crate::groups::GroupTable;
use crate::snapshot::{RestoreError, SavedGroup};
use crate::window::{Assigner, Window};

/// A key's slice with events not yet in its windows.
#[derive(Debug)]
struct Pending {
    /// The slice's first millisecond.
    start: i64,
    /// Its group.
    slot: u32,
    /// Its windows' groups, earliest first.
    windows: Vec<u32>,
    /// The end of its first window: it is copied when the watermark gets there.
    first_end: i64,
}

/// A key's bytes (as in the group table).
type Key = SmallVec<[u8; 24]>;

/// Slices of sliding windows with events not yet in their windows, by key.
#[derive(Debug)]
pub(super) struct Slices {
    assigner: Assigner,
    /// Slice length, ms.
    length: i64,
    /// Shift of the slice boundaries from the epoch, ms.
    offset: i64,
    pending: HashMap<Key, SmallVec<[Pending; 2]>, RandomState>,
    /// The earliest `first_end` of a pending slice.
    due: i64,
    /// The windows of an event (scratch).
    windows: Vec<Window>,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Slices {
    /// Slices for `assigner`, when it slides by less than its size (`None` otherwise: each
    /// event is then in one window, and a slice would only add a copy).
    pub(super) fn new(assigner: Assigner) -> Option<Self> {
        let Assigner::Sliding {
            size,
            slide,
            offset,
        } = assigner
        else {
            return None;
        };
        let length = gcd(size.max(1), slide.max(1));
        (length < size).then(|| Self {
            assigner,
            length,
            offset,
            pending: HashMap::default(),
            due: i64::MAX,
            windows: Vec::new(),
        })
    }

    /// The slice `time` falls in.
    fn slice(&self, time: i64) -> Window {
        let start = time - (time - self.offset).rem_euclid(self.length);
        Window {
            start,
            end: start.saturating_add(self.length),
        }
    }

    /// Whether a group's window is a slice (a window of the assigner is longer).
    pub(super) fn is_slice(&self, window: Window) -> bool {
        window.end.saturating_sub(window.start) == self.length
    }

    /// The slot of the group of `key`'s slice at `time`, when the slice has events not yet in
    /// its windows and its first window has not fired at `watermark`.
    pub(super) fn slot(&self, key: &str, time: i64, watermark: i64) -> Option<u32> {
        let start = self.slice(time).start;
        self.pending
            .get(key.as_bytes())?
            .iter()
            .find(|p| p.start == start && p.first_end > watermark)
            .map(|p| p.slot)
    }

    /// Opens the group of `key`'s slice at `time`, for its windows `windows` (every one open
    /// and unfired, earliest first), and returns its slot.
    pub(super) fn open(
        &mut self,
        groups: &mut GroupTable,
        key: &str,
        time: i64,
        windows: &[(Window, u32)],
    ) -> u32 {
        let slice = self.slice(time);
        let slot = groups.open_slice(key, slice);
        let first_end = windows.first().map_or(slice.end, |(w, _)| w.end);
        self.file(
            key,
            slice.start,
            slot,
            windows.iter().map(|&(_, s)| s),
            first_end,
        );
        slot
    }

    fn file(
        &mut self,
        key: &str,
        start: i64,
        slot: u32,
        windows: impl Iterator<Item = u32>,
        first_end: i64,
    ) {
        self.due = self.due.min(first_end);
        self.pending
            .entry(Key::from_slice(key.as_bytes()))
            .or_default()
            .push(Pending {
                start,
                slot,
                windows: windows.collect(),
                first_end,
            });
    }

    /// Files a slice group restored from a snapshot again: its windows' groups must be open.
    pub(super) fn restored(
        &mut self,
        groups: &GroupTable,
        key: &str,
        slice: Window,
        slot: u32,
    ) -> Result<(), RestoreError> {
        self.windows.clear();
        self.assigner.assign(slice.start, &mut self.windows);
        let slots: Option<Vec<u32>> = self
            .windows
            .iter()
            .map(|&window| groups.find(key, window))
            .collect();
        let Some(slots) = slots else {
            return Err(RestoreError::Inconsistent(format!(
                "a slice of key {key:?} at {} whose windows are not all saved",
                slice.start
            )));
        };
        let first_end = self.windows.first().map_or(slice.end, |w| w.end);
        self.file(key, slice.start, slot, slots.into_iter(), first_end);
        Ok(())
    }

    /// Whether a slice is to be copied into its windows once the watermark is `watermark`.
    pub(super) fn due_by(&self, watermark: i64) -> bool {
        self.due <= watermark
    }

    /// Takes the pending slices whose first window ends at or before `watermark`.
    fn take(&mut self, watermark: i64) -> Vec<Pending> {
        if !self.due_by(watermark) {
            return Vec::new();
        }
        let mut taken = Vec::new();
        let mut due = i64::MAX;
        self.pending.retain(|_, slices| {
            let mut i = 0;
            while i < slices.len() {
                if slices[i].first_end <= watermark {
                    taken.push(slices.swap_remove(i));
                } else {
                    due = due.min(slices[i].first_end);
                    i += 1;
                }
            }
            !slices.is_empty()
        });
        self.due = due;
        // A window takes its slices in time order, however many are copied at once.
        taken.sort_unstable_by_key(|p| p.start);
        taken
    }
}

impl Operator {
    /// Opens the groups of a snapshot (a group one slice long is a slice, filed again as
    /// pending) and returns their slots, in the snapshot's order.
    pub(super) fn restore_groups(
        &mut self,
        saved: &[SavedGroup],
    ) -> Result<Vec<u32>, RestoreError> {
        let window = |group: &SavedGroup| Window {
            start: group.start,
            end: group.end,
        };
        let mut slots = Vec::with_capacity(saved.len());
        let mut restored = Vec::new();
        for group in saved {
            let slice = self
                .slices
                .as_ref()
                .is_some_and(|s| s.is_slice(window(group)));
            let slot = self.groups.restore(group.group(), !slice);
            if slice {
                restored.push((group, slot));
            }
            slots.push(slot);
        }
        // Once every window is open: a slice finds its windows' slots.
        if let Some(slices) = self.slices.as_mut() {
            for (group, slot) in restored {
                slices.restored(&self.groups, &group.key, window(group), slot)?;
            }
        }
        Ok(slots)
    }

    /// Copies the state of every slice whose first window ends at or before `watermark` into
    /// each of its windows, and closes those slices (`i64::MAX`: every slice).
    pub(super) fn copy_slices(&mut self, watermark: i64) -> Result<(), PluginError> {
        let Some(slices) = self.slices.as_mut() else {
            return Ok(());
        };
        let pending = slices.take(watermark);
        if pending.is_empty() {
            return Ok(());
        }
        let sources: Vec<u32> = pending.iter().map(|p| p.slot).collect();
        let saved = self.aggregates.save(&sources)?;
        let copies: Vec<u32> = sources.iter().map(|_| self.groups.reserve()).collect();
        // The slices of one start (one per key) at once, earliest start first: a window takes
        // its slices in time order, however many are copied at once. Window `r` of each of them
        // per call, one copy of each slice reused from window to window; the last window takes
        // the slice itself.
        let mut first = 0;
        while first < pending.len() {
            let start = pending[first].start;
            let end = first + pending[first..].partition_point(|p| p.start == start);
            self.copy_rounds(&pending, first..end, &saved, &copies)?;
            first = end;
        }
        self.groups.free(copies);
        for slice in &pending {
            let (events, first_offset) = self
                .groups
                .get(slice.slot)
                .map_or((0, i64::MAX), |g| (g.pending, g.first_offset));
            for &slot in &slice.windows {
                if let Some(group) = self.groups.get_mut(slot) {
                    group.pending += events;
                    group.first_offset = group.first_offset.min(first_offset);
                }
            }
            self.groups.remove_slice(slice.slot);
        }
        self.groups.free(sources);
        Ok(())
    }
}

impl Operator {
    /// Merges slices `range` of `pending` into their windows, window `r` of each at a time.
    fn copy_rounds(
        &mut self,
        pending: &[Pending],
        range: std::ops::Range<usize>,
        saved: &[SavedColumn],
        copies: &[u32],
    ) -> Result<(), PluginError> {
        let rounds = pending[range.clone()]
            .iter()
            .map(|p| p.windows.len())
            .max()
            .unwrap_or(0);
        let mut targets = Vec::new();
        let mut from = Vec::new();
        let mut copied = Vec::new();
        for round in 0..rounds {
            targets.clear();
            from.clear();
            copied.clear();
            for i in range.clone() {
                let slice = &pending[i];
                let Some(&target) = slice.windows.get(round) else {
                    continue;
                };
                targets.push(target);
                if round + 1 == slice.windows.len() {
                    from.push(slice.slot);
                } else {
                    from.push(copies[i]);
                    copied.push(i);
                }
            }
            if !copied.is_empty() {
                let slots: Vec<u32> = copied.iter().map(|&i| copies[i]).collect();
                let columns: Vec<SavedColumn> =
                    saved.iter().map(|column| rows(column, &copied)).collect();
                self.aggregates.restore(&slots, &columns)?;
            }
            // Merging frees the copies (and, last, the slices) inside the plugins.
            self.aggregates.merge(&targets, &from)?;
        }
        Ok(())
    }
}

/// The rows `which` of `column`, in that order.
fn rows(column: &SavedColumn, which: &[usize]) -> SavedColumn {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(which.len() + 1);
    offsets.push(0);
    for &i in which {
        let (start, end) = (column.offsets[i] as usize, column.offsets[i + 1] as usize);
        data.extend_from_slice(column.data.get(start..end).unwrap_or_default());
        offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }
    SavedColumn { data, offsets }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sliding(size: i64, slide: i64, offset: i64) -> Assigner {
        Assigner::Sliding {
            size,
            slide,
            offset,
        }
    }

    #[test]
    fn slices_divide_size_and_slide() {
        let slices = Slices::new(sliding(60_000, 1_000, 0)).expect("slices");
        assert_eq!(slices.length, 1_000);
        let uneven = Slices::new(sliding(25, 10, 3)).expect("slices");
        assert_eq!(uneven.length, 5);
        assert_eq!(uneven.slice(3), Window { start: 3, end: 8 });
        assert_eq!(uneven.slice(7).start, 3);
        assert_eq!(uneven.slice(8).start, 8);
        assert_eq!(uneven.slice(-1).start, -2);
        assert!(uneven.is_slice(Window { start: 3, end: 8 }));
        assert!(!uneven.is_slice(Window { start: 3, end: 28 }));
        assert!(Slices::new(sliding(10, 10, 0)).is_none(), "tumbling");
        assert!(Slices::new(Assigner::Session { gap: 5 }).is_none());
    }

    #[test]
    fn a_slice_is_pending_until_its_first_window_ends() {
        let mut slices = Slices::new(sliding(10, 5, 0)).expect("slices");
        let mut groups = GroupTable::new(0);
        let windows: Vec<(Window, u32)> =
            [Window { start: 0, end: 10 }, Window { start: 5, end: 15 }]
                .into_iter()
                .map(|w| (w, groups.slot("k", w, i64::MIN)))
                .collect();
        assert_eq!(slices.slot("k", 7, i64::MIN), None);
        let slot = slices.open(&mut groups, "k", 7, &windows);
        assert_eq!(slices.slot("k", 9, i64::MIN), Some(slot));
        assert_eq!(slices.slot("k", 9, 10), None, "its first window fired");
        assert_eq!(slices.slot("k", 10, i64::MIN), None, "the next slice");
        assert_eq!(slices.slot("j", 9, i64::MIN), None, "another key");
        assert!(
            groups.due(100).iter().all(|&s| s != slot),
            "a slice never fires"
        );
        assert!(slices.due_by(10) && !slices.due_by(9));
        assert!(slices.take(9).is_empty());
        let taken = slices.take(10);
        assert_eq!(taken.len(), 1);
        assert_eq!(
            taken[0].windows,
            windows.iter().map(|&(_, s)| s).collect::<Vec<_>>()
        );
        assert!(!slices.due_by(i64::MAX - 1));
    }

    #[test]
    fn rows_are_picked_in_order() {
        let column = SavedColumn {
            data: vec![1, 2, 3],
            offsets: vec![0, 1, 3, 3],
        };
        let picked = rows(&column, &[1, 0, 2]);
        assert_eq!(picked.data, [2, 3, 1]);
        assert_eq!(picked.offsets, [0, 2, 3, 3]);
        assert!(picked.fits(3));
    }
}
