//! `eddy plugin test`: runs one plugin offline over a file of JSON lines and writes what it
//! produces, so a plugin author can try a build without a pipeline.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::Duration;

use crate::pipeline::{Outputs, Pipeline, PipelineError};
use crate::plugin::{PluginError, Runtime, TransformPlugin};
use crate::sink::JsonLines;
use eddy_engine::config::{
    AggregateConfig, Config, PluginsConfig, SideOutputConfig, SinkConfig, SourceConfig,
    WindowConfig,
};
use eddy_engine::source::{Lines, Source};

/// How to run the plugin.
#[derive(Debug, Clone)]
pub struct PluginTest {
    /// JSON configuration of the plugin.
    pub config: serde_json::Value,
    /// For aggregators: JSON pointer of the aggregated field (none: every event counts 1).
    pub field: Option<String>,
    /// For aggregators: tumbling window size.
    pub window: Duration,
}

/// Runs the component at `plugin` over the JSON lines in `input`, writing results (aggregator)
/// or output events (map, filter) as JSON lines to `out`.
pub fn run(
    plugin: &Path,
    input: &Path,
    test: &PluginTest,
    out: &mut dyn Write,
) -> Result<(), PipelineError> {
    let plugin_name = plugin.to_string_lossy().to_string();
    let runtime = Runtime::new(&PluginsConfig::default())?;
    let loaded = runtime.load(&plugin_name)?;
    let open = || File::open(input).map(|f| Lines::new(BufReader::new(f)));
    match TransformPlugin::new(&runtime, &loaded, &test.config.to_string()) {
        Ok(mut transform) => {
            let mut lines = open()?;
            while let Some(batch) = lines.next_batch(1024)? {
                let batch = transform.process(&batch)?;
                for row in 0..batch.len() {
                    out.write_all(batch.payload(row))?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
        Err(PluginError::WrongWorld { .. }) => {
            let config = Config {
                source: SourceConfig::File {
                    path: input.to_path_buf(),
                },
                window: WindowConfig::Tumbling {
                    size: test.window,
                    offset: Duration::ZERO,
                },
                aggregates: vec![AggregateConfig {
                    name: "result".into(),
                    plugin: plugin_name,
                    field: test.field.clone(),
                    config: test.config.clone(),
                }],
                sink: SinkConfig::Stdout,
                late: SideOutputConfig::Stderr,
                dead_letter: SideOutputConfig::Stderr,
                ..Config::default()
            };
            config.validate().map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            })?;
            let (results, buffer) = JsonLines::memory();
            let outputs = Outputs {
                results: results.into(),
                late: JsonLines::for_side_output(&config.late)?.into(),
                dead_letter: JsonLines::for_side_output(&config.dead_letter)?.into(),
            };
            let mut pipeline = Pipeline::new(&config, outputs)?;
            let mut lines = open()?;
            while let Some(batch) = lines.next_batch(1024)? {
                pipeline.process(batch)?;
            }
            pipeline.finish()?;
            out.write_all(&buffer.take_bytes())?;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
