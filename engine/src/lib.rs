//! Eddy's event-time engine: everything between a raw record and a window result, with no I/O
//! beneath it: no Kafka client, no RocksDB, no Wasm runtime, no async runtime. The host crate
//! (`eddy`) brings those and drives this engine.
//!
//! How a record flows, one module per step:
//!
//! ```text
//! config      what the pipeline is (sources, windows, triggers, aggregates, outputs)
//! source      raw records from a file, stdin or the generator    (Kafka: in the host)
//! event       RawBatch: payloads, timestamps, source offsets; Origin; the processing clock
//! decode      key, event time and aggregate fields out of each JSON record  --bad--> dead letter
//! watermark   bounded out-of-orderness per partition, idle partitions ignored
//! window      tumbling | sliding | session assignment
//! groups      one slot per (key, window); session merges
//! aggregate   the aggregate plugins driven over slots (AggregatorInstance: the WIT's calls)
//! trigger     when a group's result is emitted (event time, processing time, count)
//! operator    windows x groups x aggregates -> emitted results, late events  --late--> side
//! results     results and side records encoded as JSON lines
//! snapshot    an operator's state; progress and recovery: where reading resumes
//! delta       an operator's changes since its previous checkpoint, applied to a snapshot
//! state       checkpoints: the StateBackend trait, the memory backend, shared hand-over files
//! stats       counters of what a pipeline did
//! shadow      a candidate version's results compared with the live ones (shadow runs)
//! ```

#![deny(unsafe_code)]

pub mod config;
pub mod source;
pub mod generator;
pub mod event;
pub mod decode;
pub mod watermark;
pub mod window;
pub mod groups;
pub mod aggregate;
pub mod trigger;
pub mod operator;
pub mod results;
pub mod snapshot;
pub mod delta;
pub mod progress;
pub mod recovery;
pub mod state;
pub mod stats;
pub mod shadow;
