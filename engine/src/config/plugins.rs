//! The plugins of a pipeline and the runtime's limits.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One aggregate of the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateConfig {
    /// Field name in the result.
    pub name: String,
    /// A built-in plugin name (`count`, `sum`, …, found in the built-in folder, see
    /// [`PluginsConfig::dir`]) or a path to a
    /// `.wasm` component.
    pub plugin: String,
    /// JSON pointer of the field aggregated. Without it every event contributes `1.0`; events
    /// without the field (or where it is `null`) do not contribute, as NULLs in SQL; an event
    /// where it holds anything else that is not a number (`"12"`, `true`, an object) goes to
    /// the dead-letter output with the reason.
    #[serde(default)]
    pub field: Option<String>,
    /// The plugin's configuration (a JSON object).
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

/// A map or filter stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// A plugin name found in `plugins.dir`, or a path to a `.wasm` component.
    pub plugin: String,
    /// The plugin's configuration (a JSON object).
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Plugin runtime settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder of the built-in plugins (`<name>.wasm`). Empty (the default): the first of
    /// `./dist/plugins`, `plugins/` beside the executable, `/usr/local/share/eddy/plugins` and
    /// `/usr/share/eddy/plugins` that exists.
    pub dir: PathBuf,
    /// Largest linear memory one plugin instance may grow to, in bytes.
    pub memory_limit_bytes: usize,
    /// Longest one call into a plugin may run before it is interrupted.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub call_timeout: Duration,
    /// What happens when a plugin traps twice on the same batch. A map or filter is retried
    /// once on a fresh instance first; an aggregator (Kafka source) on fresh instances from
    /// the partition's last checkpoint. With a file or stdin source an aggregator trap stops
    /// the pipeline: its groups' state is lost with the instance.
    pub on_trap: TrapPolicy,
    /// A version activated through the admin API that traps this many times within
    /// `rollback_window` is rolled back to the version it replaced, whatever `on_trap` says
    /// (an aggregator: in the Kafka loop, in place).
    pub rollback_traps: u32,
    /// See `rollback_traps`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "super::reference::DurationText")]
    pub rollback_window: Duration,
    /// Folder of the on-disk cache of compiled components (wasmtime's own cache, keyed by the
    /// component's bytes, the engine settings and the wasmtime version), so that a restart
    /// does not compile every plugin again. Default: `$XDG_CACHE_HOME/eddy`, else
    /// `$HOME/.cache/eddy`; no cache when neither is set. `null` or `""` turns it off; a
    /// folder that cannot be made or written turns it off with a warning. Whoever can write
    /// this folder can change the code the host runs: keep it private to the user Eddy runs
    /// as.
    #[schemars(extend("default" = "$XDG_CACHE_HOME/eddy"))]
    pub cache_dir: Option<PathBuf>,
}

/// The default `plugins.cache_dir`: `$XDG_CACHE_HOME/eddy`, else `$HOME/.cache/eddy` (each
/// only when absolute, as the XDG specification asks), else none.
pub fn default_cache_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .map(|dir| dir.join("eddy"))
        .or_else(|| absolute("HOME").map(|home| home.join(".cache").join("eddy")))
}

/// What to do with a batch a transform plugin trapped on twice.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrapPolicy {
    /// Send the batch to the dead-letter output with the trap as the reason, and go on.
    #[default]
    DeadLetter,
    /// Stop the pipeline with an error naming the plugin.
    Stop,
    /// Roll the stage back to the version it ran before its last activation and run the
    /// batch with that; a stage running its configured plugin sends the batch to the
    /// dead-letter output instead.
    Rollback,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            memory_limit_bytes: 256 << 20,
            call_timeout: Duration::from_secs(5),
            on_trap: TrapPolicy::DeadLetter,
            rollback_traps: 3,
            rollback_window: Duration::from_secs(60),
            cache_dir: default_cache_dir(),
        }
    }
}
