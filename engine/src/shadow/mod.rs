//! Shadow runs: a candidate plugin version computes beside the live one on the same events, and
//! its results are compared with the live ones window by window instead of being written.
//!
//! Per partition the candidate runs in an operator of its own, made beside the live one when
//! the partition's next batch comes ([`Operator::beside`]): same watermark, trigger and resume
//! position, fed the same decoded batches at the same processing times, so both fire the same
//! windows in the same step. Windows the live operator had open when the candidate's began are
//! partial in the candidate and are not compared ([`Operator::open_until`]). A candidate that
//! fails (a trap, a limit, an error) stops the shadow run, never the pipeline.

mod report;

use std::collections::BTreeMap;

pub use report::{ShadowReport, relative_difference};

use crate::aggregate::{Aggregates, AggregatorLoader, PluginError};
use crate::config::AggregateConfig;
use crate::decode::DecodedBatch;
use crate::operator::{Emitted, Operator};

/// The candidate's operator of one partition.
struct Beside {
    operator: Operator,
    /// Windows that start before this are not compared.
    since: i64,
}

/// A candidate version of one aggregate run beside the live pipeline. Its operators are kept
/// by the key of the live operator they run beside (the partition for Kafka sources, 0 for
/// sources with one operator).
pub struct ShadowRun {
    candidate: AggregateConfig,
    column: usize,
    operators: BTreeMap<u32, Beside>,
    report: ShadowReport,
    stopped: Option<String>,
}

impl ShadowRun {
    /// A shadow run of `candidate` beside the live aggregate `column` (its index among the
    /// pipeline's aggregates; `candidate` carries that aggregate's name and field).
    pub fn new(candidate: AggregateConfig, column: usize) -> Self {
        Self {
            candidate,
            column,
            operators: BTreeMap::new(),
            report: ShadowReport::default(),
            stopped: None,
        }
    }

    /// What the candidate runs: its plugin and configuration.
    pub fn candidate(&self) -> &AggregateConfig {
        &self.candidate
    }

    /// The live aggregate it shadows (index among the pipeline's aggregates).
    pub fn column(&self) -> usize {
        self.column
    }

    /// The comparison so far.
    pub fn report(&self) -> &ShadowReport {
        &self.report
    }

    /// Why the candidate was stopped, if it was.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Stops the candidate for `reason`: its operators are dropped, the report stays.
    pub fn stop(&mut self, reason: String) {
        self.operators.clear();
        self.stopped.get_or_insert(reason);
    }

    /// Before `live` (the live operator under `key`) processes a batch: makes the candidate's
    /// operator beside it, if there is none.
    pub fn prepare(&mut self, key: u32, live: &Operator, loader: &dyn AggregatorLoader) {
        if self.stopped.is_some() || self.operators.contains_key(&key) {
            return;
        }
        match Aggregates::new(loader, std::slice::from_ref(&self.candidate)) {
            Ok(aggregates) => {
                let beside = Beside {
                    operator: live.beside(aggregates, self.column),
                    since: live.open_until(),
                };
                self.operators.insert(key, beside);
            }
            Err(error) => self.stop(error.to_string()),
        }
    }

    /// The candidate processes what the live operator under `key` processed from `partition`
    /// (see [`Operator::process`]) and its results are compared with `live`, the live
    /// results.
    pub fn process(
        &mut self,
        key: u32,
        partition: u32,
        batch: &DecodedBatch,
        source_offsets: &[i64],
        now_ms: i64,
        live: &[Emitted],
    ) {
        self.step(key, live, |operator| {
            operator.process(partition, batch, source_offsets, now_ms)
        });
    }

    /// After the live operator under `key` ticked at `now_ms` with results `live`.
    pub fn tick(&mut self, key: u32, now_ms: i64, live: &[Emitted]) {
        self.step(key, live, |operator| operator.tick(now_ms));
    }

    /// After the live operator under `key` closed (the input ended) with results `live`.
    pub fn close(&mut self, key: u32, live: &[Emitted]) {
        self.step(key, live, Operator::close);
    }

    /// The live operator under `key` was replaced or dropped (a rebalance, a restore, a
    /// rewind): the candidate's goes too, and is made again beside the next one.
    pub fn forget(&mut self, key: u32) {
        self.operators.remove(&key);
    }

    fn step(
        &mut self,
        key: u32,
        live: &[Emitted],
        run: impl FnOnce(&mut Operator) -> Result<crate::operator::Output, PluginError>,
    ) {
        if self.stopped.is_some() {
            return;
        }
        let Some(beside) = self.operators.get_mut(&key) else {
            // Nothing under this key since the run began: every live result is partial.
            self.report.compare(live, self.column, &[], 0, i64::MAX);
            return;
        };
        match run(&mut beside.operator) {
            Ok(out) => {
                let since = beside.since;
                self.report
                    .compare(live, self.column, &out.results, 0, since);
            }
            Err(error) => self.stop(error.to_string()),
        }
    }
}
