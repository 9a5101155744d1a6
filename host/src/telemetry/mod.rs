//! Traces: OpenTelemetry spans of batches, plugin calls, checkpoints and swaps, exported over
//! OTLP/HTTP when `otel.endpoint` is set, and W3C trace context through Kafka headers (a
//! record's `traceparent` becomes a link of its batch's span; every record Eddy writes to Kafka
//! carries the `traceparent` of the span that wrote it).
//!
//! Spans are `tracing` spans at debug level; the layer made here turns those of Eddy into
//! OpenTelemetry spans, whatever the log filter. Without an endpoint there is no layer and no
//! cost beyond a disabled span's check.

mod context;
mod export;

use std::sync::OnceLock;

use eddy_engine::config::OtelConfig;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use context::{current_traceparent, link_to, traceparent_of};

/// The provider of the installed layer, for [`shutdown`].
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Why traces cannot be exported as configured.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be made.
    #[error("otel.endpoint: {0}")]
    Exporter(String),
    /// The export thread could not be started.
    #[error("starting the trace export thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A layer exporting Eddy's spans as `config` says; `None` when `otel.endpoint` is not set.
/// Spans that do not fit the queue are counted in [`crate::metrics::trace_spans_dropped`].
pub fn layer<S>(
    config: &OtelConfig,
) -> Result<Option<Box<dyn Layer<S> + Send + Sync>>, TelemetryError>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let Some(endpoint) = &config.endpoint else {
        return Ok(None);
    };
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(export::UreqClient::new(config.timeout))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.as_str())
        .with_timeout(config.timeout)
        .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let processor = export::BoundedProcessor::start(
        exporter,
        config.queue_size,
        crate::metrics::trace_spans_dropped(),
    )?;
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sampling_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("eddy");
    let _ = PROVIDER.set(provider);
    let eddy_spans = tracing_subscriber::filter::filter_fn(|metadata| {
        metadata.is_span() && metadata.target().starts_with("eddy")
    });
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(eddy_spans);
    Ok(Some(Box::new(layer)))
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Sends the spans still queued and stops the export (at the end of the process).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        tracing::warn!(%error, "trace export did not shut down cleanly");
    }
}
