//! What the window operator hands back after a batch or a tick: results, late events, groups
//! expired or dropped, events refused, and what candidates beside it made.

use std::sync::Arc;

use super::CandidateOutput;
use crate::aggregate::Finished;
use crate::groups::Group;
use crate::results::Emit;

/// A result of one group, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// Why it was emitted.
    pub emit: Emit,
    /// The groups, in order.
    pub groups: Vec<Group>,
    /// Their aggregate values.
    pub finished: Finished,
}

/// An event that arrived after its windows' allowed lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late {
    /// Index of the event in its decoded batch.
    pub event: usize,
    /// Watermark it missed.
    pub watermark: i64,
    /// Its event time.
    pub time: i64,
}

/// A group dropped instead of finished (see [`Operator::drop_window`](super::Operator::drop_window)): its events are
/// accounted for by one dead letter for the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    /// The group, with the number of events it held since its last result.
    pub group: Group,
    /// Why it was dropped.
    pub reason: Arc<str>,
}

/// What one batch (or one tick of processing time) produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Results by emit kind: late updates, on-time, early.
    pub results: Vec<Emitted>,
    /// Late events.
    pub late: Vec<Late>,
    /// Open groups dropped because their partition had no events for `state.ttl`.
    pub expired: u64,
    /// Groups dropped instead of finished, when they were due.
    pub dropped: Vec<Dropped>,
    /// Events (index in their decoded batch) refused because they would have opened a group
    /// beyond `state.max_open_groups`.
    pub refused: Vec<usize>,
    /// What the candidates beside the aggregates made (shadow runs; see
    /// [`Operator::attach`](super::Operator::attach)), one entry per candidate.
    pub candidates: Vec<CandidateOutput>,
}
