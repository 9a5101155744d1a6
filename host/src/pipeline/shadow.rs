//! Shadow runs in a running pipeline: a candidate version of an aggregate stage computes beside
//! the live one on the same events and groups, in instances of its own with the same limits;
//! its results are compared with the live ones and never written (see
//! [`eddy_engine::shadow`]). Shadow
//! state is not checkpointed: a restart, like a rebalance, begins the comparison again beside
//! the partitions' restored windows.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_engine::aggregate::Aggregates;
use eddy_engine::config::{AggregateConfig, StageId};
use eddy_engine::operator::{Operator, Output};
use eddy_engine::shadow::{ShadowReport, ShadowRun};
use serde_json::Value;

use super::{Pipeline, PipelineError};
use crate::plugin::Runtime;

/// One stage's shadow run and the registry version it runs.
struct Shadowing {
    digest: String,
    config: Option<Value>,
    run: ShadowRun,
    /// Whether its stop was logged.
    logged: bool,
}

impl Shadowing {
    /// Logs, once, why the candidate stopped.
    fn log_stop(&mut self, name: &str) {
        if let (false, Some(reason)) = (self.logged, self.run.stopped()) {
            tracing::warn!(stage = %StageId::Aggregate(name.to_string()), digest = %self.digest, %reason, "shadow run stopped: the live version goes on");
            self.logged = true;
        }
    }
}

/// A shadow run as the pipeline reports it.
#[derive(Debug, Clone)]
pub struct ShadowState {
    /// The stage, `aggregates.<name>`.
    pub stage: String,
    /// The candidate's registry version.
    pub digest: String,
    /// Its configuration as asked for (`None`: the stage's).
    pub config: Option<Value>,
    /// The comparison so far.
    pub report: ShadowReport,
    /// Why the candidate stopped, if it did.
    pub stopped: Option<String>,
}

/// The pipeline's shadow runs, by aggregate name.
pub(super) struct Shadows {
    runtime: Arc<Runtime>,
    runs: BTreeMap<String, Shadowing>,
}

impl Shadows {
    pub(super) fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            runtime,
            runs: BTreeMap::new(),
        }
    }

    /// Before the live operator under `key` processes a batch: the candidates are attached.
    pub(super) fn prepare(&mut self, key: u32, live: &mut Operator) {
        for (name, shadowing) in &mut self.runs {
            shadowing.run.prepare(key, live, self.runtime.as_ref());
            shadowing.log_stop(name);
        }
    }

    /// After the live operator under `key` made `out` (a batch, a tick, the end): compares.
    pub(super) fn observe(&mut self, key: u32, out: &Output) {
        for (name, shadowing) in &mut self.runs {
            shadowing.run.observe(key, out);
            shadowing.log_stop(name);
        }
    }

    /// The live operator under `key` was replaced or dropped.
    pub(super) fn forget(&mut self, key: u32) {
        for shadowing in self.runs.values_mut() {
            shadowing.run.forget(key);
        }
    }

    /// Names of the runs whose candidate stopped (to detach from the operators).
    pub(super) fn stopped(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|(_, s)| s.run.stopped().is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }
}

fn aggregate_name(stage: &StageId) -> Result<&str, PipelineError> {
    match stage {
        StageId::Aggregate(name) => Ok(name),
        StageId::Transform(_) => Err(PipelineError::SwapRefused(
            eddy_engine::aggregate::SwapRefused {
                plugin: stage.to_string(),
                reason: "shadow runs compare window results: only aggregate stages have them"
                    .into(),
            },
        )),
    }
}

impl Pipeline {
    /// Starts (or replaces) `stage`'s shadow run of `digest`, loaded from `source` and
    /// configured by `config` (default: the stage's configuration). A candidate that cannot
    /// be loaded or refuses its configuration makes a run stopped with the reason.
    pub fn start_shadow(
        &mut self,
        stage: &StageId,
        digest: &str,
        source: Result<String, String>,
        config: Option<&Value>,
    ) -> Result<(), PipelineError> {
        let name = aggregate_name(stage)?;
        let Some(column) = self.config.aggregates.iter().position(|a| a.name == name) else {
            return Err(PipelineError::SwapRefused(
                eddy_engine::aggregate::SwapRefused {
                    plugin: digest.to_string(),
                    reason: format!("no stage {stage}"),
                },
            ));
        };
        let live = &self.config.aggregates[column];
        let candidate = AggregateConfig {
            name: live.name.clone(),
            plugin: source.clone().unwrap_or_default(),
            field: live.field.clone(),
            config: config.cloned().unwrap_or_else(|| live.config.clone()),
        };
        let mut run = ShadowRun::new(candidate, column);
        let loaded = source.and_then(|_| {
            Aggregates::new(self.runtime.as_ref(), std::slice::from_ref(run.candidate()))
                .map(drop)
                .map_err(|e| e.to_string())
        });
        if let Err(reason) = loaded {
            tracing::warn!(%stage, digest, %reason, "shadow run cannot start");
            run.stop(reason);
        } else {
            tracing::info!(%stage, digest, "shadow run started");
        }
        let shadowing = Shadowing {
            digest: digest.to_string(),
            config: config.cloned(),
            logged: run.stopped().is_some(),
            run,
        };
        self.shadows.runs.insert(name.to_string(), shadowing);
        Ok(())
    }

    /// Ends `stage`'s shadow run; whether it had one.
    pub fn stop_shadow(&mut self, stage: &StageId) -> bool {
        let StageId::Aggregate(name) = stage else {
            return false;
        };
        let ended = self.shadows.runs.remove(name);
        for operator in self.operators.values_mut() {
            operator.detach(name);
        }
        if let Some(shadowing) = &ended {
            tracing::info!(%stage, digest = %shadowing.digest, report = ?shadowing.run.report(), "shadow run ended");
        }
        ended.is_some()
    }

    /// The registry version `stage`'s shadow run runs and its configuration as asked for;
    /// `Err` with the reason when the candidate stopped.
    pub fn shadow_candidate(
        &self,
        stage: &StageId,
    ) -> Option<Result<(String, Option<Value>), String>> {
        let StageId::Aggregate(name) = stage else {
            return None;
        };
        let shadowing = self.shadows.runs.get(name)?;
        Some(match shadowing.run.stopped() {
            Some(reason) => Err(reason.to_string()),
            None => Ok((shadowing.digest.clone(), shadowing.config.clone())),
        })
    }

    /// Every shadow run with its comparison so far.
    pub fn shadow_states(&self) -> Vec<ShadowState> {
        self.shadows
            .runs
            .iter()
            .map(|(name, shadowing)| ShadowState {
                stage: StageId::Aggregate(name.clone()).to_string(),
                digest: shadowing.digest.clone(),
                config: shadowing.config.clone(),
                report: shadowing.run.report().clone(),
                stopped: shadowing.run.stopped().map(String::from),
            })
            .collect()
    }
}
