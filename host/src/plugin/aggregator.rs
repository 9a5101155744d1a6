//! One instance of an aggregator plugin: its own store, its configuration, and batched calls.

use wasmtime::Store;

use super::bindings::aggregator::{Aggregator, AggregatorPre};
use super::bindings::{ByteColumn, PluginInfo, PluginKind};
use super::error::{PluginError, describe_wit_error};
use super::runtime::{Loaded, Runtime};
use super::state::PluginState;

/// A configured aggregator instance.
pub struct AggregatorPlugin {
    store: Store<PluginState>,
    bindings: Aggregator,
    info: PluginInfo,
    outputs: Vec<String>,
    deadline: u64,
}

impl AggregatorPlugin {
    /// Instantiates `loaded` in a store of its own and configures it with `config` (JSON).
    pub fn new(runtime: &Runtime, loaded: &Loaded, config: &str) -> Result<Self, PluginError> {
        let pre = AggregatorPre::new(loaded.pre.clone())
            .map_err(PluginError::link(&loaded.source, Some("aggregator")))?;
        let mut store = runtime.store(&loaded.source);
        let bindings = pre
            .instantiate(&mut store)
            .map_err(PluginError::link(&loaded.source, None))?;
        let trap = |call| PluginError::trap(&loaded.source, call);
        let api = bindings.eddy_plugin_aggregate();
        let info = api.call_describe(&mut store).map_err(trap("describe"))?;
        if info.kind != PluginKind::Aggregator {
            return Err(PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "aggregator",
                message: format!("describe() reports kind {:?}", info.kind),
            });
        }
        store.set_epoch_deadline(runtime.call_deadline_ticks());
        let outputs = api
            .call_configure(&mut store, config)
            .map_err(trap("configure"))?
            .map_err(|e| PluginError::Config {
                plugin: info.name.clone(),
                message: describe_wit_error(&e),
            })?;
        if outputs.is_empty() {
            return Err(PluginError::Failed {
                plugin: info.name.clone(),
                call: "configure",
                message: "declares no outputs".into(),
            });
        }
        Ok(Self {
            store,
            bindings,
            info,
            outputs,
            deadline: runtime.call_deadline_ticks(),
        })
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Names of the values produced per group.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    fn trap(&self, call: &'static str) -> impl FnOnce(wasmtime::Error) -> PluginError + use<> {
        PluginError::trap(&self.info.name, call)
    }

    /// Adds `values[i]` to group `slots[i]`.
    pub fn accumulate(&mut self, slots: &[u32], values: &[f64]) -> Result<(), PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("accumulate");
        self.bindings
            .eddy_plugin_aggregate()
            .call_accumulate(&mut self.store, slots, values)
            .map_err(trap)
    }

    /// Merges group `sources[i]` into `targets[i]`.
    pub fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("merge");
        self.bindings
            .eddy_plugin_aggregate()
            .call_merge(&mut self.store, targets, sources)
            .map_err(trap)
    }

    /// Results of the groups, `outputs().len()` values per slot, row-major.
    pub fn finish(&mut self, slots: &[u32]) -> Result<Vec<f64>, PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("finish");
        let values = self
            .bindings
            .eddy_plugin_aggregate()
            .call_finish(&mut self.store, slots)
            .map_err(trap)?;
        let expected = slots.len() * self.outputs.len();
        if values.len() != expected {
            return Err(PluginError::Failed {
                plugin: self.info.name.clone(),
                call: "finish",
                message: format!("returned {} values, expected {expected}", values.len()),
            });
        }
        Ok(values)
    }

    /// Frees the groups.
    pub fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("release");
        self.bindings
            .eddy_plugin_aggregate()
            .call_release(&mut self.store, slots)
            .map_err(trap)
    }

    /// Serialises the groups' state.
    pub fn save(&mut self, slots: &[u32]) -> Result<ByteColumn, PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("save");
        let column = self
            .bindings
            .eddy_plugin_aggregate()
            .call_save(&mut self.store, slots)
            .map_err(trap)?;
        if column.offsets.len() != slots.len() + 1 {
            return Err(PluginError::Failed {
                plugin: self.info.name.clone(),
                call: "save",
                message: format!(
                    "returned {} offsets for {} slots",
                    column.offsets.len(),
                    slots.len()
                ),
            });
        }
        Ok(column)
    }

    /// Replaces the groups with saved state.
    pub fn restore(&mut self, slots: &[u32], states: &ByteColumn) -> Result<(), PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let trap = self.trap("restore");
        let plugin = self.info.name.clone();
        self.bindings
            .eddy_plugin_aggregate()
            .call_restore(&mut self.store, slots, states)
            .map_err(trap)?
            .map_err(|e| PluginError::Failed {
                plugin,
                call: "restore",
                message: describe_wit_error(&e),
            })
    }
}
