//! Changes asked for through the admin API (activations and rollbacks of plugin versions),
//! applied to a running pipeline between two batches.

use eddy_engine::config::StageId;

use super::{Pipeline, PipelineError};
use crate::plugin::{Change, Control, Kept, RegistryError, Target};

impl Pipeline {
    /// Applies the changes asked for through `control`, each between two batches. A change
    /// that fails is recorded with its error and changes nothing. The caller takes a
    /// checkpoint barrier first when its outputs are transactional.
    pub fn apply_changes(&mut self, control: &Control) -> Result<(), PipelineError> {
        for change in control.take() {
            let (stage, target, digest, rollback) = match change {
                Change::Activate {
                    stage,
                    digest,
                    config,
                } => {
                    let target = control.registry().path(&digest).map(|p| Target {
                        source: p.display().to_string(),
                        config,
                    });
                    (stage, target, Some(digest), false)
                }
                Change::Rollback { stage } => {
                    let target = control.rollback_source(&stage).unwrap_or_else(|| {
                        Err(RegistryError::NotFound(format!(
                            "an earlier version of {stage}"
                        )))
                    });
                    (stage, target, None, true)
                }
            };
            let outcome = match target {
                Err(error) => Err(error.to_string()),
                Ok(target) => {
                    match self.swap_with(&stage, &target.source, target.config.as_ref()) {
                        Ok(swapped) => {
                            tracing::info!(%stage, source = %target.source, ?swapped, rollback, "plugin swapped");
                            Ok(digest.map(|digest| Kept {
                                digest,
                                config: self.stage_config(&stage),
                            }))
                        }
                        Err(error) => {
                            tracing::warn!(%stage, source = %target.source, %error, "plugin swap refused");
                            Err(error.to_string())
                        }
                    }
                }
            };
            control.record(&stage, outcome, rollback)?;
        }
        control.set_stages(&self.stages());
        Ok(())
    }

    /// The configuration `stage`'s plugin runs with.
    fn stage_config(&self, stage: &StageId) -> Option<serde_json::Value> {
        self.stages()
            .into_iter()
            .find(|run| &run.stage == stage)
            .map(|run| run.config)
    }
}
