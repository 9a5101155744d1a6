//! Results: windows finished by the aggregate plugins (or read from values already known),
//! ordered by window, then key; windows to drop instead; careful mode, which finishes one group
//! per call so that a failure names its group.

use std::sync::Arc;

use super::{Dropped, Emitted, Operator};
use crate::aggregate::{Finished, PluginError};
use crate::groups::Group;
use crate::results::Emit;

/// A window to emit: the slot its state is in, its group, and its values when they are known
/// already (a sliding window read from the same slices as its key's window before it: every
/// aggregate's outputs in order).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Its state's slot (a slice's, for a sliding window read straight from its slice).
    pub slot: u32,
    /// The window's group.
    pub group: Group,
    /// Its values, when known.
    pub values: Option<Arc<[f64]>>,
}

impl Entry {
    fn of(slot: u32, group: &Group) -> Self {
        Self {
            slot,
            group: group.clone(),
            values: None,
        }
    }
}

impl Operator {
    /// Emits the on-time results of the windows ending after `from` and at or before
    /// `watermark`: groups, and sliding windows read from their slices; then frees the slices
    /// whose last window that was.
    pub(super) fn fire(
        &mut self,
        results: &mut Vec<Emitted>,
        from: i64,
        watermark: i64,
    ) -> Result<(), PluginError> {
        let mut entries = self.fire_slices(from, watermark, false)?;
        let due = self.groups.due(watermark);
        entries.extend(
            due.into_iter()
                .filter_map(|slot| self.groups.get(slot).map(|g| Entry::of(slot, g))),
        );
        self.push_entries(results, Emit::OnTime, entries)?;
        self.release_dead_slices()
    }

    /// Finishes `slots` and adds their results, ordered by window, then key.
    pub(super) fn push_results(
        &mut self,
        results: &mut Vec<Emitted>,
        emit: Emit,
        slots: Vec<u32>,
    ) -> Result<(), PluginError> {
        let entries = slots
            .into_iter()
            .filter_map(|slot| self.groups.get(slot).map(|g| Entry::of(slot, g)))
            .collect();
        self.push_entries(results, emit, entries)
    }

    /// Adds the results of `entries` (finished now unless their values are known), ordered by
    /// window, then key.
    fn push_entries(
        &mut self,
        results: &mut Vec<Emitted>,
        emit: Emit,
        mut entries: Vec<Entry>,
    ) -> Result<(), PluginError> {
        if !self.drop.is_empty() {
            self.drop_due(&mut entries)?;
        }
        if entries.is_empty() {
            return Ok(());
        }
        entries.sort_unstable_by(|a, b| {
            let (a, b) = (&a.group, &b.group);
            (a.window.end, a.window.start, &*a.key).cmp(&(b.window.end, b.window.start, &*b.key))
        });
        let finished = self.finish_entries(&entries)?;
        let slots: Vec<u32> = entries.iter().map(|e| e.slot).collect();
        let mut groups = Vec::with_capacity(entries.len());
        for Entry {
            slot, mut group, ..
        } in entries
        {
            if self
                .groups
                .get(slot)
                .is_some_and(|g| g.window == group.window)
                && let Some(own) = self.groups.get_mut(slot)
            {
                own.pending = 0;
            }
            group.pending = 0;
            groups.push(group);
        }
        if !self.candidates.is_empty() {
            self.candidates_finish(emit, &slots, &groups);
        }
        results.push(Emitted {
            emit,
            groups,
            finished,
        });
        Ok(())
    }

    /// The values of `entries`, in order: those not known yet finished by the plugins.
    pub(super) fn finish_entries(&mut self, entries: &[Entry]) -> Result<Finished, PluginError> {
        let fresh: Vec<&Entry> = entries.iter().filter(|e| e.values.is_none()).collect();
        let finished = if fresh.is_empty() {
            // No plugin call: the shape of the results only.
            let columns = self.aggregates.outputs().into_iter();
            Finished {
                columns: columns
                    .map(|(name, outputs)| (name, outputs, Vec::new()))
                    .collect(),
            }
        } else if self.careful {
            self.finish_one_by_one(&fresh)?
        } else {
            let slots: Vec<u32> = fresh.iter().map(|e| e.slot).collect();
            self.aggregates.finish(&slots)?
        };
        if fresh.len() == entries.len() {
            return Ok(finished);
        }
        // Known values and finished ones, in the entries' order.
        let mut columns = Vec::with_capacity(finished.columns.len());
        let mut offset = 0;
        for (name, outputs, values) in finished.columns {
            let width = outputs.len();
            let mut all = Vec::with_capacity(entries.len() * width);
            let mut next = values.chunks_exact(width.max(1));
            for entry in entries {
                match &entry.values {
                    Some(known) => all.extend_from_slice(&known[offset..offset + width]),
                    None => all.extend_from_slice(next.next().unwrap_or_default()),
                }
            }
            offset += width;
            columns.push((name, outputs, all));
        }
        Ok(Finished { columns })
    }

    /// Takes the entries to drop out of `entries`: reported, and released and freed unless
    /// read from a slice (which other windows still read).
    fn drop_due(&mut self, entries: &mut Vec<Entry>) -> Result<(), PluginError> {
        let mut released = Vec::new();
        entries.retain(|Entry { slot, group, .. }| {
            match self.drop.get(&(group.key.clone(), group.window)) {
                Some(reason) => {
                    self.dropped.push(Dropped {
                        group: group.clone(),
                        reason: Arc::clone(reason),
                    });
                    if self
                        .groups
                        .get(*slot)
                        .is_some_and(|g| g.window == group.window)
                    {
                        released.push(*slot);
                    }
                    false
                }
                None => true,
            }
        });
        self.release_groups(released, false)
    }

    /// Releases `slots` in the plugins (and candidates), closes their groups (slices when
    /// `slices`; a slot no group holds is skipped) and frees the slots.
    pub(super) fn release_groups(
        &mut self,
        slots: Vec<u32>,
        slices: bool,
    ) -> Result<(), PluginError> {
        if slots.is_empty() {
            return Ok(());
        }
        self.aggregates.release(&slots)?;
        self.candidates_release(&slots);
        for &slot in &slots {
            if slices {
                self.groups.remove_slice(slot);
            } else {
                self.groups.remove(slot);
            }
        }
        self.groups.free(slots);
        Ok(())
    }

    /// Finishes `entries` one call per group; a failure leaves its group in `failed`.
    fn finish_one_by_one(&mut self, entries: &[&Entry]) -> Result<Finished, PluginError> {
        let mut all = Finished::default();
        for entry in entries {
            match self.aggregates.finish(&[entry.slot]) {
                Ok(one) => all.append(one),
                Err(error) => {
                    self.failed = Some(entry.group.clone());
                    return Err(error);
                }
            }
        }
        Ok(all)
    }
}
