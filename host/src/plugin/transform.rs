//! One instance of a map, filter or flat-map plugin: of the `transform` world (whole payloads)
//! or of the `column-transform` world (typed columns the host decodes; see [`super::columns`]).

use wasmtime::Store;

use super::bindings::ByteColumn;
use super::bindings::transform::exports::eddy::plugin::transformer::{EventBatch, TransformOutput};
use super::bindings::transform::{Transform, TransformPre};
use super::columns::Columns;
use super::error::{describe_wit_error, link_error, trap_error};
use super::metrics::PluginCalls;
use super::runtime::{Loaded, Runtime};
use super::sandbox::Sandbox;
use eddy_engine::aggregate::{PluginError, PluginInfo, PluginKind};
use eddy_engine::event::RawBatch;

/// A configured transform instance.
pub struct TransformPlugin {
    store: Store<Sandbox>,
    world: World,
    info: PluginInfo,
    deadline: u64,
    metrics: PluginCalls,
}

/// Which world the instance implements.
enum World {
    Payload(Transform),
    Columns(Box<Columns>),
}

impl TransformPlugin {
    /// Instantiates `loaded` in a store of its own and configures it with `config` (JSON).
    pub fn new(runtime: &Runtime, loaded: &Loaded, config: &str) -> Result<Self, PluginError> {
        let pre = match TransformPre::new(loaded.pre.clone()) {
            Ok(pre) => pre,
            Err(payload_error) => {
                return Columns::new(runtime, loaded, config, payload_error).map(
                    |(store, columns, info)| Self {
                        store,
                        world: World::Columns(Box::new(columns)),
                        metrics: runtime.plugin_calls(&info.name, &info.version),
                        info,
                        deadline: runtime.call_deadline_ticks(),
                    },
                );
            }
        };
        let mut store = runtime.store(&loaded.source);
        let bindings = pre
            .instantiate(&mut store)
            .map_err(link_error(&loaded.source, None))?;
        let trap = |call| trap_error(&loaded.source, call, false);
        let api = bindings.eddy_plugin_transformer();
        let info = PluginInfo::from(api.call_describe(&mut store).map_err(trap("describe"))?);
        if info.kind == PluginKind::Aggregator {
            return Err(PluginError::WrongWorld {
                plugin: loaded.source.clone(),
                world: "transform",
                message: "describe() reports kind aggregator".into(),
            });
        }
        store.set_epoch_deadline(runtime.call_deadline_ticks());
        api.call_configure(&mut store, config)
            .map_err(trap("configure"))?
            .map_err(|e| PluginError::Config {
                plugin: info.name.clone(),
                message: describe_wit_error(&e),
            })?;
        let metrics = runtime.plugin_calls(&info.name, &info.version);
        Ok(Self {
            store,
            world: World::Payload(bindings),
            info,
            deadline: runtime.call_deadline_ticks(),
            metrics,
        })
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Runs the transform over `batch` and returns the batch that comes out.
    pub fn process(&mut self, input: &RawBatch) -> Result<RawBatch, PluginError> {
        let _span = tracing::debug_span!(
            "plugin",
            plugin = %self.info.name,
            version = %self.info.version,
            call = "process"
        )
        .entered();
        let started = std::time::Instant::now();
        let result = self.run(input);
        self.metrics.record("process", started, &result);
        result
    }

    fn run(&mut self, input: &RawBatch) -> Result<RawBatch, PluginError> {
        self.store.set_epoch_deadline(self.deadline);
        let bindings = match &self.world {
            World::Payload(bindings) => bindings,
            World::Columns(columns) => return columns.process(&mut self.store, &self.info, input),
        };
        let batch = EventBatch {
            payloads: ByteColumn {
                data: input.data.clone(),
                offsets: input.offsets.clone(),
            },
            timestamps: input.timestamps.clone(),
        };
        let plugin = self.info.name.as_str();
        let failed = |message: String| PluginError::Failed {
            plugin: plugin.to_string(),
            call: "process",
            message,
        };
        let output = bindings
            .eddy_plugin_transformer()
            .call_process(&mut self.store, &batch);
        let memory_refused = self.store.data_mut().limits.take_memory_refused();
        let output = output
            .map_err(|e| trap_error(plugin, "process", memory_refused)(e))?
            .map_err(|e| failed(describe_wit_error(&e)))?;
        match output {
            TransformOutput::Keep(indices) => kept_rows(input, &indices).map_err(failed),
            TransformOutput::Rows(rows) => {
                let mut source_offsets = Vec::new();
                if !input.source_offsets.is_empty() {
                    if rows.origin.len() != rows.events.timestamps.len() {
                        return Err(failed(format!(
                            "{} origins for {} output rows",
                            rows.origin.len(),
                            rows.events.timestamps.len()
                        )));
                    }
                    for &origin in &rows.origin {
                        match input.source_offsets.get(origin as usize) {
                            Some(&offset) => source_offsets.push(offset),
                            None => {
                                return Err(failed(format!("origin {origin} is out of range")));
                            }
                        }
                    }
                }
                let out = RawBatch {
                    partition: input.partition,
                    data: rows.events.payloads.data,
                    offsets: rows.events.payloads.offsets,
                    timestamps: rows.events.timestamps,
                    source_offsets,
                    // A map or flat-map makes new records: their lines are not known.
                    lines: Vec::new(),
                    blank_lines: input.blank_lines,
                    // New records: whatever a column map wrote before is in their payloads.
                    written: Vec::new(),
                    trace_parents: input.trace_parents.clone(),
                };
                out.check()
                    .map_err(|m| failed(format!("output batch: {m}")))?;
                Ok(out)
            }
        }
    }
}

/// The rows of `input` at `indices` (ascending): a filter's answer.
pub(super) fn kept_rows(input: &RawBatch, indices: &[u32]) -> Result<RawBatch, String> {
    let mut kept = RawBatch::with_capacity(indices.len(), input.data.len());
    kept.partition = input.partition;
    kept.blank_lines = input.blank_lines;
    let mut previous = None;
    let mut rows = Vec::with_capacity(indices.len());
    for &index in indices {
        let row = index as usize;
        if row >= input.len() || previous.is_some_and(|p| p >= row) {
            return Err(format!("kept row {index} is out of range or order"));
        }
        previous = Some(row);
        rows.push(row);
        kept.push(input.payload(row), input.timestamps[row]);
        if let Some(&offset) = input.source_offsets.get(row) {
            kept.source_offsets.push(offset);
        }
        if let Some(line) = input.line(row) {
            kept.lines.push(line);
        }
    }
    kept.written = input.written_of(&rows);
    Ok(kept)
}
