//! What the engine needs of an aggregate plugin: the eight calls of the WIT `aggregate`
//! interface (`describe` and `configure` answered when the instance is made, then
//! `accumulate`, `merge`, `finish`, `release`, `save` and `restore` over many groups at once,
//! each group addressed by a slot number the engine assigns). The host implements it with
//! wasmtime; tests implement it in plain Rust.

use super::{PluginError, SavedColumn};

/// What a plugin does to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Keeps per-group state and produces one result per group (window, key).
    Aggregator,
    /// Turns every event into exactly one event.
    Map,
    /// Keeps some events unchanged and drops the rest.
    Filter,
    /// Turns every event into zero or more events.
    FlatMap,
}

/// What a plugin says about itself (its `describe()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Short name, e.g. `sum`.
    pub name: String,
    /// Semantic version, e.g. `1.2.0`.
    pub version: String,
    /// What it does.
    pub kind: PluginKind,
    /// Version of the bytes `save` writes: two versions with the same state format can take
    /// over each other's groups.
    pub state_format: u32,
    /// One line for people.
    pub description: String,
    /// JSON Schema (as JSON text) of the configuration it accepts.
    pub config_schema: String,
}

/// A configured aggregate plugin instance that keeps one accumulator per slot.
pub trait AggregatorInstance: Send {
    /// What the plugin says about itself.
    fn info(&self) -> &PluginInfo;

    /// Names of the values `finish` produces per group, as `configure` returned them.
    fn outputs(&self) -> &[String];

    /// Adds `values[i]` to group `slots[i]` (a slot without a group starts an empty one).
    fn accumulate(&mut self, slots: &[u32], values: &[f64]) -> Result<(), PluginError>;

    /// Merges group `sources[i]` into `targets[i]` and frees `sources[i]`, in order.
    fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError>;

    /// Current results of the groups, `outputs().len()` values per slot, row-major.
    fn finish(&mut self, slots: &[u32]) -> Result<Vec<f64>, PluginError>;

    /// Frees the groups; their slots may be used again.
    fn release(&mut self, slots: &[u32]) -> Result<(), PluginError>;

    /// The groups' state in the plugin's state format, one row per slot.
    fn save(&mut self, slots: &[u32]) -> Result<SavedColumn, PluginError>;

    /// Replaces the groups in `slots` with state `save` wrote in the same format.
    fn restore(&mut self, slots: &[u32], states: &SavedColumn) -> Result<(), PluginError>;
}

/// Makes configured aggregate instances: the host loads Wasm components, tests make native
/// ones.
pub trait AggregatorLoader {
    /// An instance of the plugin `source` (a built-in name, a path or a registry file)
    /// configured with `config` (JSON).
    fn load_aggregator(
        &self,
        source: &str,
        config: &str,
    ) -> Result<Box<dyn AggregatorInstance>, PluginError>;
}
