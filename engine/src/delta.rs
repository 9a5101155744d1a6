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

/// Where a group of the result comes from.
#[derive(Clone, Copy)]
enum From {
    Base(usize),
    Delta(usize),
}

fn inconsistent(message: impl Into<String>) -> RestoreError {
    RestoreError::Inconsistent(message.into())
}

impl OperatorSnapshot {
    /// This snapshot with `delta` applied: closed groups removed, changed groups replaced,
    /// new groups added (after the others).
    pub fn apply(&self, delta: &OperatorDelta) -> Result<OperatorSnapshot, RestoreError> {
        if delta.formats != self.formats {
            return Err(RestoreError::Formats {
                saved: self.formats.clone(),
                current: delta.formats.clone(),
            });
        }
        if !self.retiring.is_empty() {
            return Err(inconsistent(
                "a delta over a snapshot with retiring versions",
            ));
        }
        let columns_fit = |states: &[SavedColumn], groups: usize| {
            states.len() == self.formats.len()
                && states.iter().all(|c| c.offsets.len() == groups + 1)
        };
        if !columns_fit(&self.states, self.groups.len())
            || !columns_fit(&delta.states, delta.groups.len())
        {
            return Err(inconsistent("state columns do not match their groups"));
        }
        let mut position: HashMap<(&str, i64, i64), usize> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| ((g.key.as_str(), g.start, g.end), i))
            .collect();
        let mut from: Vec<Option<From>> = (0..self.groups.len())
            .map(|i| Some(From::Base(i)))
            .collect();
        for id in &delta.removed {
            if let Some(i) = position.remove(&(id.key.as_str(), id.start, id.end)) {
                from[i] = None;
            }
        }
        for (j, group) in delta.groups.iter().enumerate() {
            match position.get(&(group.key.as_str(), group.start, group.end)) {
                Some(&i) => from[i] = Some(From::Delta(j)),
                None => from.push(Some(From::Delta(j))),
            }
        }
        let from: Vec<From> = from.into_iter().flatten().collect();
        let groups = from
            .iter()
            .map(|f| match *f {
                From::Base(i) => self.groups[i].clone(),
                From::Delta(j) => delta.groups[j].clone(),
            })
            .collect();
        let states = self
            .states
            .iter()
            .zip(&delta.states)
            .map(|(base, changed)| merge_column(base, changed, &from))
            .collect::<Result<_, _>>()?;
        Ok(OperatorSnapshot {
            watermark: delta.watermark,
            max_seen: delta.max_seen.clone(),
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

fn merge_column(
    base: &SavedColumn,
    changed: &SavedColumn,
    from: &[From],
) -> Result<SavedColumn, RestoreError> {
    let mut data = Vec::with_capacity(base.data.len() + changed.data.len());
    let mut offsets = Vec::with_capacity(from.len() + 1);
    offsets.push(0);
    for f in from {
        let bytes = match *f {
            From::Base(i) => state_of(base, i)?,
            From::Delta(j) => state_of(changed, j)?,
        };
        data.extend_from_slice(bytes);
        offsets.push(
            u32::try_from(data.len()).map_err(|_| inconsistent("a state column over 4 GiB"))?,
        );
    }
    Ok(SavedColumn { data, offsets })
}
