//! WebAssembly plugins: the shared wasmtime runtime, aggregator and transform instances in
//! sandboxes of their own, the registry of uploaded versions, and the record of which version
//! each stage runs.

mod activations;
mod aggregator;
mod bindings;
mod builtins;
mod columns;
mod control;
mod describe;
mod error;
mod limits;
mod metrics;
mod registry;
mod runtime;
mod sandbox;
mod shadows;
mod transform;

pub use activations::{Kept, StagePlugin, Target};
pub use aggregator::WasmAggregator;
pub use builtins::{builtin_dir, search_path};
pub use control::{Change, Control, StageView};
pub use describe::describe;
pub use eddy_engine::aggregate::{PluginError, PluginInfo, PluginKind};
pub use metrics::{CallLabels, PluginCalls, PluginMetrics};
pub use registry::{Entry, Registry, RegistryError};
pub use runtime::{Loaded, Runtime};
pub use sandbox::Sandbox;
pub use shadows::{ShadowStatus, ShadowView, Shadows};
pub use transform::TransformPlugin;
