//! One instance of an aggregator component: its own store, its configuration, and batched
//! calls; the engine drives it through [`AggregatorInstance`].

use eddy_engine::aggregate::{
    AggregatorInstance, AggregatorLoader, PluginError, PluginInfo, PluginKind, SavedColumn,
};
use wasmtime::Store;

use super::bindings::ByteColumn;
use super::bindings::aggregator::exports::eddy::plugin::aggregate::Guest;
use super::bindings::aggregator::{Aggregator, AggregatorPre};
use super::error::{describe_wit_error, link_error, trap_error};
use super::metrics::PluginCalls;
use super::runtime::{Loaded, Runtime};
use super::sandbox::Sandbox;

/// A configured aggregator component instance.
pub struct WasmAggregator {
    store: Store<Sandbox>,
    bindings: Aggregator,
    info: PluginInfo,
    outputs: Vec<String>,
    deadline: u64,
    metrics: PluginCalls,
}

impl WasmAggregator {
    /// Instantiates `loaded` in a store of its own and configures it with `config` (JSON).
    pub fn new(runtime: &Runtime, loaded: &Loaded, config: &str) -> Result<Self, PluginError> {
        let pre = AggregatorPre::new(loaded.pre.clone())
            .map_err(link_error(&loaded.source, Some("aggregator")))?;
        let mut store = runtime.store(&loaded.source);
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let trap = |call| trap_error(&loaded.source, call, false);
        let api = bindings.eddy_plugin_aggregate();
        let info = PluginInfo::from(api.call_describe(&mut store).map_err(trap("describe"))?);
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
        let metrics = runtime.plugin_calls(&info.name, &info.version);
        Ok(Self {
            store,
            bindings,
            info,
            outputs,
            deadline: runtime.call_deadline_ticks(),
            metrics,
        })
    }

    /// Calls an export with the call time limit set; a trap becomes [`PluginError::Trap`]
    /// (the plugin name is only copied when there is an error).
    fn call<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&Guest, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let _span = tracing::debug_span!(
            "plugin",
            plugin = %self.info.name,
            version = %self.info.version,
            call
        )
        .entered();
        self.store.set_epoch_deadline(self.deadline);
        let started = std::time::Instant::now();
        let result = f(self.bindings.eddy_plugin_aggregate(), &mut self.store);
        let memory_refused = self.store.data_mut().limits.take_memory_refused();
        let result = result.map_err(|e| trap_error(&self.info.name, call, memory_refused)(e));
        self.metrics.record(call, started, &result);
        result
    }
}

impl AggregatorInstance for WasmAggregator {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn outputs(&self) -> &[String] {
        &self.outputs
    }

    fn accumulate(&mut self, slots: &[u32], values: &[f64]) -> Result<(), PluginError> {
        self.call("accumulate", |api, store| {
            api.call_accumulate(store, slots, values)
        })
    }

    fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        self.call("merge", |api, store| {
            api.call_merge(store, targets, sources)
        })
    }

    fn finish(&mut self, slots: &[u32]) -> Result<Vec<f64>, PluginError> {
        let values = self.call("finish", |api, store| api.call_finish(store, slots))?;
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

    fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        self.call("release", |api, store| api.call_release(store, slots))
    }

    fn save(&mut self, slots: &[u32]) -> Result<SavedColumn, PluginError> {
        let column = self.call("save", |api, store| api.call_save(store, slots))?;
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
        Ok(SavedColumn {
            data: column.data,
            offsets: column.offsets,
        })
    }

    fn restore(&mut self, slots: &[u32], states: &SavedColumn) -> Result<(), PluginError> {
        let states = ByteColumn {
            data: states.data.clone(),
            offsets: states.offsets.clone(),
        };
        self.call("restore", |api, store| {
            api.call_restore(store, slots, &states)
        })?
        .map_err(|e| PluginError::Failed {
            plugin: self.info.name.clone(),
            call: "restore",
            message: describe_wit_error(&e),
        })
    }
}

impl AggregatorLoader for Runtime {
    fn load_aggregator(
        &self,
        source: &str,
        config: &str,
    ) -> Result<Box<dyn AggregatorInstance>, PluginError> {
        let loaded = self.load(source)?;
        Ok(Box::new(WasmAggregator::new(self, &loaded, config)?))
    }
}
