//! The one path that starts the process: config → embedded cluster (when asked) → HTTP
//! endpoint (health, metrics, admin API) → outputs and the pipeline → the bounded loop (file,
//! stdin, generator) or the Kafka loop → graceful shutdown of both.

mod bounded;
mod kafka_loop;
mod read_ahead;
mod shadows;
mod stop;

use std::sync::Arc;

use eddy_engine::config::{Config, SourceConfig};
use eddy_engine::stats::Stats;
pub use kafka_loop::KafkaRun;
pub use stop::StopFlag;

use crate::http::auth_limit::AuthLimiter;
use crate::http::{self, Health, Server, admin::AdminState};
use crate::kafka::Embedded;
use crate::metrics::Metrics;
use crate::pipeline::PipelineError;
use crate::plugin::{Control, Runtime};

/// What a run reports to and takes changes from, besides its config.
#[derive(Default, Clone)]
pub struct Services {
    /// Readiness.
    pub health: Arc<Health>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Changes from the admin API (plugin activations), and where they are recorded.
    pub control: Option<Arc<Control>>,
    /// A plugin runtime to share (with the admin API's upload checks).
    pub runtime: Option<Arc<Runtime>>,
}

/// Runs the pipeline `config` describes until its source ends or `stop` is set: starts the
/// embedded Kafka cluster when the config asks for it, serves `http.listen` (health, metrics
/// and the admin API, whatever the source), runs the loop, then shuts the endpoint down.
pub fn run(config: &Config, stop: &StopFlag) -> Result<Stats, PipelineError> {
    let embedded = start_embedded(config)?;
    let brokers = embedded
        .as_ref()
        .map_or_else(|| config.kafka.brokers.clone(), Embedded::bootstrap_servers);
    let (services, server) = start_services(config)?;
    stop.exit_after(config.state.shutdown_timeout)?;
    let result = run_with(config, &brokers, stop, services);
    if let Some(server) = server {
        server.shutdown();
    }
    result
}

/// Like [`run`], on the given bootstrap servers, with `services` made by the caller (no
/// embedded cluster, no HTTP endpoint of its own).
pub fn run_with(
    config: &Config,
    brokers: &str,
    stop: &StopFlag,
    services: Services,
) -> Result<Stats, PipelineError> {
    if !matches!(config.source, SourceConfig::Kafka { .. }) {
        return bounded::run(config, brokers, stop, &services);
    }
    let mut run = KafkaRun::start_with(config, brokers, services)?;
    run.stop_waiting_when(stop.shared());
    tracing::info!(brokers, "pipeline started");
    while !stop.is_set() {
        match run.round() {
            Ok(_) => {}
            // Asked to stop meanwhile, and Kafka failed (e.g. where partitions assigned as
            // others left continue could not be read): what the pipeline holds is still
            // consistent; stop as asked. Any other error (a trap, a state failure) stops here.
            Err(error @ PipelineError::Kafka(_)) if stop.is_set() => {
                tracing::warn!(%error, "the last round failed while stopping");
            }
            Err(error) => return Err(error),
        }
    }
    tracing::info!("stopping: checkpoint and commit");
    run.shutdown(false)
}

/// The embedded cluster with the config's topics, when `kafka.brokers` asks for it and some
/// input or output is a Kafka topic.
fn start_embedded(config: &Config) -> Result<Option<Embedded>, PipelineError> {
    if !config.kafka.is_embedded() || config.kafka_topics().is_empty() {
        return Ok(None);
    }
    let embedded = Embedded::start()?;
    for (_, topic) in config.kafka_topics() {
        embedded.create_topic(topic, config.kafka.embedded_partitions)?;
    }
    tracing::info!(
        brokers = %embedded.bootstrap_servers(),
        "embedded Kafka cluster started: other clients reach it at this bootstrap address"
    );
    Ok(Some(embedded))
}

/// Readiness, metrics and one plugin runtime; with `http.listen`, the admin API's registry
/// and the endpoint serving them all.
fn start_services(config: &Config) -> Result<(Services, Option<Server>), PipelineError> {
    let mut services = Services::default();
    let runtime = Arc::new(Runtime::with_metrics(
        &config.plugins,
        Arc::clone(&services.metrics.plugins),
    )?);
    services.runtime = Some(Arc::clone(&runtime));
    let Some(listen) = config.http.listen else {
        return Ok((services, None));
    };
    let control = Arc::new(Control::open(&config.admin.registry_dir)?);
    services.control = Some(Arc::clone(&control));
    let admin = Arc::new(AdminState {
        control,
        runtime,
        token: config.admin.token.clone(),
        max_upload_bytes: config.admin.max_upload_bytes,
        uploads: services.metrics.uploads.clone(),
        auth_failures: services.metrics.admin_auth_failures.clone(),
        auth_limit: AuthLimiter::new(config.admin.failed_auth_per_minute),
        rate_limited: services.metrics.admin_rate_limited.clone(),
        upload_slots: Arc::new(tokio::sync::Semaphore::new(
            config.admin.max_concurrent_uploads,
        )),
    });
    let router = http::router(
        Arc::clone(&services.health),
        Arc::clone(&services.metrics),
        Some(admin),
    );
    let server = http::serve(listen, router, &config.http)?;
    Ok((services, Some(server)))
}
