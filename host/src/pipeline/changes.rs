//! Changes asked for through the admin API (activations and rollbacks of plugin versions),
//! applied to a running pipeline between two batches.

use super::{Pipeline, PipelineError};
use crate::plugin::{Change, Control};

impl Pipeline {
    /// Applies the changes asked for through `control`, each between two batches. A change
    /// that fails is recorded with its error and changes nothing. The caller takes a
    /// checkpoint barrier first when its outputs are transactional.
    pub fn apply_changes(&mut self, control: &Control) -> Result<(), PipelineError> {
        for change in control.take() {
            let (stage, target, rollback) = match change {
                Change::Activate { stage, digest } => {
                    let path = control.registry().path(&digest);
                    (
                        stage,
                        path.map(|p| (p.display().to_string(), Some(digest))),
                        false,
                    )
                }
                Change::Rollback { stage } => {
                    let source = match control.rollback_source(&stage) {
                        Some(source) => source.map(|s| (s, None)),
                        None => Err(crate::plugin::RegistryError::NotFound(format!(
                            "an earlier version of {stage}"
                        ))),
                    };
                    (stage, source, true)
                }
            };
            let outcome = match target {
                Err(error) => Err(error.to_string()),
                Ok((source, digest)) => match self.swap(&stage, &source) {
                    Ok(swapped) => {
                        tracing::info!(%stage, %source, ?swapped, rollback, "plugin swapped");
                        Ok(digest)
                    }
                    Err(error) => {
                        tracing::warn!(%stage, %source, %error, "plugin swap refused");
                        Err(error.to_string())
                    }
                },
            };
            control.record(&stage, outcome, rollback)?;
        }
        control.set_stages(&self.stages());
        Ok(())
    }
}
