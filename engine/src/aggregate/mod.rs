//! The configured aggregates of a pipeline, driven together over batches of events, and the
//! plugin interface they are reached through ([`AggregatorInstance`]).

mod error;
mod instance;
mod migrating;
mod retiring;

pub use error::{PluginError, SwapError, SwapRefused};
pub use instance::{AggregatorInstance, AggregatorLoader, PluginInfo, PluginKind};
use migrating::Migrating;
use retiring::Retiring;

use crate::config::AggregateConfig;

/// A configured plugin instance, as the engine holds it.
pub type AggregatorPlugin = Box<dyn AggregatorInstance>;

/// One named aggregate and its plugin instance.
struct Named {
    name: String,
    plugin: AggregatorPlugin,
    /// The previous version, after a swap to another state format, with the groups it
    /// finishes.
    retiring: Option<Retiring>,
    /// The previous version, after a swap to the same state format, while it still holds
    /// groups that have not moved.
    migrating: Option<Migrating>,
}

impl Named {
    /// Moves the groups among `slots` that the previous version still holds (after a swap
    /// to the same state format) to the current version, before it works on them.
    fn take_over(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        if let Some(migrating) = &mut self.migrating {
            migrating.take(self.plugin.as_mut(), slots)?;
            self.end_migration();
        }
        Ok(())
    }

    /// Moves up to `budget` groups still held by the previous version; returns how many
    /// are still held after.
    fn migrate(&mut self, budget: usize) -> Result<usize, PluginError> {
        let Some(migrating) = &mut self.migrating else {
            return Ok(0);
        };
        migrating.step(self.plugin.as_mut(), budget)?;
        let left = migrating.len();
        self.end_migration();
        Ok(left)
    }

    /// Drops the previous version once it holds no group.
    fn end_migration(&mut self) {
        if self.migrating.as_ref().is_some_and(Migrating::is_empty) {
            self.migrating = None;
            tracing::debug!(aggregate = %self.name, "every open group moved to the new plugin version");
        }
    }
}

/// How a new plugin version took over an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Same plugin name and state format: the open groups' state moved to the new version.
    State,
    /// Another state format: the previous version finishes the groups it has open; new
    /// groups use the new version.
    Retire,
}

/// The previous version's part of a snapshot: which groups it owns, and their state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedRetiring {
    /// Index of the aggregate.
    pub aggregate: u32,
    /// Where the previous version is loaded from.
    pub source: String,
    /// Indices (into the saved slots) of the groups it owns.
    pub groups: Vec<u32>,
    /// Their state, in the order of `groups`.
    pub column: SavedColumn,
}

/// Results of a set of groups: per aggregate, its output names and the values row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    /// Per aggregate: result field name, output names, values (`slots × outputs`).
    pub columns: Vec<(String, Vec<String>, Vec<f64>)>,
}

impl Finished {
    /// Appends the values of `other` (the same aggregates, for groups after these).
    pub fn append(&mut self, other: Finished) {
        if self.columns.is_empty() {
            *self = other;
            return;
        }
        for (column, (_, _, values)) in self.columns.iter_mut().zip(other.columns) {
            column.2.extend(values);
        }
    }
}

/// Saved state of one aggregate for a list of groups.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedColumn {
    /// Concatenated states. Serialised as one byte string (postcard writes the same bytes as
    /// for a sequence of `u8`, but copies them at once instead of one call per byte).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// `groups + 1` offsets into `data`.
    pub offsets: Vec<u32>,
}

impl SavedColumn {
    /// Whether this column holds the states of `groups` groups: `groups + 1` offsets, from 0,
    /// never decreasing, the last one the end of `data`.
    pub fn fits(&self, groups: usize) -> bool {
        self.offsets.len() == groups + 1
            && self.offsets.first() == Some(&0)
            && self.offsets.windows(2).all(|pair| pair[0] <= pair[1])
            && self.offsets.last().map(|&end| end as usize) == Some(self.data.len())
    }
}

/// A merge: target and source slot.
type Pair = (u32, u32);

/// All aggregates of a pipeline.
pub struct Aggregates {
    named: Vec<Named>,
    slots: Vec<u32>,
    values: Vec<f64>,
}

impl Aggregates {
    /// Loads and configures every aggregate in `configs`.
    pub fn new(
        loader: &dyn AggregatorLoader,
        configs: &[AggregateConfig],
    ) -> Result<Self, PluginError> {
        let mut named = Vec::with_capacity(configs.len());
        for config in configs {
            let plugin = loader.load_aggregator(&config.plugin, &config.config.to_string())?;
            named.push(Named {
                name: config.name.clone(),
                plugin,
                retiring: None,
                migrating: None,
            });
        }
        Ok(Self {
            named,
            slots: Vec::new(),
            values: Vec::new(),
        })
    }

    /// Adds a batch: event `i` goes to group `slots[i]` with value `values[a][rows[i]]` for
    /// aggregate `a`; NaN values (the event lacks the field) are skipped.
    pub fn accumulate(
        &mut self,
        slots: &[u32],
        rows: &[u32],
        values: &[Vec<f64>],
    ) -> Result<(), PluginError> {
        for (named, column) in self.named.iter_mut().zip(values) {
            self.slots.clear();
            self.values.clear();
            for (&slot, &row) in slots.iter().zip(rows) {
                let value = column[row as usize];
                if !value.is_nan() {
                    self.slots.push(slot);
                    self.values.push(value);
                }
            }
            if self.slots.is_empty() {
                continue;
            }
            named.take_over(&self.slots)?;
            match &mut named.retiring {
                None => named.plugin.accumulate(&self.slots, &self.values)?,
                Some(retiring) => {
                    let (mut old, mut new) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
                    for (&slot, &value) in self.slots.iter().zip(&self.values) {
                        let side = if retiring.owns(slot) {
                            &mut old
                        } else {
                            &mut new
                        };
                        side.0.push(slot);
                        side.1.push(value);
                    }
                    if !old.0.is_empty() {
                        retiring.plugin.accumulate(&old.0, &old.1)?;
                    }
                    if !new.0.is_empty() {
                        named.plugin.accumulate(&new.0, &new.1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Merges group `sources[i]` into `targets[i]`, in order, in every plugin.
    pub fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        for named in &mut self.named {
            if named.migrating.is_some() {
                named.take_over(targets)?;
                named.take_over(sources)?;
            }
            if let Some(retiring) = &mut named.retiring {
                let mixed = targets
                    .iter()
                    .zip(sources)
                    .any(|(t, s)| retiring.owns(*t) != retiring.owns(*s));
                if mixed {
                    return Err(PluginError::Failed {
                        plugin: named.plugin.info().name.clone(),
                        call: "merge",
                        message: "a merge across plugin versions of different state formats".into(),
                    });
                }
                let (old, new): (Vec<Pair>, Vec<Pair>) = targets
                    .iter()
                    .copied()
                    .zip(sources.iter().copied())
                    .partition(|(t, _)| retiring.owns(*t));
                if !old.is_empty() {
                    let (t, s): (Vec<u32>, Vec<u32>) = old.into_iter().unzip();
                    retiring.plugin.merge(&t, &s)?;
                }
                if !new.is_empty() {
                    let (t, s): (Vec<u32>, Vec<u32>) = new.into_iter().unzip();
                    named.plugin.merge(&t, &s)?;
                }
            } else {
                named.plugin.merge(targets, sources)?;
            }
        }
        Ok(())
    }

    /// Results of the groups in `slots`.
    pub fn finish(&mut self, slots: &[u32]) -> Result<Finished, PluginError> {
        let mut columns = Vec::with_capacity(self.named.len());
        for named in &mut self.named {
            let outputs = named.plugin.outputs().len();
            named.take_over(slots)?;
            let values = match &mut named.retiring {
                None => named.plugin.finish(slots)?,
                Some(retiring) => retiring.finish(named.plugin.as_mut(), slots, outputs)?,
            };
            columns.push((named.name.clone(), named.plugin.outputs().to_vec(), values));
        }
        Ok(Finished { columns })
    }

    /// Each aggregate's result field name and output names (one empty name: a single value).
    pub fn outputs(&self) -> Vec<(String, Vec<String>)> {
        self.named
            .iter()
            .map(|n| (n.name.clone(), n.plugin.outputs().to_vec()))
            .collect()
    }

    /// Each aggregate's identity for saved state: `<result name>/<plugin name>/<state format>`.
    /// State saved under one identity is only restored under the same one.
    pub fn state_formats(&self) -> Vec<String> {
        self.named
            .iter()
            .map(|n| {
                let info = n.plugin.info();
                format!("{}/{}/{}", n.name, info.name, info.state_format)
            })
            .collect()
    }

    /// Whether a previous version still finishes some groups after a swap (their state is
    /// then saved whole at every checkpoint).
    pub fn has_retiring(&self) -> bool {
        self.named.iter().any(|n| n.retiring.is_some())
    }

    /// Each aggregate's plugin version: `<result name>=<plugin name>@<version>`.
    pub fn versions(&self) -> Vec<String> {
        self.named
            .iter()
            .map(|n| {
                let info = n.plugin.info();
                format!("{}={}@{}", n.name, info.name, info.version)
            })
            .collect()
    }

    /// The state of the groups in `slots`, per aggregate: the bytes of slot `i` are
    /// `data[offsets[i]..offsets[i + 1]]`.
    pub fn save(&mut self, slots: &[u32]) -> Result<Vec<SavedColumn>, PluginError> {
        let mut saved = Vec::with_capacity(self.named.len());
        for named in &mut self.named {
            saved.push(match &mut named.migrating {
                None => named.plugin.save(slots)?,
                Some(migrating) => migrating.save(named.plugin.as_mut(), slots)?,
            });
        }
        Ok(saved)
    }

    /// Puts saved state into the groups in `slots` (one column per aggregate, as
    /// [`Aggregates::save`] made them).
    pub fn restore(&mut self, slots: &[u32], saved: &[SavedColumn]) -> Result<(), PluginError> {
        for (named, column) in self.named.iter_mut().zip(saved) {
            if let Some(migrating) = &mut named.migrating {
                migrating.forget(slots);
            }
            named.plugin.restore(slots, column)?;
            named.end_migration();
        }
        Ok(())
    }

    /// Frees the groups in `slots` in every plugin.
    pub fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        for named in &mut self.named {
            named.plugin.release(slots)?;
            if let Some(migrating) = &mut named.migrating {
                migrating.forget(slots);
                named.end_migration();
            }
            if let Some(retiring) = &mut named.retiring {
                retiring.release(slots)?;
                if retiring.is_empty() {
                    tracing::info!(
                        aggregate = %named.name,
                        previous = %retiring.source,
                        "the previous plugin version finished its windows"
                    );
                    named.retiring = None;
                }
            }
        }
        Ok(())
    }

    /// The names (from `describe()`) of the plugins the aggregates currently run, once each,
    /// in config order.
    pub fn plugin_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::with_capacity(self.named.len());
        for named in &self.named {
            let name = &named.plugin.info().name;
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// Result names of the aggregates whose current version is the plugin named `plugin`.
    pub fn running(&self, plugin: &str) -> Vec<String> {
        self.named
            .iter()
            .filter(|n| n.plugin.info().name == plugin)
            .map(|n| n.name.clone())
            .collect()
    }

    /// Index of the aggregate named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.named.iter().position(|n| n.name == name)
    }

    /// Whether aggregate `index` would take over state from `plugin` ([`Takeover::State`]:
    /// same plugin name and state format) or retire its current version.
    pub fn takeover(&self, index: usize, plugin: &dyn AggregatorInstance) -> Option<Takeover> {
        let current = self.named.get(index)?.plugin.info();
        let new = plugin.info();
        Some(
            if current.name == new.name && current.state_format == new.state_format {
                Takeover::State
            } else {
                Takeover::Retire
            },
        )
    }

    /// Moves up to `budget` groups per aggregate from a previous version with the same state
    /// format to the current one (see [`Aggregates::swap`]); returns how many groups are
    /// still to move.
    pub fn migrate(&mut self, budget: usize) -> Result<usize, PluginError> {
        let mut left = 0;
        for named in &mut self.named {
            left += named.migrate(budget)?;
        }
        Ok(left)
    }

    /// Groups whose state a previous version with the same state format still holds.
    pub fn migrating(&self) -> usize {
        self.named
            .iter()
            .filter_map(|n| n.migrating.as_ref())
            .map(Migrating::len)
            .sum()
    }

    /// Puts `plugin` (loaded from `source`) in place of aggregate `index`'s version; `open`
    /// are the open groups. The outputs must match. Same name and state format: the new
    /// version takes over their state: each group moves to it before it is next used, the
    /// rest a chunk at a time through [`Aggregates::migrate`], so the swap itself costs
    /// next to nothing whatever the state size. Otherwise the current version finishes them
    /// (one such swap at a time).
    pub fn swap(
        &mut self,
        index: usize,
        plugin: AggregatorPlugin,
        source: &str,
        current_source: &str,
        open: &[u32],
    ) -> Result<Takeover, SwapError> {
        let takeover = self
            .takeover(index, plugin.as_ref())
            .ok_or_else(|| SwapRefused {
                plugin: source.to_string(),
                reason: format!("no aggregate {index}"),
            })?;
        let named = &mut self.named[index];
        let refuse = |reason: String| SwapRefused {
            plugin: source.to_string(),
            reason,
        };
        // Results keep their fields (a PostgreSQL table has a column per output).
        if plugin.outputs() != named.plugin.outputs() {
            return Err(SwapError::Refused(refuse(format!(
                "its outputs {:?} differ from the current version's {:?}",
                plugin.outputs(),
                named.plugin.outputs()
            ))));
        }
        if takeover == Takeover::Retire && named.retiring.is_some() {
            return Err(SwapError::Refused(refuse(
                "the version before is still finishing its windows".into(),
            )));
        }
        // A migration still under way ends first: one previous version at a time.
        named.migrate(usize::MAX)?;
        match takeover {
            Takeover::State => {
                let moving: Vec<u32> = open
                    .iter()
                    .copied()
                    .filter(|s| named.retiring.as_ref().is_none_or(|r| !r.owns(*s)))
                    .collect();
                let previous = std::mem::replace(&mut named.plugin, plugin);
                if !moving.is_empty() {
                    named.migrating = Some(Migrating::new(previous, moving));
                }
            }
            Takeover::Retire => {
                let previous = std::mem::replace(&mut named.plugin, plugin);
                if !open.is_empty() {
                    named.retiring =
                        Some(Retiring::new(previous, current_source.to_string(), open));
                }
            }
        }
        Ok(takeover)
    }

    /// For a snapshot of the groups in `slots`: the previous versions' part (see
    /// [`SavedRetiring`]).
    pub fn save_retiring(&mut self, slots: &[u32]) -> Result<Vec<SavedRetiring>, PluginError> {
        let mut saved = Vec::new();
        for (index, named) in self.named.iter_mut().enumerate() {
            let Some(retiring) = &mut named.retiring else {
                continue;
            };
            let (groups, owned): (Vec<u32>, Vec<u32>) = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| retiring.owns(**s))
                .map(|(i, s)| (i as u32, *s))
                .unzip();
            let column = retiring.plugin.save(&owned)?;
            saved.push(SavedRetiring {
                aggregate: index as u32,
                source: retiring.source.clone(),
                groups,
                column,
            });
        }
        Ok(saved)
    }

    /// Restores the previous versions' part of a snapshot into the groups `slots` (in the
    /// order they were saved), loading each previous version with its aggregate's `configs`.
    pub fn restore_retiring(
        &mut self,
        loader: &dyn AggregatorLoader,
        configs: &[AggregateConfig],
        slots: &[u32],
        saved: &[SavedRetiring],
    ) -> Result<(), PluginError> {
        for part in saved {
            let index = part.aggregate as usize;
            let (Some(named), Some(config)) = (self.named.get_mut(index), configs.get(index))
            else {
                return Err(PluginError::Failed {
                    plugin: part.source.clone(),
                    call: "restore",
                    message: format!("no aggregate {index}"),
                });
            };
            let owned: Vec<u32> = part
                .groups
                .iter()
                .filter_map(|&g| slots.get(g as usize).copied())
                .collect();
            if owned.len() != part.groups.len() || !part.column.fits(owned.len()) {
                return Err(PluginError::Failed {
                    plugin: part.source.clone(),
                    call: "restore",
                    message: "saved state that does not fit its groups".into(),
                });
            }
            let mut plugin = loader.load_aggregator(&part.source, &config.config.to_string())?;
            plugin.restore(&owned, &part.column)?;
            named.retiring = Some(Retiring::new(plugin, part.source.clone(), &owned));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SavedColumn;

    /// The byte-string encoding of a column's data reads checkpoints written when it was a
    /// plain sequence of bytes, and writes the same bytes.
    #[test]
    fn saved_columns_keep_their_encoding() {
        #[derive(serde::Serialize)]
        struct Before {
            data: Vec<u8>,
            offsets: Vec<u32>,
        }
        let before = postcard::to_allocvec(&Before {
            data: (0..=255).collect(),
            offsets: vec![0, 200, 256],
        })
        .expect("encode");
        let column: SavedColumn = postcard::from_bytes(&before).expect("decode");
        assert_eq!(column.data, (0..=255).collect::<Vec<u8>>());
        assert_eq!(postcard::to_allocvec(&column).expect("encode"), before);
    }
}
