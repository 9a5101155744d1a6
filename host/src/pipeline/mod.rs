//! A pipeline: source → map/filter plugins → decode → window operator (watermarks, windows,
//! triggers, aggregate plugins) → results, with late events and undecodable records sent to
//! their side outputs.
//!
//! With a partitioned source (Kafka) every source partition has an operator of its own: its
//! own watermark, windows and aggregate instances, so that a partition's state can move
//! between replicas as a unit. Other sources feed one operator.

mod changes;
mod decoder;
mod dropped;
mod emit;
mod error;
mod outputs;
mod partitions;
mod shadow;
mod stages;
pub mod swap;
mod versions;
mod workers;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

pub use changes::publish_shadows;
use eddy_engine::aggregate::{Aggregates, PluginError};
use eddy_engine::config::{Config, SourceConfig};
use eddy_engine::decode::{DecodedBatch, Decoder};
use eddy_engine::event::{RawBatch, now_ms};
use eddy_engine::operator::Operator;
use eddy_engine::stats::Stats;
pub use error::PipelineError;
pub use outputs::Outputs;
pub use shadow::ShadowState;
pub use stages::{StageOutcome, TransformStage};
pub use swap::Swapped;
pub use versions::MIGRATE_PER_ROUND;

use crate::plugin::Runtime;
use crate::schema_registry::SchemaRegistry;
use crate::sink::SinkError;

/// A running pipeline.
pub struct Pipeline {
    config: Config,
    runtime: Arc<Runtime>,
    transforms: Vec<TransformStage>,
    decoder: Decoder,
    /// Binary records with transforms: the decoder that makes them JSON for the plugins
    /// (`decoder` then decodes JSON).
    converter: Option<Decoder>,
    schema_registry: Option<Arc<SchemaRegistry>>,
    per_partition: bool,
    operators: BTreeMap<u32, Operator>,
    spare: Option<Operator>,
    next_offsets: BTreeMap<u32, i64>,
    outputs: Outputs,
    stats: Stats,
    scratch: Vec<u8>,
    rollbacks: Vec<usize>,
    emit_lag: Option<prometheus_client::metrics::histogram::Histogram>,
    dropping: dropped::Dropping,
    shadows: shadow::Shadows,
    /// Threads that compute a round's partition batches at once.
    workers: workers::Workers,
    /// What the workers computed this round, by partition, until it is written.
    ready: BTreeMap<u32, workers::Computed>,
    /// A round ended with computed batches not written: nothing is saved or committed.
    interrupted: bool,
    /// Batches the workers computed ahead, since the start.
    computed: u64,
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
        let (decoder, schema_registry) = decoder::build(config)?;
        let (decoder, converter) = if decoder.is_binary() && !config.transforms.is_empty() {
            (
                Decoder::new(&config.decode, &config.aggregates),
                Some(decoder),
            )
        } else {
            (decoder, None)
        };
        let mut transforms = Vec::with_capacity(config.transforms.len());
        for stage in &config.transforms {
            transforms.push(TransformStage::new(
                &runtime,
                stage,
                config.plugins.on_trap,
            )?);
        }
        // Made now so that a plugin that cannot be loaded stops start-up.
        let first = Operator::new(
            config,
            Aggregates::new(runtime.as_ref(), &config.aggregates)?,
        );
        let mut outputs = outputs;
        outputs.prepare(&first.aggregates().outputs())?;
        let per_partition = matches!(config.source, SourceConfig::Kafka { .. });
        let mut operators = BTreeMap::new();
        let mut spare = None;
        if per_partition {
            spare = Some(first);
        } else {
            operators.insert(0, first);
        }
        Ok(Self {
            config: config.clone(),
            shadows: shadow::Shadows::new(Arc::clone(&runtime)),
            runtime,
            transforms,
            decoder,
            converter,
            schema_registry,
            per_partition,
            operators,
            spare,
            next_offsets: BTreeMap::new(),
            outputs,
            stats: Stats::default(),
            scratch: Vec::new(),
            rollbacks: Vec::new(),
            emit_lag: None,
            dropping: dropped::Dropping::default(),
            workers: workers::Workers::new(if per_partition {
                config.worker_count()
            } else {
                1
            }),
            ready: BTreeMap::new(),
            interrupted: false,
            computed: 0,
        })
    }

    /// What the pipeline has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The lowest watermark of the operators (`i64::MIN` before any event).
    pub fn watermark(&self) -> i64 {
        self.operators
            .values()
            .map(Operator::watermark)
            .min()
            .unwrap_or(i64::MIN)
    }

    /// Number of open groups (key × window).
    pub fn open_groups(&self) -> usize {
        self.operators.values().map(Operator::open_groups).sum()
    }

    /// Size of the slot tables inside the plugins (highest slot used, plus one), summed over
    /// the operators.
    pub fn slot_capacity(&self) -> usize {
        self.operators.values().map(Operator::slot_capacity).sum()
    }

    /// The partitions that have an operator.
    pub fn partitions(&self) -> Vec<u32> {
        self.operators.keys().copied().collect()
    }

    /// The key of `partition`'s operator (0 for unpartitioned sources).
    fn operator_key(&self, partition: u32) -> u32 {
        if self.per_partition { partition } else { 0 }
    }

    fn operator(&mut self, partition: u32) -> Result<&mut Operator, PipelineError> {
        Ok(self.operator_and_shadows(partition)?.0)
    }

    /// The operator of `partition` (made when there is none) and the shadow runs beside it.
    fn operator_and_shadows(
        &mut self,
        partition: u32,
    ) -> Result<(&mut Operator, &mut shadow::Shadows), PipelineError> {
        let key = self.operator_key(partition);
        let operator = match self.operators.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let mut operator = match self.spare.take() {
                    Some(operator) => operator,
                    None => Operator::new(
                        &self.config,
                        Aggregates::new(self.runtime.as_ref(), &self.config.aggregates)?,
                    ),
                };
                self.dropping.prepare(key, &mut operator);
                entry.insert(operator)
            }
        };
        Ok((operator, &mut self.shadows))
    }

    /// Processes one batch of records at the current processing time.
    pub fn process(&mut self, batch: RawBatch) -> Result<(), PipelineError> {
        self.process_at(batch, now_ms())
    }

    /// Processes one batch of records at processing time `now_ms`: transforms, decoding,
    /// windows and aggregates, then writes what the batch made due.
    pub fn process_at(&mut self, batch: RawBatch, now_ms: i64) -> Result<(), PipelineError> {
        let Some(batch) = self.admit(batch)? else {
            return Ok(());
        };
        if let Some(computed) = self.take_computed(&batch)? {
            return self.write_computed(batch, computed);
        }
        let decoded = self.decoder.decode(&batch);
        self.process_events(batch, decoded, now_ms)
    }

    /// The schema registry client the decoder asks, if any (to report its outages).
    pub fn schema_registry(&self) -> Option<&Arc<SchemaRegistry>> {
        self.schema_registry.as_ref()
    }

    /// A copy of the decoder for a reader that decodes ahead on another thread (see
    /// [`Pipeline::process_decoded`]); none when transforms come before decoding.
    pub fn decoder_ahead(&self) -> Option<Decoder> {
        self.transforms.is_empty().then(|| self.decoder.clone())
    }

    /// Processes a batch already decoded by [`Pipeline::decoder_ahead`]'s decoder, at the
    /// current processing time. When the pipeline has transforms, they see the records first
    /// and their result is decoded here (`decoded` is then not used).
    pub fn process_decoded(
        &mut self,
        batch: RawBatch,
        decoded: DecodedBatch,
    ) -> Result<(), PipelineError> {
        let transformed = !self.transforms.is_empty();
        let Some(batch) = self.admit(batch)? else {
            return Ok(());
        };
        let decoded = if transformed {
            self.decoder.decode(&batch)
        } else {
            decoded
        };
        self.process_events(batch, decoded, now_ms())
    }

    /// Counts a batch in and runs it through the transforms: the records to decode, or none
    /// (empty, or dead-lettered by a transform).
    fn admit(&mut self, batch: RawBatch) -> Result<Option<RawBatch>, PipelineError> {
        self.stats.records_in += batch.len() as u64;
        self.stats.blank_lines += batch.blank_lines;
        if batch.is_empty() {
            return Ok(None);
        }
        if let Some(&last) = batch.source_offsets.last() {
            self.account_for(batch.partition, last);
        }
        let mut batch = batch;
        // Plugins see records before the decoder: refuse oversized ones here. (Without
        // plugins the decoder refuses them, and the batch must keep its rows.)
        let plugins_first = self.converter.is_some() || !self.transforms.is_empty();
        if let Some((kept, refused)) = self
            .decoder
            .without_oversized(&batch)
            .filter(|_| plugins_first)
        {
            self.dead_letter_rows(&batch, &refused)?;
            if kept.is_empty() {
                return Ok(None);
            }
            batch = kept;
        }
        if let Some(converter) = &self.converter {
            let (json, errors) = converter.to_json(&batch);
            self.dead_letter_rows(&batch, &errors)?;
            if json.is_empty() {
                return Ok(None);
            }
            batch = json;
        }
        for (index, transform) in self.transforms.iter_mut().enumerate() {
            let traps = transform.traps();
            let outcome = transform.process(&self.runtime, &batch);
            self.stats.plugin_traps += transform.traps().saturating_sub(traps);
            if transform.take_rolled_back() {
                self.config.transforms[index] = transform.source().clone();
                self.rollbacks.push(index);
            }
            match outcome? {
                StageOutcome::Passed(out) => {
                    self.stats.filtered += batch.len().saturating_sub(out.len()) as u64;
                    batch = out;
                }
                StageOutcome::DeadLetter(reason) => {
                    tracing::warn!(%reason, records = batch.len(), "transform rejected a batch");
                    self.dead_letter(&batch, &reason)?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(batch))
    }

    /// Windows and aggregates over the decoded events of `batch` (dead-lettering the records
    /// that did not decode), then writes what the batch made due.
    fn process_events(
        &mut self,
        batch: RawBatch,
        decoded: DecodedBatch,
        now_ms: i64,
    ) -> Result<(), PipelineError> {
        self.dead_letter_rows(&batch, &decoded.errors)?;
        self.stats.events += decoded.times.len() as u64;
        let key = self.operator_key(batch.partition);
        let (operator, shadows) = self.operator_and_shadows(batch.partition)?;
        shadows.prepare(key, operator);
        let replayed = operator.replayed();
        let out = operator.process(batch.partition, &decoded, &batch.source_offsets, now_ms);
        let replayed = operator.replayed() - replayed;
        self.write_events(&batch, &decoded, out, replayed)
    }

    /// a side output): its position moves past it.
    pub fn account_for(&mut self, partition: u32, offset: i64) {
        let next = self.next_offsets.entry(partition).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }

    /// Lets processing time pass without input (idle partitions, time triggers).
    pub fn tick_at(&mut self, now_ms: i64) -> Result<(), PipelineError> {
        let mut outs = Vec::with_capacity(self.operators.len());
        for (&partition, operator) in &mut self.operators {
            let out = count_trap(&mut self.stats, operator.tick(now_ms))?;
            self.shadows.observe(partition, &out);
            if out.expired > 0 {
                tracing::warn!(
                    partition,
                    groups = out.expired,
                    "no events for state.ttl: open windows dropped"
                );
                self.stats.expired += out.expired;
            }
            outs.push((partition, out));
        }
        for (partition, out) in outs {
            self.write(partition, out)?;
        }
        // Candidates that stopped are dropped from every operator.
        for name in self.shadows.stopped() {
            for operator in self.operators.values_mut() {
                operator.detach(&name);
            }
        }
        Ok(())
    }

    /// From now on, results written as JSON lines are encoded and written by a thread of their
    /// own (see [`crate::sink::LinesAhead`]): for bounded runs, where the loop's time is the
    /// limit. [`Pipeline::flush`] and [`Pipeline::finish`] still wait until they are written.
    pub fn write_results_ahead(&mut self) -> Result<(), PipelineError> {
        Ok(self.outputs.results.write_ahead()?)
    }

    /// The configuration the pipeline runs (plugins as swapped since the start).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Number of window operators (one per partition read, for Kafka sources).
    pub fn operator_count(&self) -> usize {
        self.operators.len()
    }

    /// Observe, for every result, the time from its window's end (event time) to its
    /// emission (processing time), seconds.
    pub fn set_emit_lag(&mut self, histogram: prometheus_client::metrics::histogram::Histogram) {
        self.emit_lag = Some(histogram);
    }

    /// Transforms that went back to their previous version since the last call (see
    /// `plugins.rollback_traps` and the `rollback` trap policy).
    pub fn take_rollbacks(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.rollbacks)
    }

    /// The aggregate plugin versions, as recorded in checkpoints.
    pub fn plugin_versions(&self) -> Vec<String> {
        self.operators
            .values()
            .chain(self.spare.as_ref())
            .next()
            .map(Operator::plugin_versions)
            .unwrap_or_default()
    }

    /// The partition was taken away (a rebalance): drops its windows, which its next owner
    /// rebuilds by reading again from its committed
    /// [`Progress`](eddy_engine::progress::Progress).
    pub fn revoke(&mut self, partition: u32) {
        if self.per_partition {
            self.operators.remove(&partition);
            self.shadows.forget(partition);
        }
        self.ready.remove(&partition);
        self.next_offsets.remove(&partition);
    }

    /// The input has ended: fires every open window and flushes the outputs.
    pub fn finish(&mut self) -> Result<Stats, PipelineError> {
        let mut outs = Vec::with_capacity(self.operators.len());
        for (&partition, operator) in &mut self.operators {
            let out = count_trap(&mut self.stats, operator.close())?;
            self.shadows.observe(partition, &out);
            outs.push((partition, out));
        }
        for (partition, out) in outs {
            self.write(partition, out)?;
        }
        self.outputs.flush()?;
        Ok(self.stats)
    }

    /// Whether results go into PostgreSQL transactions committed with the progress
    /// (exactly-once into PostgreSQL).
    pub fn commits_results(&mut self) -> bool {
        self.outputs
            .results
            .postgres()
            .is_some_and(|table| table.is_transactional())
    }

    /// Exactly-once into PostgreSQL: sends the results written so far, writes `progress`
    /// for `pipeline` (with the checkpoint it belongs to) and commits both at once.
    pub fn commit_results(
        &mut self,
        pipeline: &str,
        progress: &[eddy_engine::progress::Progress],
        checkpoint: Option<u64>,
    ) -> Result<(), PipelineError> {
        self.outputs.flush()?;
        if let Some(table) = self.outputs.results.postgres() {
            table
                .commit(pipeline, progress, checkpoint)
                .map_err(SinkError::from)?;
        }
        Ok(())
    }

    /// Whether dead letters go to a PostgreSQL table, written (and discarded) with the
    /// results.
    pub fn commits_dead_letters(&self) -> bool {
        matches!(
            self.outputs.dead_letter,
            crate::sink::Writer::PostgresSide(_)
        )
    }

    /// Reports PostgreSQL outages (retried) to `health`.
    pub fn watch_outputs(&mut self, health: &std::sync::Arc<crate::health::Health>) {
        if let Some(table) = self.outputs.results.postgres() {
            table.watch(std::sync::Arc::clone(health));
        }
    }

    /// Exactly-once into PostgreSQL: drops the results written since the last commit.
    pub fn discard_results(&mut self) -> Result<(), PipelineError> {
        if let Some(table) = self.outputs.results.postgres() {
            table.discard().map_err(SinkError::from)?;
        }
        Ok(())
    }

    /// Flushes the outputs (for Kafka, checks the delivery reports).
    pub fn flush(&mut self) -> Result<(), PipelineError> {
        self.outputs.flush()?;
        Ok(())
    }
}

/// Counts an aggregator's trap (an operator's error) in `stats.plugin_traps`.
pub(crate) fn count_trap<T>(
    stats: &mut Stats,
    result: Result<T, PluginError>,
) -> Result<T, PluginError> {
    if let Err(PluginError::Trap { .. }) = &result {
        stats.plugin_traps += 1;
    }
    result
}
