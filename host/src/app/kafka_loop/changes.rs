//! Changes from the admin API in the Kafka loop: taken at a checkpoint barrier (every result
//! so far acknowledged or committed, the state saved with the versions that made it); and
//! rollbacks of versions that trapped.

use super::KafkaRun;
use crate::pipeline::PipelineError;
use crate::plugin::PluginError;

impl KafkaRun {
    /// Records transforms that went back to their previous version on their own (they
    /// trapped too often): counted, and kept beside the registry like a rollback asked for.
    pub(super) fn record_rollbacks(&mut self) -> Result<(), PipelineError> {
        let rolled_back = self.pipeline.take_rollbacks();
        if rolled_back.is_empty() {
            return Ok(());
        }
        for index in rolled_back {
            self.metrics.rollbacks.inc();
            if let Some(control) = &self.control {
                let stage = eddy_engine::config::StageId::Transform(index);
                control.record_automatic_rollback(
                    &stage,
                    "rolled back automatically: the version trapped plugins.rollback_traps times within plugins.rollback_window".into(),
                )?;
            }
        }
        if let Some(control) = &self.control {
            control.set_stages(&self.pipeline.stages());
        }
        Ok(())
    }

    /// Takes a checkpoint (with at-least-once the loop only collects it: see
    /// [`KafkaRun::barrier_checkpoint`]), then applies the changes asked for (see
    /// [`Pipeline::apply_changes`]).
    pub(super) fn apply_changes(&mut self) -> Result<(), PipelineError> {
        let Some(control) = self.control.clone() else {
            return Ok(());
        };
        self.barrier_checkpoint()?;
        self.pipeline.apply_changes(&control)?;
        self.consumer.set_formats(self.pipeline.state_formats());
        Ok(())
    }

    /// An aggregator trap stops the pipeline (the groups' state died with the instance).
    /// When the trapping version was activated through the admin API, the stage is rolled
    /// back first, so the restarted host runs the version before it (recovering from a
    /// checkpoint that version made, or from the committed progress).
    pub(super) fn roll_back_trapped_aggregator(&mut self, error: &PipelineError) {
        let (Some(control), PipelineError::Plugin(PluginError::Trap { plugin, .. })) =
            (&self.control, error)
        else {
            return;
        };
        for stage in self.pipeline.aggregates_running(plugin) {
            if control.rollback_source(&stage).is_none() {
                continue;
            }
            let reason = format!("rolled back automatically: {plugin} trapped ({error})");
            match control.record_automatic_rollback(&stage, reason) {
                Ok(()) => {
                    self.metrics.rollbacks.inc();
                    tracing::error!(%stage, %plugin, "activated aggregator trapped: rolled back for the restart");
                }
                Err(e) => tracing::error!(%stage, error = %e, "recording the rollback failed"),
            }
        }
    }
}
