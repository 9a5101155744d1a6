//! Publishing the pipeline's shadow runs: to the admin API (`GET /v1/pipelines`) and as
//! metrics, on the loops' ticks.

use std::collections::BTreeSet;

use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::plugin::Control;

/// The runs published last, as (stage, candidate).
#[derive(Debug, Default)]
pub struct Published {
    runs: BTreeSet<(String, String)>,
}

impl Published {
    /// Publishes `pipeline`'s shadow runs to `control` (when the admin API runs) and
    /// `metrics`; runs that ended since the last call leave the metrics.
    pub fn publish(&mut self, pipeline: &Pipeline, control: Option<&Control>, metrics: &Metrics) {
        let states = pipeline.shadow_states();
        if let Some(control) = control {
            crate::pipeline::publish_shadows(&states, control);
        }
        if states.is_empty() && self.runs.is_empty() {
            return;
        }
        let mut now = BTreeSet::new();
        for state in &states {
            let running = state.stopped.is_none();
            metrics
                .shadow
                .observe(&state.stage, &state.digest, &state.report, running);
            now.insert((state.stage.clone(), state.digest.clone()));
        }
        for (stage, candidate) in self.runs.difference(&now) {
            metrics.shadow.ended(stage, candidate);
        }
        self.runs = now;
    }
}
