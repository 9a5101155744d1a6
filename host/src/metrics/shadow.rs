//! Shadow runs as Prometheus metrics: how the candidate's results compared with the live
//! ones, the largest relative difference per output, and whether the candidate still runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use eddy_engine::shadow::ShadowReport;

/// A shadow run's results of one kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowResultLabels {
    /// The stage, `aggregates.<name>`.
    pub stage: String,
    /// The candidate's registry version.
    pub candidate: String,
    /// `equal`, `different`, `only_live`, `only_shadow` or `skipped`.
    pub outcome: &'static str,
}

/// One output of a shadow run.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowOutputLabels {
    /// The stage.
    pub stage: String,
    /// The candidate's registry version.
    pub candidate: String,
    /// The output (`name`, or `name.output` for plugins with named outputs).
    pub output: String,
}

/// A shadow run.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowLabels {
    /// The stage.
    pub stage: String,
    /// The candidate's registry version.
    pub candidate: String,
}

/// Shadow run metrics.
#[derive(Debug, Default)]
pub struct ShadowMetrics {
    results: Family<ShadowResultLabels, Counter>,
    largest: Family<ShadowOutputLabels, Gauge<f64, AtomicU64>>,
    running: Family<ShadowLabels, Gauge>,
    /// What the counters last counted, per run and outcome (reports count from the start of
    /// their run; the counters only go up).
    counted: Mutex<HashMap<ShadowResultLabels, u64>>,
}

impl ShadowMetrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "shadow_results",
            "Results of shadow runs compared with the live version's: equal, different, only_live, only_shadow, skipped (windows open when the run began)",
            self.results.clone(),
        );
        registry.register(
            "shadow_largest_difference",
            "Largest relative difference |a - b| / max(|a|, |b|) of a shadow run's results per output (+Inf: one side not a finite number)",
            self.largest.clone(),
        );
        registry.register(
            "shadow_running",
            "1 while a shadow run's candidate computes, 0 once it stopped (trap, limit, or it could not start)",
            self.running.clone(),
        );
    }

    /// Publishes the comparison so far of the run of `candidate` in `stage`.
    pub fn observe(&self, stage: &str, candidate: &str, report: &ShadowReport, running: bool) {
        let run = ShadowLabels {
            stage: stage.to_string(),
            candidate: candidate.to_string(),
        };
        self.running.get_or_create(&run).set(i64::from(running));
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        for (outcome, now) in [
            ("equal", report.equal),
            ("different", report.different),
            ("only_live", report.only_live),
            ("only_shadow", report.only_shadow),
            ("skipped", report.skipped),
        ] {
            let labels = ShadowResultLabels {
                stage: stage.to_string(),
                candidate: candidate.to_string(),
                outcome,
            };
            let before = counted.entry(labels.clone()).or_insert(0);
            // Fewer than before: a new run of the same candidate, counting from zero.
            let new = if now < *before { now } else { now - *before };
            self.results.get_or_create(&labels).inc_by(new);
            *before = now;
        }
        for (output, &difference) in &report.largest_difference {
            let labels = ShadowOutputLabels {
                stage: stage.to_string(),
                candidate: candidate.to_string(),
                output: output.clone(),
            };
            self.largest.get_or_create(&labels).set(difference);
        }
    }

    /// The run of `candidate` in `stage` ended: its running gauge goes, and a later run of
    /// the same candidate counts on from what this one counted.
    pub fn ended(&self, stage: &str, candidate: &str) {
        self.running.remove(&ShadowLabels {
            stage: stage.to_string(),
            candidate: candidate.to_string(),
        });
        self.counted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|labels, _| labels.stage != stage || labels.candidate != candidate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_reports_and_a_new_run_counts_from_zero() {
        let metrics = ShadowMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut report = ShadowReport {
            equal: 5,
            different: 1,
            ..ShadowReport::default()
        };
        report.largest_difference.insert("sum".into(), 0.25);
        metrics.observe("aggregates.sum", "abc", &report, true);
        report.equal = 8;
        metrics.observe("aggregates.sum", "abc", &report, true);
        // Stopped and started again: the new run's report starts from zero.
        let again = ShadowReport {
            equal: 2,
            ..ShadowReport::default()
        };
        metrics.observe("aggregates.sum", "abc", &again, false);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for line in [
            r#"shadow_results_total{stage="aggregates.sum",candidate="abc",outcome="equal"} 10"#,
            r#"shadow_results_total{stage="aggregates.sum",candidate="abc",outcome="different"} 1"#,
            r#"shadow_largest_difference{stage="aggregates.sum",candidate="abc",output="sum"} 0.25"#,
            r#"shadow_running{stage="aggregates.sum",candidate="abc"} 0"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        metrics.ended("aggregates.sum", "abc");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(!text.contains("shadow_running{"), "{text}");
    }
}
