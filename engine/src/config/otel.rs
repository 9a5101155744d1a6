//! Traces: OpenTelemetry spans of batches, plugin calls, checkpoints and swaps, exported over
//! OTLP, with W3C trace context carried through Kafka headers.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Trace settings. Off unless `endpoint` is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OtelConfig {
    /// OTLP/HTTP traces endpoint of a collector, e.g. `http://otel-collector:4318/v1/traces`
    /// (spans are sent as protobuf). Unset: no traces, and no tracing cost.
    pub endpoint: Option<String>,
    /// `service.name` of the spans.
    pub service_name: String,
    /// Share of batches traced, 0 to 1. A record whose `traceparent` header is sampled is
    /// linked to whatever its batch's decision is.
    pub sampling_ratio: f64,
    /// Finished spans waiting for the exporter; when the collector is slow or gone, spans
    /// beyond this are dropped and counted (`eddy_trace_spans_dropped_total`), never waited
    /// for.
    pub queue_size: usize,
    /// Time one export to the collector may take.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub timeout: Duration,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: "eddy".into(),
            sampling_ratio: 1.0,
            queue_size: 4096,
            timeout: Duration::from_secs(5),
        }
    }
}

impl OtelConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: format!("otel.{key}"),
            message: message.into(),
        };
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(invalid("sampling_ratio", "must be between 0 and 1"));
        }
        if self.queue_size == 0 {
            return Err(invalid("queue_size", "must be at least 1"));
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(invalid(
                "endpoint",
                "must be an http:// or https:// URL of an OTLP/HTTP traces endpoint",
            ));
        }
        if self.service_name.trim().is_empty() {
            return Err(invalid("service_name", "must not be empty"));
        }
        Ok(())
    }
}
