//! A pipeline: source → map/filter plugins → decode → window operator (watermarks, windows,
//! triggers, aggregate plugins) → results, with late events and undecodable records sent to
//! their side outputs.

use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::aggregate::Aggregates;
use crate::config::Config;
use crate::decode::Decoder;
use crate::event::RawBatch;
use crate::operator::{Operator, Output};
use crate::output::{self, JsonLines};
use crate::plugin::{PluginError, Runtime};
use crate::source;
use crate::stage::{StageOutcome, TransformStage};

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A plugin could not be loaded or failed in a way that stops the pipeline (a trap).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Reading the source or writing an output failed.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// Counters of what the pipeline did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read from the source.
    pub records_in: u64,
    /// Records removed by filter stages (flat-maps may also add records).
    pub filtered: u64,
    /// Events decoded and assigned to windows or sent to the late output.
    pub events: u64,
    /// Records sent to the dead-letter output.
    pub dead_letters: u64,
    /// Events sent to the late output.
    pub late: u64,
    /// Results written.
    pub results: u64,
    /// Traps of transform plugins (each retried once on a fresh instance).
    pub plugin_traps: u64,
}

/// Where a pipeline writes.
pub struct Outputs {
    /// Window results.
    pub results: JsonLines,
    /// Events that arrived after their window closed.
    pub late: JsonLines,
    /// Records that could not be processed.
    pub dead_letter: JsonLines,
}

impl Outputs {
    /// The outputs a config names.
    pub fn from_config(config: &Config) -> io::Result<Self> {
        Ok(Self {
            results: JsonLines::for_sink(&config.sink)?,
            late: JsonLines::for_side_output(&config.late)?,
            dead_letter: JsonLines::for_side_output(&config.dead_letter)?,
        })
    }
}

/// A running pipeline.
pub struct Pipeline {
    runtime: Arc<Runtime>,
    transforms: Vec<TransformStage>,
    decoder: Decoder,
    operator: Operator,
    outputs: Outputs,
    stats: Stats,
}

/// Processing time now, epoch ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Pipeline {
    /// Loads every plugin the config names and prepares the outputs.
    pub fn new(config: &Config, outputs: Outputs) -> Result<Self, PipelineError> {
        Self::with_runtime(config, Arc::new(Runtime::new(&config.plugins)?), outputs)
    }

    /// Like [`Pipeline::new`], with plugins compiled by a runtime that may be shared.
    pub fn with_runtime(
        config: &Config,
        runtime: Arc<Runtime>,
        outputs: Outputs,
    ) -> Result<Self, PipelineError> {
        let mut transforms = Vec::with_capacity(config.transforms.len());
        for stage in &config.transforms {
            transforms.push(TransformStage::new(
                &runtime,
                stage,
                config.plugins.on_trap,
            )?);
        }
        let aggregates = Aggregates::new(&runtime, &config.aggregates)?;
        Ok(Self {
            runtime,
            transforms,
            decoder: Decoder::new(&config.decode, &config.aggregates),
            operator: Operator::new(config, aggregates),
            outputs,
            stats: Stats::default(),
        })
    }

    /// What the pipeline has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.operator.watermark()
    }

    /// Number of open groups (key × window).
    pub fn open_groups(&self) -> usize {
        self.operator.open_groups()
    }

    /// Size of the slot tables inside the plugins (highest slot used, plus one).
    pub fn slot_capacity(&self) -> usize {
        self.operator.slot_capacity()
    }

    /// Processes one batch of records at the current processing time.
    pub fn process(&mut self, batch: RawBatch) -> Result<(), PipelineError> {
        self.process_at(batch, now_ms())
    }

    /// Processes one batch of records at processing time `now_ms`: transforms, decoding,
    /// windows and aggregates, then writes what the batch made due.
    pub fn process_at(&mut self, batch: RawBatch, now_ms: i64) -> Result<(), PipelineError> {
        self.stats.records_in += batch.len() as u64;
        let mut batch = batch;
        for transform in &mut self.transforms {
            let traps = transform.traps();
            let outcome = transform.process(&self.runtime, &batch);
            self.stats.plugin_traps += transform.traps() - traps;
            match outcome? {
                StageOutcome::Passed(out) => {
                    self.stats.filtered += batch.len().saturating_sub(out.len()) as u64;
                    batch = out;
                }
                StageOutcome::DeadLetter(reason) => {
                    tracing::warn!(%reason, records = batch.len(), "transform rejected a batch");
                    let records: Vec<Value> = (0..batch.len())
                        .map(|row| output::side_record(&reason, &[], batch.payload(row)))
                        .collect();
                    self.stats.dead_letters += records.len() as u64;
                    self.outputs.dead_letter.write(&records)?;
                    return Ok(());
                }
            }
        }

        let decoded = self.decoder.decode(&batch);
        if !decoded.errors.is_empty() {
            let records: Vec<Value> = decoded
                .errors
                .iter()
                .map(|(row, error)| {
                    output::side_record(&error.to_string(), &[], batch.payload(*row as usize))
                })
                .collect();
            self.stats.dead_letters += records.len() as u64;
            self.outputs.dead_letter.write(&records)?;
        }
        self.stats.events += decoded.times.len() as u64;
        let out = self.operator.process(batch.partition, &decoded, now_ms)?;
        if !out.late.is_empty() {
            let records: Vec<Value> = out
                .late
                .iter()
                .map(|late| {
                    let extra = [
                        ("watermark", Value::from(late.watermark)),
                        ("event_time", Value::from(late.time)),
                    ];
                    output::side_record(
                        "late",
                        &extra,
                        batch.payload(decoded.rows[late.event] as usize),
                    )
                })
                .collect();
            self.stats.late += records.len() as u64;
            self.outputs.late.write(&records)?;
        }
        self.write(out)
    }

    /// Lets processing time pass without input (idle partitions, time triggers).
    pub fn tick_at(&mut self, now_ms: i64) -> Result<(), PipelineError> {
        let out = self.operator.tick(now_ms)?;
        self.write(out)
    }

    fn write(&mut self, out: Output) -> Result<(), PipelineError> {
        if out.results.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for emitted in out.results {
            let written =
                output::write_results(&emitted.groups, &emitted.finished, emitted.emit, &mut lines);
            self.stats.results += written as u64;
        }
        self.outputs.results.write_raw(&lines)?;
        self.outputs.results.flush()?;
        Ok(())
    }

    /// The input has ended: fires every open window and flushes the outputs.
    pub fn finish(&mut self) -> Result<Stats, PipelineError> {
        let out = self.operator.close()?;
        self.write(out)?;
        self.outputs.results.flush()?;
        self.outputs.late.flush()?;
        self.outputs.dead_letter.flush()?;
        Ok(self.stats)
    }
}

/// Runs the pipeline a config describes until its source ends.
pub fn run(config: &Config) -> Result<Stats, PipelineError> {
    let outputs = Outputs::from_config(config)?;
    let mut pipeline = Pipeline::new(config, outputs)?;
    let mut source = source::open(&config.source)?;
    while let Some(batch) = source.next_batch(config.batch_size)? {
        pipeline.process(batch)?;
    }
    pipeline.finish()
}
