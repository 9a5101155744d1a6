//! Plugin versions in a running pipeline: how a new aggregate version takes over, putting new
//! versions in place, and what the stages run now (see [`crate::pipeline::swap`]).

use std::time::{Duration, Instant};

use eddy_engine::aggregate::{
    Aggregates, AggregatorInstance, AggregatorPlugin, PluginError, SwapError, Takeover,
};
use eddy_engine::config::{StageConfig, StageId};
use eddy_engine::operator::Operator;

use super::stages::TransformStage;
use super::{Pipeline, PipelineError, count_trap};

/// Time a round spends moving groups after a same-format swap (save and restore cost about
/// 200 ns a group: some 10 000 groups a round).
pub const MIGRATE_PER_ROUND: Duration = Duration::from_millis(2);

/// Groups per aggregate moved by one plugin call of a migration.
const MIGRATE_CHUNK: usize = 1_024;

impl Pipeline {
    /// How aggregate `index` of the operators would take over from `plugin`.
    pub fn takeover(&self, index: usize, plugin: &dyn AggregatorInstance) -> Option<Takeover> {
        self.operators
            .values()
            .next()
            .and_then(|o| o.aggregates().takeover(index, plugin))
    }

    /// Gives each operator one of `instances` (loaded from `source`) for aggregate `index`;
    /// operators are independent, so a migration still under way (ended before another
    /// swap) finishes on every core.
    pub fn swap_aggregates(
        &mut self,
        index: usize,
        instances: Vec<AggregatorPlugin>,
        source: &str,
        current_source: &str,
    ) -> Result<Option<Takeover>, PipelineError> {
        let work: Vec<(&mut Operator, AggregatorPlugin)> =
            self.operators.values_mut().zip(instances).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, work.len().max(1));
        let mut chunks: Vec<Vec<(&mut Operator, AggregatorPlugin)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (i, item) in work.into_iter().enumerate() {
            chunks[i % threads].push(item);
        }
        let results: Vec<Result<Option<Takeover>, SwapError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut takeover = None;
                        for (operator, plugin) in chunk {
                            takeover = Some(operator.swap_aggregate(
                                index,
                                plugin,
                                source,
                                current_source,
                            )?);
                        }
                        Ok(takeover)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(SwapError::Plugin(PluginError::Failed {
                            plugin: source.to_string(),
                            call: "swap",
                            message: "a swap thread panicked".into(),
                        }))
                    })
                })
                .collect()
        });
        let mut takeover = None;
        for result in results {
            takeover = takeover.or(result?);
        }
        Ok(takeover)
    }

    /// Moves groups for about [`MIGRATE_PER_ROUND`] from a previous version to the one a
    /// same-format swap put in place (the groups a batch touches move before it on their
    /// own); call it once per round. Returns how many groups are still to move.
    pub fn migrate(&mut self) -> Result<usize, PipelineError> {
        let started = Instant::now();
        let mut left = 0;
        for operator in self.operators.values_mut() {
            let mut remaining = operator.aggregates().migrating();
            while remaining > 0 && started.elapsed() < MIGRATE_PER_ROUND {
                remaining = count_trap(&mut self.stats, operator.migrate(MIGRATE_CHUNK))?;
            }
            left += remaining;
        }
        Ok(left)
    }

    /// Groups whose state a previous version (same state format) still holds after a swap.
    pub fn migrating(&self) -> usize {
        self.operators
            .values()
            .map(|o| o.aggregates().migrating())
            .sum()
    }

    /// From now on aggregate `index` is loaded from `source`, configured by `config` when
    /// given (operators made later, restores).
    pub fn set_aggregate_plugin(
        &mut self,
        index: usize,
        source: &str,
        config: Option<&serde_json::Value>,
    ) -> Result<(), PipelineError> {
        if let Some(aggregate) = self.config.aggregates.get_mut(index) {
            aggregate.plugin = source.to_string();
            if let Some(config) = config {
                aggregate.config = config.clone();
            }
        }
        self.spare = None;
        if self.per_partition {
            self.spare = Some(Operator::new(
                &self.config,
                Aggregates::new(self.runtime.as_ref(), &self.config.aggregates)?,
            ));
        }
        Ok(())
    }

    /// The aggregates' state formats (what a checkpoint must have been made by to be
    /// restored here).
    pub fn state_formats(&self) -> Vec<String> {
        self.operators
            .values()
            .chain(self.spare.as_ref())
            .next()
            .map(|o| o.aggregates().state_formats())
            .unwrap_or_default()
    }

    /// The names (from `describe()`) of the plugins the aggregates currently run.
    pub fn aggregate_plugins(&self) -> Vec<String> {
        self.operators
            .values()
            .chain(self.spare.as_ref())
            .next()
            .map(|o| o.aggregates().plugin_names())
            .unwrap_or_default()
    }

    /// Stages (`aggregates.<name>`) whose current version is the plugin named `plugin`.
    pub fn aggregates_running(&self, plugin: &str) -> Vec<StageId> {
        self.operators
            .values()
            .chain(self.spare.as_ref())
            .next()
            .map(|o| o.aggregates().running(plugin))
            .unwrap_or_default()
            .into_iter()
            .map(eddy_engine::config::StageId::Aggregate)
            .collect()
    }

    /// Replaces transform `index` with `stage`, configured by `config`; the stage goes back
    /// to the one it replaces if it traps too often (`plugins.rollback_traps`).
    pub fn replace_transform(&mut self, index: usize, stage: TransformStage, config: StageConfig) {
        if let Some(slot) = self.transforms.get_mut(index) {
            let previous = std::mem::replace(slot, stage);
            slot.replacing(
                previous,
                self.config.plugins.rollback_traps,
                self.config.plugins.rollback_window,
            );
        }
        if let Some(slot) = self.config.transforms.get_mut(index) {
            *slot = config;
        }
    }
}
