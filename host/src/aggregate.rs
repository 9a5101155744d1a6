//! The configured aggregates of a pipeline, driven together over batches of events.

use crate::config::AggregateConfig;
use crate::plugin::{AggregatorPlugin, PluginError, Runtime};

/// One named aggregate and its plugin instance.
struct Named {
    name: String,
    plugin: AggregatorPlugin,
}

/// Results of a set of groups: per aggregate, its output names and the values row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Per aggregate: result field name, output names, values (`slots × outputs`).
    pub columns: Vec<(String, Vec<String>, Vec<f64>)>,
}

/// Saved state of one aggregate for a list of groups.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedColumn {
    /// Concatenated states.
    pub data: Vec<u8>,
    /// `groups + 1` offsets into `data`.
    pub offsets: Vec<u32>,
}

/// All aggregates of a pipeline.
pub struct Aggregates {
    named: Vec<Named>,
    slots: Vec<u32>,
    values: Vec<f64>,
}

impl Aggregates {
    /// Loads and configures every aggregate in `configs`.
    pub fn new(runtime: &Runtime, configs: &[AggregateConfig]) -> Result<Self, PluginError> {
        let mut named = Vec::with_capacity(configs.len());
        for config in configs {
            let loaded = runtime.load(&config.plugin)?;
            let plugin = AggregatorPlugin::new(runtime, &loaded, &config.config.to_string())?;
            named.push(Named {
                name: config.name.clone(),
                plugin,
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
            if !self.slots.is_empty() {
                named.plugin.accumulate(&self.slots, &self.values)?;
            }
        }
        Ok(())
    }

    /// Merges group `sources[i]` into `targets[i]`, in order, in every plugin.
    pub fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        for named in &mut self.named {
            named.plugin.merge(targets, sources)?;
        }
        Ok(())
    }

    /// Results of the groups in `slots`.
    pub fn finish(&mut self, slots: &[u32]) -> Result<Finished, PluginError> {
        let mut columns = Vec::with_capacity(self.named.len());
        for named in &mut self.named {
            let values = named.plugin.finish(slots)?;
            columns.push((named.name.clone(), named.plugin.outputs().to_vec(), values));
        }
        Ok(Finished { columns })
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
            let column = named.plugin.save(slots)?;
            saved.push(SavedColumn {
                data: column.data,
                offsets: column.offsets,
            });
        }
        Ok(saved)
    }

    /// Puts saved state into the groups in `slots` (one column per aggregate, as
    /// [`Aggregates::save`] made them).
    pub fn restore(&mut self, slots: &[u32], saved: &[SavedColumn]) -> Result<(), PluginError> {
        for (named, column) in self.named.iter_mut().zip(saved) {
            let column = crate::plugin::ByteColumn {
                data: column.data.clone(),
                offsets: column.offsets.clone(),
            };
            named.plugin.restore(slots, &column)?;
        }
        Ok(())
    }

    /// Frees the groups in `slots` in every plugin.
    pub fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        for named in &mut self.named {
            named.plugin.release(slots)?;
        }
        Ok(())
    }
}
