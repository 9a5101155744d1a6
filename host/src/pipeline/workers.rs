//! Workers: the batches a round read from several partitions are decoded and windowed on
//! several threads at once (`workers`), then written by the loop in partition order.
//!
//! Each partition has an operator of its own (its watermark, windows and plugin instances), so
//! partitions share no state while they are computed. A round's batch of a partition goes to
//! one worker, chosen by the partition's place among the operators (with 4 partitions and 2
//! workers, the 1st and 3rd to one, the 2nd and 4th to the other); the loop's own thread is
//! one of the workers. What a batch made (its results, late events, refused events, a trap)
//! waits as [`Computed`] until the loop takes it, in the order it always wrote batches in, so
//! the outputs, exactly-once transactions, trap handling and checkpoints see what they saw
//! with one worker. Reading, writing, checkpoints, rebalances and swaps stay on the loop.

use std::collections::BTreeMap;

use eddy_engine::aggregate::PluginError;
use eddy_engine::decode::{DecodedBatch, Decoder};
use eddy_engine::event::RawBatch;
use eddy_engine::operator::{Operator, Output};

use super::{Pipeline, PipelineError};

/// What a partition's batch made, computed ahead by a worker.
pub(super) struct Computed {
    /// The batch's first source offset and length, to check that it is the batch taken.
    batch: (Option<i64>, usize),
    /// The batch, decoded.
    pub(super) decoded: DecodedBatch,
    /// What the operator made of it.
    pub(super) out: Result<Output, PluginError>,
    /// Events the operator counted as replayed.
    pub(super) replayed: u64,
}

impl Computed {
    /// Whether this was computed from `batch`.
    pub(super) fn is_of(&self, batch: &RawBatch) -> bool {
        self.batch == identity(batch)
    }
}

fn identity(batch: &RawBatch) -> (Option<i64>, usize) {
    (batch.source_offsets.first().copied(), batch.len())
}

/// The threads beside the loop's own.
pub(super) struct Workers {
    count: usize,
    pool: Option<rayon::ThreadPool>,
}

impl Workers {
    /// `count` workers: the loop's thread and `count - 1` others (none for 0 or 1).
    pub(super) fn new(count: usize) -> Self {
        let pool = (count > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(count - 1)
                    .thread_name(|i| format!("eddy-worker-{}", i + 1))
                    .build()
            })
            .and_then(|built| match built {
                Ok(pool) => Some(pool),
                Err(error) => {
                    tracing::warn!(%error, "no worker threads: the loop computes alone");
                    None
                }
            });
        let count = if pool.is_some() { count } else { 1 };
        Self { count, pool }
    }

    /// Whether more than one thread computes.
    pub(super) fn parallel(&self) -> bool {
        self.pool.is_some()
    }

    /// Decodes and windows each job at processing time `now_ms`: a job is an operator's place
    /// among the pipeline's operators, the operator, its batch and the batch's span; the job
    /// of place `i` runs on worker `i % count`, and the loop's thread is worker 0. Returns
    /// what each made, by partition.
    pub(super) fn compute(
        &self,
        decoder: &Decoder,
        jobs: Vec<Job<'_>>,
        now_ms: i64,
    ) -> BTreeMap<u32, Computed> {
        let mut shares: Vec<Vec<Job<'_>>> = (0..self.count).map(|_| Vec::new()).collect();
        for job in jobs {
            shares[job.place % self.count].push(job);
        }
        let run = |share: Vec<Job<'_>>| -> Vec<(u32, Computed)> {
            share
                .into_iter()
                .map(|job| {
                    let Job {
                        operator,
                        batch,
                        span,
                        ..
                    } = job;
                    let computed = span.in_scope(|| compute(decoder, operator, batch, now_ms));
                    (batch.partition, computed)
                })
                .collect()
        };
        let Some(pool) = &self.pool else {
            return shares.into_iter().flat_map(run).collect();
        };
        let mut shares = shares.into_iter();
        let own = shares.next().unwrap_or_default();
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut computed: BTreeMap<u32, Computed> = BTreeMap::new();
        pool.in_place_scope(|scope| {
            for share in shares.filter(|share| !share.is_empty()) {
                let sender = sender.clone();
                let run = &run;
                scope.spawn(move |_| {
                    // The receiver outlives the scope, so this send cannot fail.
                    let _ = sender.send(run(share));
                });
            }
            computed.extend(run(own));
        });
        drop(sender);
        computed.extend(receiver.into_iter().flatten());
        computed
    }
}

/// A partition's batch for a worker.
pub(super) struct Job<'a> {
    /// The operator's place among the pipeline's operators (which worker computes it).
    pub(super) place: usize,
    /// The partition's operator.
    pub(super) operator: &'a mut Operator,
    /// The batch.
    pub(super) batch: &'a RawBatch,
    /// The batch's span: plugin calls are its children.
    pub(super) span: tracing::Span,
}

/// Decodes `batch` and runs it through `operator`, as the loop would.
fn compute(decoder: &Decoder, operator: &mut Operator, batch: &RawBatch, now_ms: i64) -> Computed {
    let decoded = decoder.decode(batch);
    let replayed = operator.replayed();
    let out = operator.process(batch.partition, &decoded, &batch.source_offsets, now_ms);
    Computed {
        batch: identity(batch),
        decoded,
        out,
        replayed: operator.replayed() - replayed,
    }
}

impl Pipeline {
    /// Computes this round's `batches` (by partition) on the workers at processing time
    /// `now_ms`, each in its span from `spans`, when there is more than one worker, the source
    /// is partitioned, no transform comes first and at least two partitions have records.
    /// [`Pipeline::process_at`] then writes what each batch made instead of computing it; every
    /// batch given here must reach it unchanged before [`Pipeline::end_round`].
    pub fn prepare_round(
        &mut self,
        batches: &BTreeMap<u32, RawBatch>,
        spans: &BTreeMap<u32, tracing::Span>,
        now_ms: i64,
    ) -> Result<(), PipelineError> {
        self.ready.clear();
        let busy: Vec<u32> = batches
            .iter()
            .filter(|(_, batch)| !batch.is_empty())
            .map(|(&partition, _)| partition)
            .collect();
        if !self.workers.parallel()
            || !self.per_partition
            || !self.transforms.is_empty()
            || self.converter.is_some()
            || busy.len() < 2
        {
            return Ok(());
        }
        for &partition in &busy {
            let (operator, shadows) = self.operator_and_shadows(partition)?;
            shadows.prepare(partition, operator);
        }
        let jobs: Vec<Job<'_>> = self
            .operators
            .iter_mut()
            .enumerate()
            .filter_map(|(place, (partition, operator))| {
                let batch = batches.get(partition).filter(|batch| !batch.is_empty())?;
                let span = spans
                    .get(partition)
                    .cloned()
                    .unwrap_or_else(tracing::Span::none);
                Some(Job {
                    place,
                    operator,
                    batch,
                    span,
                })
            })
            .collect();
        self.ready = self.workers.compute(&self.decoder, jobs, now_ms);
        self.computed += self.ready.len() as u64;
        Ok(())
    }

    /// How many batches the workers computed ahead since the start (none with one worker).
    pub fn batches_computed(&self) -> u64 {
        self.computed
    }

    /// Ends a round: what the workers computed and the loop did not write (the round stopped
    /// on an error) leaves the state ahead of the outputs, so from then on the pipeline
    /// refuses to save or commit ([`PipelineError::Interrupted`]).
    pub fn end_round(&mut self) {
        if !self.ready.is_empty() {
            tracing::error!(
                partitions = ?self.ready.keys().collect::<Vec<_>>(),
                "a round stopped with computed batches not written: no checkpoint or commit from now on"
            );
            self.ready.clear();
            self.interrupted = true;
        }
    }

    /// Fails when a round stopped with computed batches not written (see
    /// [`Pipeline::end_round`]).
    pub fn check_whole(&self) -> Result<(), PipelineError> {
        if self.interrupted {
            return Err(PipelineError::Interrupted);
        }
        Ok(())
    }

    /// What the workers computed from `batch`, if they did. A batch other than the one they
    /// computed for its partition is refused: the operator is ahead of it.
    pub(super) fn take_computed(
        &mut self,
        batch: &RawBatch,
    ) -> Result<Option<Computed>, PipelineError> {
        let Some(computed) = self.ready.remove(&batch.partition) else {
            return Ok(None);
        };
        if computed.is_of(batch) {
            return Ok(Some(computed));
        }
        self.interrupted = true;
        Err(PipelineError::Interrupted)
    }

    /// Writes what the workers made of `batch`. An error other than the plugin's own (a
    /// trap, handled as without workers) leaves the operator ahead of the outputs.
    pub(super) fn write_computed(
        &mut self,
        batch: RawBatch,
        computed: Computed,
    ) -> Result<(), PipelineError> {
        let Computed {
            decoded,
            out,
            replayed,
            ..
        } = computed;
        let result = self
            .dead_letter_rows(&batch, &decoded.errors)
            .and_then(|()| {
                self.stats.events += decoded.times.len() as u64;
                self.write_events(&batch, &decoded, out, replayed)
            });
        if let Err(error) = &result
            && !matches!(error, PipelineError::Plugin(_))
        {
            self.interrupted = true;
        }
        result
    }
}
