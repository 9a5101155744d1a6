//! The bounded loop: a source that ends (a file, standard input, the generator) read batch by
//! batch into the pipeline until it ends or the process is asked to stop; then every open
//! window fires and the outputs (Kafka topics too) are flushed.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use eddy_engine::config::Config;
use eddy_engine::decode::{DecodedBatch, Decoder};
use eddy_engine::event::RawBatch;
use eddy_engine::source::{self, Source};
use eddy_engine::stats::Stats;

use super::{Services, StopFlag, kafka_loop};
use crate::pipeline::{Outputs, Pipeline, PipelineError};
use crate::plugin::Runtime;

/// Runs `config` over its bounded source; `brokers` serve its Kafka outputs, if any.
/// Readiness is true while it runs and false, with the error, when it fails.
pub fn run(
    config: &Config,
    brokers: &str,
    stop: &StopFlag,
    services: &Services,
) -> Result<Stats, PipelineError> {
    let result = run_until_done(config, brokers, stop, services);
    if let Err(error) = &result {
        services.health.set_unready(error.to_string());
    }
    result
}

fn run_until_done(
    config: &Config,
    brokers: &str,
    stop: &StopFlag,
    services: &Services,
) -> Result<Stats, PipelineError> {
    let mut config = config.clone();
    if let Some(control) = &services.control {
        control.apply_kept(&mut config)?;
    }
    let producer = kafka_loop::producer_for(&config, brokers)?;
    let outputs = Outputs::open(&config, producer.as_ref())?;
    let runtime = match &services.runtime {
        Some(runtime) => Arc::clone(runtime),
        None => Arc::new(Runtime::with_metrics(
            &config.plugins,
            Arc::clone(&services.metrics.plugins),
        )?),
    };
    let mut pipeline = Pipeline::with_runtime(&config, runtime, outputs)?;
    pipeline.set_emit_lag(services.metrics.pipeline.event_time_lag.clone());
    if let Some(control) = &services.control {
        control.set_stages(&pipeline.stages());
    }
    let source = source::open(&config.source, config.batch_linger)?;
    let batches = read_ahead(source, pipeline.decoder_ahead(), config.batch_size)?;
    services.health.set_ready();
    while !stop.is_set() {
        // The reader sends the end of the input or its error before it ends: gone before
        // that, it panicked, and what it had not read must not pass for the end.
        let next = batches.recv().map_err(|_| {
            io::Error::other("the source reader thread stopped before the end of the input")
        })?;
        let Some((batch, decoded)) = next? else {
            break;
        };
        pipeline.process_decoded(batch, decoded)?;
        if let Some(control) = services.control.as_ref().filter(|c| c.has_pending()) {
            pipeline.flush()?;
            pipeline.apply_changes(control)?;
        }
        services.metrics.pipeline.observe(&pipeline.stats(), 0);
    }
    let stats = pipeline.finish()?;
    if let Some(producer) = &producer {
        producer.flush()?;
    }
    services.metrics.pipeline.observe(&stats, 0);
    Ok(stats)
}

/// Batches decoded ahead (at most this many waiting): reading and decoding run on a thread of
/// their own beside windows, aggregates and writing, which is most of what a second core can
/// take off the loop.
const READ_AHEAD: usize = 2;

/// What the reader hands over: a batch and its events, the end of the input, or why reading
/// failed.
type ReadAhead = io::Result<Option<(RawBatch, DecodedBatch)>>;

/// Reads `source` and decodes each batch with `decoder` (if any: none when transforms come
/// first) on a thread of its own. The thread
/// ends after the input's end or an error (both sent), or when the receiver is dropped and a
/// batch is waiting to be sent.
fn read_ahead(
    mut source: Box<dyn Source + Send>,
    decoder: Option<Decoder>,
    batch_size: usize,
) -> io::Result<Receiver<ReadAhead>> {
    let (sender, receiver) = sync_channel(READ_AHEAD);
    let reader = move || {
        loop {
            let next = source.next_batch(batch_size).map(|batch| {
                batch.map(|batch| {
                    let decoded = decoder
                        .as_ref()
                        .map(|decoder| decoder.decode(&batch))
                        .unwrap_or_default();
                    (batch, decoded)
                })
            });
            let last = !matches!(next, Ok(Some(_)));
            if sender.send(next).is_err() || last {
                return;
            }
        }
    };
    std::thread::Builder::new()
        .name("eddy-reader".into())
        .spawn(reader)?;
    Ok(receiver)
}
