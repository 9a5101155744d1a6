//! The bounded loop: a source that ends (a file, standard input, the generator) read batch by
//! batch into the pipeline until it ends or the process is asked to stop; then every open
//! window fires and the outputs (Kafka topics too) are flushed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_engine::config::Config;
use eddy_engine::source;
use eddy_engine::stats::Stats;

use super::read_ahead::ReadAhead;
use super::shadows::Published;
use super::{Services, StopFlag, kafka_loop};
use crate::pipeline::{Outputs, Pipeline, PipelineError};
use crate::plugin::Runtime;

/// How often shadow runs are published (to the admin API and the metrics).
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

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
    pipeline.write_results_ahead()?;
    if let Some(control) = &services.control {
        control.set_stages(&pipeline.stages());
    }
    let source = source::open(&config.source, config.batch_linger)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut batches =
        ReadAhead::start(source, pipeline.decoder_ahead(), config.batch_size, threads)?;
    services.health.set_ready();
    let mut shadows = Published::default();
    let mut published = Instant::now();
    while !stop.is_set() {
        let Some((batch, decoded)) = batches.next()? else {
            break;
        };
        let span = tracing::debug_span!("batch", records = batch.len());
        let _entered = span.enter();
        pipeline.process_decoded(batch, decoded)?;
        pipeline.migrate()?;
        if let Some(control) = services.control.as_ref().filter(|c| c.has_pending()) {
            pipeline.flush()?;
            pipeline.apply_changes(control)?;
        }
        services.metrics.pipeline.observe(&pipeline.stats(), 0);
        if published.elapsed() >= PUBLISH_EVERY {
            shadows.publish(&pipeline, services.control.as_deref(), &services.metrics);
            published = Instant::now();
        }
    }
    let stats = pipeline.finish()?;
    shadows.publish(&pipeline, services.control.as_deref(), &services.metrics);
    if let Some(producer) = &producer {
        producer.flush()?;
    }
    services.metrics.pipeline.observe(&stats, 0);
    Ok(stats)
}
