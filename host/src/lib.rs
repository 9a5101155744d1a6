//! Eddy: a stream processor whose user code (maps, filters and windowed aggregates) runs as
//! sandboxed WebAssembly components. This crate is the host: everything with I/O around the
//! event-time engine of the `eddy_engine` crate (decode, watermarks, windows, triggers,
//! groups, the aggregate operator, snapshots).
//!
//! Modules in the order a record meets them, lower layers first (a module uses only those
//! above it in this list, and the engine):
//!
//! ```text
//! plugin     wasmtime: the runtime, aggregator and transform instances in their sandboxes,
//!            the registry of uploaded versions, which version each stage runs
//! metrics    Prometheus registries of every counter, gauge and histogram
//! telemetry  OpenTelemetry traces over OTLP, W3C trace context in and out of Kafka headers
//! health     readiness: set by the loops and sinks, reported on /health/ready
//! schema_registry  Avro schemas by id from a schema registry, retried while it is down
//! kafka      Kafka clients: group consumer, producer, embedded cluster, output reader
//! state      checkpoints on disk (RocksDB) and opening the configured backend
//! sink       writers of results, late events and dead letters: JSON lines, Kafka topics, or
//!            (results) a PostgreSQL table upserted, exactly-once with its progress table
//! pipeline   source batch -> transform stages -> decode -> operator per partition -> sinks;
//!            hot swap and admin changes between batches
//! http       the endpoint: health probes, metrics, the admin API
//! app        the one start path: config -> HTTP -> bounded loop or Kafka loop -> shutdown
//! cli        the other commands: demo, plugin new/test, the admin client, generate
//! ```

#![deny(unsafe_code)]

mod allocator;
pub mod plugin;
pub mod metrics;
pub mod telemetry;
pub mod health;
pub mod schema_registry;
pub mod kafka;
pub mod state;
pub mod sink;
pub mod pipeline;
pub mod http;
pub mod app;
pub mod cli;
#[cfg(test)]
mod test_certs;
