//! A map or filter stage: a transform plugin instance that is replaced by a fresh one when it
//! traps, with the batch retried once before the trap policy applies.

use crate::config::{StageConfig, TrapPolicy};
use crate::event::RawBatch;
use crate::plugin::{Loaded, PluginError, Runtime, TransformPlugin};

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
    config: String,
    policy: TrapPolicy,
    instance: TransformPlugin,
    traps: u64,
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
            config,
            policy,
            instance,
            traps: 0,
        })
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
                    tracing::warn!(%error, retried, "transform plugin trapped; replacing the instance");
                    self.instance = TransformPlugin::new(runtime, &self.loaded, &self.config)?;
                    if retried {
                        return match self.policy {
                            TrapPolicy::DeadLetter => {
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
