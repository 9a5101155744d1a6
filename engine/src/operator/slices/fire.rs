//! Firing sliding windows from their slices: which windows are read straight from a slice,
//! from values already known, from a slot their slices are merged into, or become groups; and
//! freeing slices once their last window fired.

use std::sync::Arc;

use super::super::Operator;
use super::super::finish::Entry;
use super::{Signature, Slices};
use crate::aggregate::{Aggregates, PluginError};
use crate::groups::{Group, GroupTable};
use crate::snapshot::SavedGroup;
use crate::window::Window;

impl Slices {
    /// Reads the windows ending at `end` from their slices. A window with no group, when fired
    /// windows take no late events, goes into `direct` (unless `all`): with its key's values
    /// when it holds the slices its key's window before it was read from, else the slot of its
    /// one slice or a slot its slices are merged into (`pairs`), and its place and signature
    /// in `learned`. Any other window gets a group (opened unfired, so that it fires with the
    /// group table's `due`), and its slices go into `pairs` as `(group, slice)`, in time order.
    /// Slices whose last window this is are then dead.
    pub(super) fn fire(
        &mut self,
        groups: &mut GroupTable,
        end: i64,
        all: bool,
        direct: &mut Vec<Entry>,
        pairs: &mut Vec<(u32, u32)>,
        learned: &mut Vec<(usize, Signature)>,
    ) {
        let window = Window {
            start: end.saturating_sub(self.size),
            end,
        };
        let dies_before = window.start.saturating_add(self.slide);
        let straight = !all && self.lateness == 0;
        let windows_open = groups.has_windows();
        let Self {
            live,
            starts,
            dead,
            windows,
            ..
        } = self;
        let mut died = false;
        for live in live.values_mut() {
            let slices = &mut live.slices;
            let n = slices.partition_point(|&(start, _)| start < end);
            if let Some(&(_, first)) = slices.first().filter(|_| n > 0)
                && let Some(slice) = groups.get(first)
            {
                // The window is no longer open as a slice's: read, or a group.
                *windows = windows.saturating_sub(1);
                let key = Arc::clone(&slice.key);
                let found = windows_open.then(|| groups.find(&key, window)).flatten();
                let (pending, first_offset) = slices[..n]
                    .iter()
                    .filter_map(|&(_, slot)| groups.get(slot))
                    .fold((0, i64::MAX), |(p, o), g| {
                        (p + g.pending, o.min(g.first_offset))
                    });
                let read: Signature = (slices[0].0, slices[n - 1].0, n, pending);
                if straight && found.is_none() {
                    let values = live
                        .known
                        .as_ref()
                        .filter(|known| known.signature == read)
                        .map(|known| Arc::clone(&known.values));
                    // Not known: read from the slice itself, or from a slot its slices are
                    // merged into, freed with the dead slices.
                    let slot = if values.is_some() || n == 1 {
                        first
                    } else {
                        let merged = groups.reserve();
                        pairs.extend(slices[..n].iter().map(|&(_, slot)| (merged, slot)));
                        dead.push(merged);
                        merged
                    };
                    if values.is_none() {
                        learned.push((direct.len(), read));
                    }
                    let group = Group {
                        window,
                        key,
                        fired: true,
                        pending,
                        first_offset,
                    };
                    direct.push(Entry {
                        slot,
                        group,
                        values,
                    });
                } else {
                    let target = found.unwrap_or_else(|| groups.slot(&key, window, i64::MIN));
                    if let Some(group) = groups.get_mut(target) {
                        group.pending += pending;
                        group.first_offset = group.first_offset.min(first_offset);
                    }
                    pairs.extend(slices[..n].iter().map(|&(_, slot)| (target, slot)));
                }
            }
            let over = slices.partition_point(|&(start, _)| start < dies_before);
            for (start, slot) in slices.drain(..over) {
                dead.push(slot);
                if let Some(count) = starts.get_mut(&start) {
                    *count -= 1;
                    if *count == 0 {
                        starts.remove(&start);
                    }
                }
                died = true;
            }
        }
        if died {
            live.retain(|_, live| !live.slices.is_empty());
        }
    }
}

impl Operator {
    /// Reads the sliding windows ending after `from` and at or before `to` (every window of
    /// every live slice with `all`) from their slices. Returns the results to read straight
    /// from a slice; the other windows are groups now, holding their slices, and fire with the
    /// group table's `due`. Slices whose last window fired wait for
    /// [`Operator::release_dead_slices`].
    pub(in crate::operator) fn fire_slices(
        &mut self,
        from: i64,
        to: i64,
        all: bool,
    ) -> Result<Vec<Entry>, PluginError> {
        let Some(mut slices) = self.slices.take() else {
            return Ok(Vec::new());
        };
        let fired = self.fire_windows(&mut slices, from, to, all);
        self.slices = Some(slices);
        fired
    }

    fn fire_windows(
        &mut self,
        slices: &mut Slices,
        from: i64,
        to: i64,
        all: bool,
    ) -> Result<Vec<Entry>, PluginError> {
        let (mut direct, mut pairs, mut learned) = (Vec::new(), Vec::new(), Vec::new());
        let mut after = from;
        while let Some(end) = slices.next_end(after) {
            if !all && end > to {
                break;
            }
            // One window end at a time: the copies' slots are reused by the next, which
            // reads the values learned here.
            slices.fire(
                &mut self.groups,
                end,
                all,
                &mut direct,
                &mut pairs,
                &mut learned,
            );
            merge_copies(&mut self.aggregates, &mut self.groups, &pairs)?;
            pairs.clear();
            self.learn(slices, &mut direct, &mut learned)?;
            after = end;
        }
        Ok(direct)
    }

    /// Finishes the windows at `learned` in `direct` (but those to drop) and keeps their values
    /// for their keys' next windows.
    fn learn(
        &mut self,
        slices: &mut Slices,
        direct: &mut [Entry],
        learned: &mut Vec<(usize, Signature)>,
    ) -> Result<(), PluginError> {
        if !self.drop.is_empty() {
            learned.retain(|(i, _)| {
                let group = &direct[*i].group;
                !self
                    .drop
                    .contains_key(&(Arc::clone(&group.key), group.window))
            });
        }
        if learned.is_empty() {
            return Ok(());
        }
        let batch: Vec<Entry> = learned.iter().map(|(i, _)| direct[*i].clone()).collect();
        let finished = self.finish_entries(&batch)?;
        let mut row = Vec::new();
        for (j, (i, signature)) in learned.drain(..).enumerate() {
            row.clear();
            for (_, outputs, values) in &finished.columns {
                let width = outputs.len();
                row.extend_from_slice(values.get(j * width..(j + 1) * width).unwrap_or_default());
            }
            let values: Arc<[f64]> = Arc::from(&row[..]);
            slices.remember(&direct[i].group.key, signature, Arc::clone(&values));
            direct[i].values = Some(values);
        }
        Ok(())
    }

    /// Frees the slices whose last window fired (after its results were read).
    pub(in crate::operator) fn release_dead_slices(&mut self) -> Result<(), PluginError> {
        self.release_taken(Slices::take_dead)
    }

    /// Merges every live slice into each of its windows that has not fired, as groups, and
    /// frees the slices (before a hot swap, which moves groups).
    pub(in crate::operator) fn materialize_slices(&mut self) -> Result<(), PluginError> {
        self.fire_slices(self.watermarks.current(), i64::MAX, true)?;
        self.release_dead_slices()
    }

    /// Drops every live slice unread (state expired by its TTL).
    pub(in crate::operator) fn drop_slices(&mut self) -> Result<(), PluginError> {
        self.release_taken(Slices::take_all)
    }

    /// Releases and frees the slots `take` takes out of the slices.
    fn release_taken(&mut self, take: fn(&mut Slices) -> Vec<u32>) -> Result<(), PluginError> {
        let slots = self.slices.as_mut().map(take).unwrap_or_default();
        self.release_groups(slots, true)
    }

    /// Opens the groups of a snapshot (a group one slice long is a slice, live again) and
    /// returns their slots, in the snapshot's order.
    pub(in crate::operator) fn restore_groups(
        &mut self,
        saved: &[SavedGroup],
        watermark: i64,
    ) -> Vec<u32> {
        let mut slots = Vec::with_capacity(saved.len());
        for group in saved {
            let window = Window {
                start: group.start,
                end: group.end,
            };
            let slices = self.slices.as_mut().filter(|s| s.is_slice(window));
            let slot = self.groups.restore(group.group(), slices.is_none());
            if let Some(slices) = slices {
                slices.restored(&group.key, window, slot, watermark);
            }
            slots.push(slot);
        }
        slots
    }
}

/// Merges a copy of each pair's slice into the pair's group, pair by pair (the merge frees
/// the copies).
fn merge_copies(
    aggregates: &mut Aggregates,
    groups: &mut GroupTable,
    pairs: &[(u32, u32)],
) -> Result<(), PluginError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (targets, sources): (Vec<u32>, Vec<u32>) = pairs.iter().copied().unzip();
    let saved = aggregates.save(&sources)?;
    let copies: Vec<u32> = sources.iter().map(|_| groups.reserve()).collect();
    let merged = aggregates
        .restore(&copies, &saved)
        .and_then(|()| aggregates.merge(&targets, &copies));
    groups.free(copies);
    merged
}
