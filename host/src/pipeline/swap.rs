//! Hot swap: a pipeline stage (`aggregates.<name>` or `transforms.<index>`) switches to another
//! plugin version between two batches — at a checkpoint barrier when the caller takes one
//! first — so no event is lost or counted twice. An aggregate's open windows keep their state
//! when the new version has the same plugin name and state format (each group moves to it
//! before it is next used, the rest a chunk a round through [`Pipeline::migrate`], so the
//! swap's pause does not grow with the state); otherwise the current version finishes the
//! windows it has open and new windows use the new one.

use eddy_engine::aggregate::{AggregatorPlugin, SwapRefused, Takeover};
use eddy_engine::config::{StageConfig, StageId, WindowConfig};

use super::stages::TransformStage;
use super::{Pipeline, PipelineError};
use crate::plugin::{StagePlugin, WasmAggregator};

/// What a swap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swapped {
    /// A transform now runs the new version.
    Transform,
    /// An aggregate now runs the new version.
    Aggregate(Takeover),
}

fn refused(source: &str, reason: impl Into<String>) -> PipelineError {
    PipelineError::SwapRefused(SwapRefused {
        plugin: source.to_string(),
        reason: reason.into(),
    })
}

impl Pipeline {
    /// Every stage that runs a plugin, with where its plugin is loaded from and its
    /// configuration.
    pub fn stages(&self) -> Vec<StagePlugin> {
        let config = self.config();
        let aggregates = config.aggregates.iter().map(|a| StagePlugin {
            stage: StageId::Aggregate(a.name.clone()),
            plugin: a.plugin.clone(),
            config: a.config.clone(),
        });
        let transforms = config
            .transforms
            .iter()
            .enumerate()
            .map(|(i, t)| StagePlugin {
                stage: StageId::Transform(i),
                plugin: t.plugin.clone(),
                config: t.config.clone(),
            });
        aggregates.chain(transforms).collect()
    }

    /// Switches `stage` to the plugin at `source` (a built-in name or a `.wasm` path) now,
    /// between two batches, with the configuration it has. Nothing changes when it fails.
    pub fn swap(&mut self, stage: &StageId, source: &str) -> Result<Swapped, PipelineError> {
        self.swap_with(stage, source, None)
    }

    /// Like [`Pipeline::swap`], configuring the new version with `config` when given (the
    /// stage's configuration is then `config` from now on).
    pub fn swap_with(
        &mut self,
        stage: &StageId,
        source: &str,
        config: Option<&serde_json::Value>,
    ) -> Result<Swapped, PipelineError> {
        let new_config = config;
        match stage {
            StageId::Transform(index) => {
                let Some(current) = self.config().transforms.get(*index).cloned() else {
                    return Err(refused(source, format!("no stage {stage}")));
                };
                let config = StageConfig {
                    plugin: source.to_string(),
                    config: new_config.cloned().unwrap_or(current.config),
                };
                let new =
                    TransformStage::new(self.runtime(), &config, self.config().plugins.on_trap)?;
                self.replace_transform(*index, new, config);
                Ok(Swapped::Transform)
            }
            StageId::Aggregate(name) => {
                let Some(index) = self
                    .config()
                    .aggregates
                    .iter()
                    .position(|a| &a.name == name)
                else {
                    return Err(refused(source, format!("no stage {stage}")));
                };
                let aggregate = self.config().aggregates[index].clone();
                let loaded = self.runtime().load(source)?;
                let config = new_config.unwrap_or(&aggregate.config).to_string();
                let count = self.operator_count();
                let mut instances: Vec<AggregatorPlugin> = Vec::with_capacity(count);
                for _ in 0..count {
                    instances.push(Box::new(WasmAggregator::new(
                        self.runtime(),
                        &loaded,
                        &config,
                    )?));
                }
                let takeover = match instances.first() {
                    Some(probe) => self.takeover(index, probe.as_ref()),
                    None => None,
                };
                if takeover == Some(Takeover::Retire)
                    && matches!(self.config().window, WindowConfig::Session { .. })
                {
                    return Err(refused(
                        source,
                        "session windows merge groups across versions: a new version needs the same plugin name and state format",
                    ));
                }
                let takeover = self.swap_aggregates(index, instances, source, &aggregate.plugin)?;
                self.set_aggregate_plugin(index, source, new_config)?;
                Ok(Swapped::Aggregate(takeover.unwrap_or(Takeover::State)))
            }
        }
    }
}
