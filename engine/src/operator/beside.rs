//! Candidates beside the operator's aggregates (shadow runs): a candidate version of one
//! aggregate is fed the same events on the same groups, merged, finished and released with
//! them, and its results come out beside the live ones, never in their place. It shares the
//! operator's windows and group table, so it costs what one more aggregate costs. A candidate
//! that fails is stopped; the live aggregates never see its errors.

use super::{Emitted, Operator};
use crate::aggregate::{Aggregates, PluginError};
use crate::groups::Group;
use crate::results::Emit;

/// A candidate computing beside the operator's aggregates.
pub(super) struct Candidate {
    name: String,
    aggregates: Aggregates,
    /// The decoded batches' value column it reads (that of the aggregate it shadows).
    column: usize,
    failed: Option<String>,
    results: Vec<Emitted>,
}

/// What a candidate made in one step.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateOutput {
    /// The candidate's name (see [`Operator::attach`]).
    pub name: String,
    /// Its results, for the same groups and in the same order as the live results of the step.
    pub results: Vec<Emitted>,
    /// Why it stopped, once it has.
    pub failed: Option<String>,
}

impl Candidate {
    /// Runs `call` unless the candidate has failed; a failure stops it.
    fn run<T>(
        &mut self,
        call: impl FnOnce(&mut Aggregates) -> Result<T, PluginError>,
    ) -> Option<T> {
        if self.failed.is_some() {
            return None;
        }
        match call(&mut self.aggregates) {
            Ok(value) => Some(value),
            Err(error) => {
                self.failed = Some(error.to_string());
                None
            }
        }
    }
}

impl Operator {
    /// Makes `aggregates` (one candidate aggregate reading the decoded batches' value column
    /// `column`) compute beside this operator's aggregates under `name`, replacing a candidate
    /// of that name. Returns where the windows it sees whole begin: those that start earlier
    /// held events before it was attached (see [`Operator::open_until`]).
    pub fn attach(&mut self, name: &str, aggregates: Aggregates, column: usize) -> i64 {
        self.detach(name);
        self.candidates.push(Candidate {
            name: name.to_string(),
            aggregates,
            column,
            failed: None,
            results: Vec::new(),
        });
        self.open_until()
    }

    /// Drops the candidate `name`, if there is one.
    pub fn detach(&mut self, name: &str) {
        self.candidates.retain(|c| c.name != name);
    }

    /// Whether a candidate `name` is attached (stopped or not).
    pub fn has_candidate(&self, name: &str) -> bool {
        self.candidates.iter().any(|c| c.name == name)
    }

    /// Where windows this operator has seen nothing of begin: a window that starts at or
    /// after it holds no event seen so far (the latest end of an open window, one more for
    /// sessions, which merge with a window they touch; `i64::MIN` when no window is open).
    pub fn open_until(&self) -> i64 {
        let merging = i64::from(self.assigner.is_merging());
        let slices = self.slices.as_ref().and_then(|s| s.latest_end());
        self.groups
            .latest_end()
            .max(slices)
            .map_or(i64::MIN, |end| end.saturating_add(merging))
    }

    pub(super) fn candidates_accumulate(
        &mut self,
        slots: &[u32],
        rows: &[u32],
        values: &[Vec<f64>],
    ) {
        for candidate in &mut self.candidates {
            let column = values.get(candidate.column..).unwrap_or_default();
            candidate.run(|a| a.accumulate(slots, rows, column));
        }
    }

    pub(super) fn candidates_merge(&mut self, targets: &[u32], sources: &[u32]) {
        for candidate in &mut self.candidates {
            candidate.run(|a| a.merge(targets, sources));
        }
    }

    pub(super) fn candidates_release(&mut self, slots: &[u32]) {
        for candidate in &mut self.candidates {
            candidate.run(|a| a.release(slots));
        }
    }

    /// The candidates' results for the groups the live aggregates just finished.
    pub(super) fn candidates_finish(&mut self, emit: Emit, slots: &[u32], groups: &[Group]) {
        for candidate in &mut self.candidates {
            if let Some(finished) = candidate.run(|a| a.finish(slots)) {
                candidate.results.push(Emitted {
                    emit,
                    groups: groups.to_vec(),
                    finished,
                });
            }
        }
    }

    /// What each candidate made since the last call.
    pub(super) fn take_candidates(&mut self) -> Vec<CandidateOutput> {
        self.candidates
            .iter_mut()
            .map(|c| CandidateOutput {
                name: c.name.clone(),
                results: std::mem::take(&mut c.results),
                failed: c.failed.clone(),
            })
            .collect()
    }
}
