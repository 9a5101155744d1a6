//! Changes asked for through the admin API (activations and rollbacks of plugin versions,
//! shadow runs), applied to a running pipeline between two batches.

use eddy_engine::config::StageId;

use super::{Pipeline, PipelineError};
use crate::plugin::{Change, Control, Kept, RegistryError, ShadowView, Target};

impl Pipeline {
    /// Applies the changes asked for through `control`, each between two batches. A change
    /// that fails is recorded with its error and changes nothing. The caller takes a
    /// checkpoint barrier first when its outputs are transactional.
    pub fn apply_changes(&mut self, control: &Control) -> Result<(), PipelineError> {
        for change in control.take() {
            let (stage, target, digest, rollback, promote) = match change {
                Change::Activate {
                    stage,
                    digest,
                    config,
                } => {
                    let target = control.registry().path(&digest).map(|p| Target {
                        source: p.display().to_string(),
                        config,
                    });
                    (stage, target, Some(digest), false, false)
                }
                Change::Rollback { stage } => {
                    let target = control.rollback_source(&stage).unwrap_or_else(|| {
                        Err(RegistryError::NotFound(format!(
                            "an earlier version of {stage}"
                        )))
                    });
                    (stage, target, None, true, false)
                }
                Change::Shadow {
                    stage,
                    digest,
                    config,
                } => {
                    let source = control.registry().path(&digest);
                    let source = source
                        .map(|p| p.display().to_string())
                        .map_err(|e| e.to_string());
                    if let Err(error) = self.start_shadow(&stage, &digest, source, config.as_ref())
                    {
                        control.record(&stage, Err(error.to_string()), false)?;
                    }
                    continue;
                }
                Change::StopShadow { stage } => {
                    self.stop_shadow(&stage);
                    continue;
                }
                Change::Promote { stage } => match self.shadow_candidate(&stage) {
                    Some(Ok((digest, config))) => {
                        let target = control.registry().path(&digest).map(|p| Target {
                            source: p.display().to_string(),
                            config,
                        });
                        (stage, target, Some(digest), false, true)
                    }
                    stopped => {
                        let error = match stopped {
                            Some(Err(reason)) => {
                                format!("the shadow run stopped ({reason}): nothing to promote")
                            }
                            _ => format!("stage {stage} has no shadow run to promote"),
                        };
                        control.record(&stage, Err(error), false)?;
                        continue;
                    }
                },
            };
            let outcome = self.switch(&stage, target, digest);
            if promote && outcome.is_ok() {
                self.stop_shadow(&stage);
            }
            control.record(&stage, outcome, rollback)?;
        }
        control.set_stages(&self.stages());
        publish_shadows(&self.shadow_states(), control);
        Ok(())
    }

    /// Switches `stage` to `target`; the activation to keep (for a registry `digest`), or
    /// why it failed.
    fn switch(
        &mut self,
        stage: &StageId,
        target: Result<Target, RegistryError>,
        digest: Option<String>,
    ) -> Result<Option<Kept>, String> {
        let target = target.map_err(|error| error.to_string())?;
        let _span = tracing::debug_span!("swap", %stage, source = %target.source).entered();
        match self.swap_with(stage, &target.source, target.config.as_ref()) {
            Ok(swapped) => {
                tracing::info!(%stage, source = %target.source, ?swapped, "plugin swapped");
                Ok(digest.map(|digest| Kept {
                    digest,
                    config: self.stage_config(stage),
                }))
            }
            Err(error) => {
                tracing::warn!(%stage, source = %target.source, %error, "plugin swap refused");
                Err(error.to_string())
            }
        }
    }

    /// The configuration `stage`'s plugin runs with.
    fn stage_config(&self, stage: &StageId) -> Option<serde_json::Value> {
        self.stages()
            .into_iter()
            .find(|run| &run.stage == stage)
            .map(|run| run.config)
    }
}

/// Shows shadow runs and their comparisons so far through `control`.
pub fn publish_shadows(states: &[super::ShadowState], control: &Control) {
    let views = states
        .iter()
        .map(|s| {
            let reason = s.stopped.as_deref();
            let view = ShadowView::of(&s.digest, s.config.clone(), &s.report, reason);
            (s.stage.clone(), view)
        })
        .collect();
    control.shadows().set(views);
}
