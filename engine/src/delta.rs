//! Incremental snapshots: what changed in an operator since its previous checkpoint — the
//! groups opened or changed (with their aggregate state) and the groups closed — applied to
//! that checkpoint's snapshot to get the current one. A delta sets values, so applying it to
//! any snapshot taken between its base and itself gives the same result.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::SavedColumn;
use crate::snapshot::{OperatorSnapshot, RestoreError, SavedGroup};

/// A group by its identity: key and window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupId {
    /// Key.
    pub key: String,
    /// Window start, epoch ms.
    pub start: i64,
    /// Window end, epoch ms.
    pub end: i64,
}

/// An operator's changes since its previous checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorDelta {
    /// The watermark now.
    pub watermark: i64,
    /// The largest event time seen per source partition, now.
    pub max_seen: Vec<(u32, i64)>,
    /// Per aggregate, `<result name>/<plugin name>/<state format>` (the base's too).
    pub formats: Vec<String>,
    /// Groups closed since the base (applied before `groups`).
    pub removed: Vec<GroupId>,
    /// Groups opened or changed since the base, as they are now.
    pub groups: Vec<SavedGroup>,
    /// Per aggregate, the state of every group in `groups`, in their order.
    pub states: Vec<SavedColumn>,
}

/// An operator's state in a checkpoint: whole, or the changes since its previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedState {
    /// Every open group.
    Full(OperatorSnapshot),
    /// The changes since the partition's previous checkpoint.
    Delta(OperatorDelta),
}

impl SavedState {
    /// Number of groups saved.
    pub fn groups(&self) -> usize {
        match self {
            Self::Full(snapshot) => snapshot.groups.len(),
            Self::Delta(delta) => delta.groups.len(),
        }
    }
}

/// A group's identity, borrowed: key, start, end.
type Id<'a> = (&'a str, i64, i64);

/// Where a group of the result comes from: the base, or group `j` of delta `d`.
#[derive(Clone, Copy)]
enum From {
    Base(usize),
    Delta(usize, usize),
}

fn inconsistent(message: impl Into<String>) -> RestoreError {
    RestoreError::Inconsistent(message.into())
}

impl OperatorSnapshot {
    /// This snapshot with `delta` applied: closed groups removed, changed groups replaced,
    /// new groups added (after the others).
    pub fn apply(&self, delta: &OperatorDelta) -> Result<OperatorSnapshot, RestoreError> {
        self.apply_all(std::slice::from_ref(delta))
    }

    /// This snapshot with `deltas` applied in order, in one pass (the result of applying them
    /// one by one, without a whole snapshot between each).
    pub fn apply_all(&self, deltas: &[OperatorDelta]) -> Result<OperatorSnapshot, RestoreError> {
        let Some(last) = deltas.last() else {
            return Ok(self.clone());
        };
        if !self.retiring.is_empty() {
            return Err(inconsistent(
                "a delta over a snapshot with retiring versions",
            ));
        }
        let columns_fit = |states: &[SavedColumn], groups: usize| {
            states.len() == self.formats.len() && states.iter().all(|c| c.fits(groups))
        };
        if !columns_fit(&self.states, self.groups.len()) {
            return Err(inconsistent("state columns do not match their groups"));
        }
        for delta in deltas {
            if delta.formats != self.formats {
                return Err(RestoreError::Formats {
                    saved: self.formats.clone(),
                    current: delta.formats.clone(),
                });
            }
            if !columns_fit(&delta.states, delta.groups.len()) {
                return Err(inconsistent("state columns do not match their groups"));
            }
        }
        // Each changed group's last word: removed (None) or its state in a delta; and the
        // order new groups first appeared in.
        let mut last_word: HashMap<Id<'_>, Option<(usize, usize)>> = HashMap::new();
        let mut appeared: Vec<Id<'_>> = Vec::new();
        for (d, delta) in deltas.iter().enumerate() {
            for id in &delta.removed {
                last_word.insert((id.key.as_str(), id.start, id.end), None);
            }
            for (j, group) in delta.groups.iter().enumerate() {
                let id = (group.key.as_str(), group.start, group.end);
                // Not yet seen alive: may be new (a group of the base is taken in its place).
                if !matches!(last_word.insert(id, Some((d, j))), Some(Some(_))) {
                    appeared.push(id);
                }
            }
        }
        let mut from: Vec<From> = Vec::with_capacity(self.groups.len() + appeared.len());
        for (i, group) in self.groups.iter().enumerate() {
            match last_word.remove(&(group.key.as_str(), group.start, group.end)) {
                None => from.push(From::Base(i)),
                Some(Some((d, j))) => from.push(From::Delta(d, j)),
                Some(None) => {}
            }
        }
        for id in appeared {
            if let Some(Some((d, j))) = last_word.remove(&id) {
                from.push(From::Delta(d, j));
            }
        }
        let groups = from
            .iter()
            .map(|f| match *f {
                From::Base(i) => self.groups[i].clone(),
                From::Delta(d, j) => deltas[d].groups[j].clone(),
            })
            .collect();
        let states = (0..self.formats.len())
            .map(|column| merge_column(column, &self.states[column], deltas, &from))
            .collect::<Result<_, _>>()?;
        Ok(OperatorSnapshot {
            watermark: last.watermark,
            max_seen: last.max_seen.clone(),
            formats: self.formats.clone(),
            groups,
            states,
            retiring: Vec::new(),
        })
    }
}

/// The bytes of group `i` in `column`.
fn state_of(column: &SavedColumn, i: usize) -> Result<&[u8], RestoreError> {
    let start = column.offsets[i] as usize;
    let end = column.offsets[i + 1] as usize;
    column
        .data
        .get(start..end)
        .ok_or_else(|| inconsistent("a state offset outside its column"))
}

/// Aggregate `column`'s states of the groups `from` says, from `base` and `deltas`.
fn merge_column(
    column: usize,
    base: &SavedColumn,
    deltas: &[OperatorDelta],
    from: &[From],
) -> Result<SavedColumn, RestoreError> {
    let mut data = Vec::with_capacity(base.data.len());
    let mut offsets = Vec::with_capacity(from.len() + 1);
    offsets.push(0);
    for f in from {
        let bytes = match *f {
            From::Base(i) => state_of(base, i)?,
            From::Delta(d, j) => state_of(&deltas[d].states[column], j)?,
        };
        data.extend_from_slice(bytes);
        offsets.push(
            u32::try_from(data.len()).map_err(|_| inconsistent("a state column over 4 GiB"))?,
        );
    }
    Ok(SavedColumn { data, offsets })
}
