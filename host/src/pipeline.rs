//! A pipeline: source → map/filter plugins → decode → watermark → windows → aggregate plugins →
//! results, with late events and undecodable records sent to their side outputs.

use std::io;

use serde_json::Value;

use crate::aggregate::Aggregates;
use crate::config::Config;
use crate::event::{Decoder, RawBatch};
use crate::groups::GroupTable;
use crate::output::{self, Emit, JsonLines};
use crate::plugin::{PluginError, Runtime, TransformPlugin};
use crate::source;
use crate::watermark::Watermark;
use crate::window::{Assigner, Window};

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
    runtime: Runtime,
    transforms: Vec<TransformPlugin>,
    decoder: Decoder,
    watermark: Watermark,
    assigner: Assigner,
    groups: GroupTable,
    aggregates: Aggregates,
    outputs: Outputs,
    stats: Stats,
    windows: Vec<Window>,
    slots: Vec<u32>,
    rows: Vec<u32>,
}

impl Pipeline {
    /// Loads every plugin the config names and prepares the outputs.
    pub fn new(config: &Config, outputs: Outputs) -> Result<Self, PipelineError> {
        let runtime = Runtime::new(&config.plugins)?;
        let mut transforms = Vec::with_capacity(config.transforms.len());
        for stage in &config.transforms {
            let loaded = runtime.load(&stage.plugin)?;
            transforms.push(TransformPlugin::new(
                &runtime,
                &loaded,
                &stage.config.to_string(),
            )?);
        }
        let aggregates = Aggregates::new(&runtime, &config.aggregates)?;
        let bound =
            i64::try_from(config.watermark.out_of_orderness.as_millis()).unwrap_or(i64::MAX);
        Ok(Self {
            runtime,
            transforms,
            decoder: Decoder::new(&config.decode, &config.aggregates),
            watermark: Watermark::new(bound),
            assigner: Assigner::from_config(&config.window),
            groups: GroupTable::default(),
            aggregates,
            outputs,
            stats: Stats::default(),
            windows: Vec::new(),
            slots: Vec::new(),
            rows: Vec::new(),
        })
    }

    /// What the pipeline has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermark.current()
    }

    /// Number of open groups (key × window).
    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// Processes one batch of records, then fires the windows the new watermark completes.
    pub fn process(&mut self, batch: RawBatch) -> Result<(), PipelineError> {
        self.stats.records_in += batch.len() as u64;
        let mut batch = batch;
        for transform in &mut self.transforms {
            match transform.process(&batch) {
                Ok(out) => {
                    self.stats.filtered += batch.len().saturating_sub(out.len()) as u64;
                    batch = out;
                }
                Err(error @ PluginError::Failed { .. }) => {
                    let reason = error.to_string();
                    tracing::warn!(%reason, records = batch.len(), "transform rejected a batch");
                    let records: Vec<Value> = (0..batch.len())
                        .map(|row| output::side_record(&reason, &[], batch.payload(row)))
                        .collect();
                    self.stats.dead_letters += records.len() as u64;
                    self.outputs.dead_letter.write(&records)?;
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
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

        let watermark = self.watermark.current();
        let mut late = Vec::new();
        self.slots.clear();
        self.rows.clear();
        for (i, (&time, key)) in decoded.times.iter().zip(&decoded.keys).enumerate() {
            self.watermark.observe(time);
            self.windows.clear();
            self.assigner.assign(time, &mut self.windows);
            let mut assigned = false;
            for window in &self.windows {
                if window.end > watermark {
                    self.slots.push(self.groups.slot(*window, key));
                    self.rows.push(i as u32);
                    assigned = true;
                }
            }
            if !assigned {
                let extra = [
                    ("watermark", Value::from(watermark)),
                    ("event_time", Value::from(time)),
                ];
                late.push(output::side_record(
                    "late",
                    &extra,
                    batch.payload(decoded.rows[i] as usize),
                ));
            }
        }
        self.stats.events += decoded.times.len() as u64;
        if !late.is_empty() {
            self.stats.late += late.len() as u64;
            self.outputs.late.write(&late)?;
        }
        self.aggregates
            .accumulate(&self.slots, &self.rows, &decoded.values)?;
        let watermark = self.watermark.advance();
        self.fire(watermark)
    }

    /// Emits and frees every group whose window ends at or before `watermark`.
    fn fire(&mut self, watermark: i64) -> Result<(), PipelineError> {
        let closed = self.groups.close_until(watermark);
        if closed.is_empty() {
            return Ok(());
        }
        let slots: Vec<u32> = closed.iter().map(|(slot, _)| *slot).collect();
        let finished = self.aggregates.finish(&slots)?;
        let results = output::results(&closed, &finished, Emit::OnTime);
        self.stats.results += results.len() as u64;
        self.outputs.results.write(&results)?;
        self.outputs.results.flush()?;
        self.aggregates.release(&slots)?;
        self.groups.free(slots);
        Ok(())
    }

    /// The input has ended: fires every open window and flushes the outputs.
    pub fn finish(&mut self) -> Result<Stats, PipelineError> {
        let watermark = self.watermark.close();
        self.fire(watermark)?;
        self.outputs.results.flush()?;
        self.outputs.late.flush()?;
        self.outputs.dead_letter.flush()?;
        self.runtime.shutdown();
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
