//! Shadow runs as the admin API shows them: per aggregate stage, the candidate version asked
//! for or running beside the live one, and how their results compared so far.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use eddy_engine::shadow::ShadowReport;

/// Where a shadow run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShadowStatus {
    /// Asked for; starts at the pipeline's next checkpoint barrier.
    Pending,
    /// The candidate computes beside the live version.
    Running,
    /// The candidate failed (it could not start, trapped or exceeded a limit): `reason` says
    /// why. Its comparison so far stays until the run is stopped or replaced.
    Stopped,
}

/// A shadow run of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowView {
    /// The candidate: a registry version.
    pub digest: String,
    /// Its configuration (`None`: the stage's).
    #[serde(default)]
    pub config: Option<Value>,
    /// Where the run is.
    pub status: ShadowStatus,
    /// Why it stopped, when it did (a trap without its backtrace).
    #[serde(default)]
    pub reason: Option<String>,
    /// Results both versions made with the same values.
    pub equal: u64,
    /// Results both made with different values.
    pub different: u64,
    /// Results only the live version made.
    pub only_live: u64,
    /// Results only the candidate made.
    pub only_shadow: u64,
    /// Results of windows that were open when the run began (partial in the candidate), not
    /// compared.
    pub skipped: u64,
    /// Per output, the largest relative difference, `|a - b| / max(|a|, |b|)`; `null` when
    /// one side was not a finite number and the other was.
    pub largest_difference: BTreeMap<String, Option<f64>>,
}

impl ShadowView {
    /// A run asked for and not started yet.
    pub fn pending(digest: &str, config: Option<Value>) -> Self {
        Self {
            digest: digest.to_string(),
            config,
            status: ShadowStatus::Pending,
            reason: None,
            equal: 0,
            different: 0,
            only_live: 0,
            only_shadow: 0,
            skipped: 0,
            largest_difference: BTreeMap::new(),
        }
    }

    /// A run with its comparison so far; stopped for `reason` when there is one.
    pub fn of(
        digest: &str,
        config: Option<Value>,
        report: &ShadowReport,
        reason: Option<&str>,
    ) -> Self {
        Self {
            status: match reason {
                Some(_) => ShadowStatus::Stopped,
                None => ShadowStatus::Running,
            },
            reason: reason.map(short_reason),
            equal: report.equal,
            different: report.different,
            only_live: report.only_live,
            only_shadow: report.only_shadow,
            skipped: report.skipped,
            largest_difference: report
                .largest_difference
                .iter()
                .map(|(output, &d)| (output.clone(), d.is_finite().then_some(d)))
                .collect(),
            ..Self::pending(digest, config)
        }
    }
}

/// A candidate's trap without wasmtime's backtrace (the log has it whole): what trapped,
/// where, and wasmtime's last word.
fn short_reason(reason: &str) -> String {
    match reason.split_once(" error while executing at wasm backtrace:") {
        Some((head, backtrace)) => {
            let root = backtrace.rsplit("wasm trap: ").next().unwrap_or_default();
            format!("{head} wasm trap: {}", root.trim())
        }
        None => reason.to_string(),
    }
}

/// The shadow runs by stage (`aggregates.<name>`), shared by the admin API and the pipeline.
#[derive(Debug, Default)]
pub struct Shadows {
    views: Mutex<BTreeMap<String, ShadowView>>,
}

impl Shadows {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ShadowView>> {
        self.views.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run of `stage`, if there is one.
    pub fn get(&self, stage: &str) -> Option<ShadowView> {
        self.lock().get(stage).cloned()
    }

    /// Every run, by stage.
    pub fn all(&self) -> BTreeMap<String, ShadowView> {
        self.lock().clone()
    }

    /// `stage`'s run is asked for (or replaced), or it is asked to go (`None`).
    pub fn asked(&self, stage: &str, view: Option<ShadowView>) {
        let mut views = self.lock();
        match view {
            Some(view) => views.insert(stage.to_string(), view),
            None => views.remove(stage),
        };
    }

    /// The runs the pipeline has now, by stage; runs asked for and not applied yet stay.
    pub fn set(&self, running: BTreeMap<String, ShadowView>) {
        let mut views = self.lock();
        views.retain(|stage, view| {
            view.status == ShadowStatus::Pending && !running.contains_key(stage)
        });
        views.extend(running);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trap_reason_keeps_what_trapped_and_why_without_the_backtrace() {
        let trap = "plugin `sum` trapped in `accumulate`: error while executing at wasm backtrace:\n    0:   0xdb5f - x.wasm!abort\n   12:   0x40a3 - x.wasm!eddy:plugin/aggregate@0.1.0#accumulate: wasm trap: wasm `unreachable` instruction executed";
        assert_eq!(
            short_reason(trap),
            "plugin `sum` trapped in `accumulate`: wasm trap: wasm `unreachable` instruction executed"
        );
        let limit = "plugin `x` trapped in `finish`: exceeded its time limit";
        assert_eq!(short_reason(limit), limit);
    }
}
