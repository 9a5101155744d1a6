//! A map or filter stage: a transform plugin instance that is replaced by a fresh one when it
//! traps, with the batch retried once before the trap policy applies. A stage whose version
//! was activated over a previous one keeps that one, and goes back to it when the new one
//! traps too often (or traps twice on a batch under the `rollback` policy).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::plugin::{Loaded, PluginError, Runtime, TransformPlugin};
use eddy_engine::config::{StageConfig, TrapPolicy};
use eddy_engine::event::RawBatch;

/// What a stage made of a batch.
#[derive(Debug)]
pub enum StageOutcome {
    /// The batch that comes out.
    Passed(RawBatch),
    /// The input batch goes to the dead-letter output for this reason.
    DeadLetter(String),
}

/// A transform stage.
pub struct TransformStage {
    loaded: Loaded,
    source: StageConfig,
    config: String,
    policy: TrapPolicy,
    instance: TransformPlugin,
    traps: u64,
    previous: Option<Box<TransformStage>>,
    recent_traps: VecDeque<Instant>,
    rollback_traps: u32,
    rollback_window: Duration,
    rolled_back: bool,
}

impl TransformStage {
    /// Loads and configures the stage's plugin.
    pub fn new(
        runtime: &Runtime,
        stage: &StageConfig,
        policy: TrapPolicy,
    ) -> Result<Self, PluginError> {
        let loaded = runtime.load(&stage.plugin)?;
        let config = stage.config.to_string();
        let instance = TransformPlugin::new(runtime, &loaded, &config)?;
        Ok(Self {
            loaded,
            source: stage.clone(),
            config,
            policy,
            instance,
            traps: 0,
            previous: None,
            recent_traps: VecDeque::new(),
            rollback_traps: u32::MAX,
            rollback_window: Duration::ZERO,
            rolled_back: false,
        })
    }

    /// This stage replaces `previous`: it goes back to it after `traps` traps within
    /// `window`, or under the `rollback` policy.
    pub fn replacing(&mut self, previous: TransformStage, traps: u32, window: Duration) {
        self.previous = Some(Box::new(previous));
        self.rollback_traps = traps.max(1);
        self.rollback_window = window;
    }

    /// What the stage runs: plugin and configuration.
    pub fn source(&self) -> &StageConfig {
        &self.source
    }

    /// Whether the stage went back to its previous version since the last call.
    pub fn take_rolled_back(&mut self) -> bool {
        std::mem::take(&mut self.rolled_back)
    }

    /// Goes back to the previous version, if there is one.
    fn roll_back(&mut self, reason: &PluginError) -> bool {
        let Some(previous) = self.previous.take() else {
            return false;
        };
        tracing::error!(
            error = %reason,
            from = %self.source.plugin,
            to = %previous.source.plugin,
            "transform version rolled back"
        );
        let traps = self.traps;
        *self = *previous;
        self.traps += traps;
        self.rolled_back = true;
        true
    }

    /// Traps of this stage's plugin so far.
    pub fn traps(&self) -> u64 {
        self.traps
    }

    /// Runs the plugin over `batch`. A plugin error sends the batch to dead-letter; a trap is
    /// retried once on a fresh instance, and a second trap applies the trap policy.
    pub fn process(
        &mut self,
        runtime: &Runtime,
        batch: &RawBatch,
    ) -> Result<StageOutcome, PluginError> {
        let mut retried = false;
        loop {
            match self.instance.process(batch) {
                Ok(out) => return Ok(StageOutcome::Passed(out)),
                Err(error @ PluginError::Failed { .. }) => {
                    return Ok(StageOutcome::DeadLetter(error.to_string()));
                }
                Err(error @ PluginError::Trap { .. }) => {
                    self.traps += 1;
                    let now = Instant::now();
                    self.recent_traps.push_back(now);
                    while self
                        .recent_traps
                        .front()
                        .is_some_and(|t| now.duration_since(*t) > self.rollback_window)
                    {
                        self.recent_traps.pop_front();
                    }
                    let too_often = self.recent_traps.len() >= self.rollback_traps as usize;
                    let by_policy = retried && self.policy == TrapPolicy::Rollback;
                    if (too_often || by_policy) && self.roll_back(&error) {
                        retried = false;
                        continue;
                    }
                    tracing::warn!(%error, retried, "transform plugin trapped; replacing the instance");
                    self.instance = TransformPlugin::new(runtime, &self.loaded, &self.config)?;
                    if retried {
                        return match self.policy {
                            TrapPolicy::DeadLetter | TrapPolicy::Rollback => {
                                Ok(StageOutcome::DeadLetter(error.to_string()))
                            }
                            TrapPolicy::Stop => Err(error),
                        };
                    }
                    retried = true;
                }
                Err(error) => return Err(error),
            }
        }
    }
}
