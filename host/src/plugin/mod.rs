//! WebAssembly plugins: the shared runtime, aggregator and transform instances.

mod aggregator;
pub mod bindings;
mod describe;
mod error;
mod metrics;
mod runtime;
mod state;
mod transform;

pub use aggregator::AggregatorPlugin;
pub use bindings::ByteColumn;
pub use describe::describe;
pub use error::PluginError;
pub use metrics::{CallLabels, PluginCalls, PluginMetrics};
pub use runtime::{Loaded, Runtime};
pub use state::PluginState;
pub use transform::TransformPlugin;
