//! Shadow runs: a candidate plugin version computes beside the live one on the same events, and
//! its results are compared with the live ones window by window instead of being written.
//!
//! The candidate is attached to each live operator ([`Operator::attach`]) when the operator's
//! next batch comes: it then gets the same events on the same groups as the live aggregate it
//! shadows, and is finished, merged and released with them, so both make results for the same
//! windows in the same step, and the candidate costs what one more aggregate costs. Windows the
//! operator had open when the candidate was attached are partial in the candidate and are not
//! compared ([`Operator::open_until`]). A candidate that fails (a trap, a limit, an error)
//! stops the shadow run, never the pipeline.

mod report;

use std::collections::BTreeMap;

pub use report::{ShadowReport, relative_difference};

use crate::aggregate::{Aggregates, AggregatorLoader};
use crate::config::AggregateConfig;
use crate::operator::{Operator, Output};

/// A candidate version of one aggregate run beside the live pipeline. It keeps, by the key of
/// the live operator it is attached to (the partition for Kafka sources, 0 for sources with
/// one operator), where the windows it sees whole begin.
pub struct ShadowRun {
    candidate: AggregateConfig,
    column: usize,
    since: BTreeMap<u32, i64>,
    report: ShadowReport,
    stopped: Option<String>,
}

impl ShadowRun {
    /// A shadow run of `candidate` beside the live aggregate `column` (its index among the
    /// pipeline's aggregates; `candidate` carries that aggregate's name and field, and is
    /// attached to operators under that name).
    pub fn new(candidate: AggregateConfig, column: usize) -> Self {
        Self {
            candidate,
            column,
            since: BTreeMap::new(),
            report: ShadowReport::default(),
            stopped: None,
        }
    }

    /// What the candidate runs: its plugin and configuration.
    pub fn candidate(&self) -> &AggregateConfig {
        &self.candidate
    }

    /// The name the candidate is attached under: the shadowed aggregate's.
    pub fn name(&self) -> &str {
        &self.candidate.name
    }

    /// The comparison so far.
    pub fn report(&self) -> &ShadowReport {
        &self.report
    }

    /// Why the candidate was stopped, if it was.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Stops the candidate for `reason`; the report stays. The caller detaches it from the
    /// operators ([`Operator::detach`]).
    pub fn stop(&mut self, reason: String) {
        self.since.clear();
        self.stopped.get_or_insert(reason);
    }

    /// Before `live` (the live operator under `key`) processes a batch: attaches the candidate
    /// to it, if it is not attached.
    pub fn prepare(&mut self, key: u32, live: &mut Operator, loader: &dyn AggregatorLoader) {
        if self.stopped.is_some()
            || (self.since.contains_key(&key) && live.has_candidate(self.name()))
        {
            return;
        }
        match Aggregates::new(loader, std::slice::from_ref(&self.candidate)) {
            Ok(aggregates) => {
                let since = live.attach(&self.candidate.name, aggregates, self.column);
                self.since.insert(key, since);
            }
            Err(error) => self.stop(error.to_string()),
        }
    }

    /// Compares what the live operator under `key` made in one step (processing a batch, a
    /// tick, closing) with what the candidate made beside it.
    pub fn observe(&mut self, key: u32, out: &Output) {
        if self.stopped.is_some() {
            return;
        }
        let mine = out
            .candidates
            .iter()
            .find(|c| c.name == self.candidate.name);
        match (self.since.get(&key), mine) {
            (_, Some(candidate)) if candidate.failed.is_some() => {
                self.stop(candidate.failed.clone().unwrap_or_default());
            }
            (Some(&since), Some(candidate)) => {
                self.report
                    .compare(&out.results, self.column, &candidate.results, 0, since);
            }
            // Not attached to this operator since the run began: every live result is partial.
            _ => self
                .report
                .compare(&out.results, self.column, &[], 0, i64::MAX),
        }
    }

    /// The live operator under `key` was replaced or dropped (a rebalance, a restore, a
    /// rewind): the candidate is attached again to the next one.
    pub fn forget(&mut self, key: u32) {
        self.since.remove(&key);
    }
}
