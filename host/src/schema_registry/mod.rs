//! A client of a schema registry's Confluent-compatible API (Confluent Schema Registry,
//! Apicurio Registry's `ccompat` API, Redpanda): the Avro or Protobuf schema a record's
//! wire-format id names,
//! fetched once (the decoder keeps what it compiled by id).
//!
//! An unreachable registry (no answer, 5xx, refused credentials) is retried with backoff
//! (100 ms doubling to 5 s) for `schema_registry.retry_timeout`: meanwhile the loop takes no
//! input and readiness is false with the reason. Records whose schemas are cached go on as
//! soon as the registry answers again; a record whose schema could not be had in that time
//! is dead-lettered with the reason, as is one whose id the registry does not know.

mod http;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eddy_engine::config::SchemaRegistryConfig;
use eddy_engine::decode::avro::Plan;
use eddy_engine::decode::protobuf::ProtoSchema;
use eddy_engine::decode::{SchemaError, SchemaSource};

pub use http::{Fetched, RegistryError, RegistryHttp};

use crate::health::Health;
use crate::metrics::Metrics;

/// The first wait before a retry; doubled each time up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between retries.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Avro schemas by id from the registry, retried while it is unreachable.
#[derive(Debug)]
pub struct SchemaRegistry {
    http: RegistryHttp,
    retry_timeout: Duration,
    health: OnceLock<Arc<Health>>,
    metrics: OnceLock<Arc<Metrics>>,
}

impl SchemaRegistry {
    /// A client of the registry `config` names (none: no `schema_registry.url`).
    pub fn new(config: &SchemaRegistryConfig) -> Result<Option<Self>, RegistryError> {
        let Some(http) = RegistryHttp::new(config)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            http,
            retry_timeout: config.retry_timeout,
            health: OnceLock::new(),
            metrics: OnceLock::new(),
        }))
    }

    /// Reports outages to `health` and counts requests in `metrics`.
    pub fn watch(&self, health: Arc<Health>, metrics: Arc<Metrics>) {
        let _ = self.health.set(health);
        let _ = self.metrics.set(metrics);
    }

    fn count(&self, outcome: &'static str) {
        if let Some(metrics) = self.metrics.get() {
            metrics.schema_registry_request(outcome);
        }
    }

    /// The schema text with `id`, of type `kind` (`AVRO`, `PROTOBUF`), retried while the
    /// registry is unreachable.
    pub fn fetch(&self, id: u32, kind: &str) -> Result<String, SchemaError> {
        let started = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut attempt = 0u32;
        loop {
            let message = match self.http.schema(id) {
                Ok(Fetched::Schema(found, text)) if found == kind => {
                    self.count("ok");
                    if attempt > 0 {
                        tracing::info!(id, attempts = attempt, "schema registry reachable again");
                    }
                    return Ok(text);
                }
                Ok(Fetched::Schema(found, _)) => {
                    self.count("unknown");
                    return Err(SchemaError::Unknown(
                        id,
                        format!("is a {found} schema, not {kind}"),
                    ));
                }
                Ok(Fetched::NotFound(message)) => {
                    self.count("unknown");
                    return Err(SchemaError::Unknown(id, message));
                }
                Err(error) => error.to_string(),
            };
            self.count("unreachable");
            if started.elapsed() >= self.retry_timeout {
                return Err(SchemaError::Unavailable(
                    id,
                    format!(
                        "{message} (for {} s, schema_registry.retry_timeout)",
                        started.elapsed().as_secs()
                    ),
                ));
            }
            attempt += 1;
            let reason = format!(
                "schema registry at {} unreachable fetching schema {id} (retry {attempt}, waiting {delay:?}; input stopped): {message}",
                self.http.url()
            );
            tracing::warn!("{reason}");
            if let Some(health) = self.health.get() {
                health.set_unready(reason);
                health.beat();
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
}

impl SchemaSource for SchemaRegistry {
    fn avro(&self, id: u32) -> Result<Arc<Plan>, SchemaError> {
        let text = self.fetch(id, "AVRO")?;
        Plan::parse(&text)
            .map(Arc::new)
            .map_err(|e| SchemaError::Unknown(id, e.to_string()))
    }

    fn protobuf(&self, id: u32) -> Result<Arc<ProtoSchema>, SchemaError> {
        let text = self.fetch(id, "PROTOBUF")?;
        ProtoSchema::compile(&text)
            .map(Arc::new)
            .map_err(|e| SchemaError::Unknown(id, e.to_string()))
    }
}

#[cfg(test)]
mod tests;
