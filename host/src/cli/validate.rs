//! `eddy validate`: everything `eddy run` would refuse at start, found without running — the
//! config's values, then each plugin loaded and configured in its sandbox, the input file, and
//! the HTTP address. Every error names its config key.

use std::net::TcpListener;

use eddy_engine::config::{Config, SourceConfig};

use crate::plugin::{PluginError, Runtime, TransformPlugin, WasmAggregator};

/// A config key `eddy run` would refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config key `{key}`: {message}")]
pub struct Refused {
    /// Dotted path of the key, e.g. `aggregates.p99.config`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn refused(key: impl Into<String>, message: impl Into<String>) -> Refused {
    Refused {
        key: key.into(),
        message: message.into(),
    }
}

/// Every problem of `config` that `eddy run` would stop on, in config order (empty: fine).
pub fn check(config: &Config) -> Vec<Refused> {
    let mut problems = Vec::new();
    match Runtime::new(&config.plugins) {
        Ok(runtime) => check_plugins(config, &runtime, &mut problems),
        Err(error) => problems.push(refused("plugins", error.to_string())),
    }
    if let SourceConfig::File { path } = &config.source
        && !path.is_file()
    {
        problems.push(refused(
            "source.path",
            format!("{} is not a readable file", path.display()),
        ));
    }
    if let Some(listen) = config.http.listen
        && let Err(error) = TcpListener::bind(listen)
    {
        problems.push(refused(
            "http.listen",
            format!("cannot listen on {listen}: {error}"),
        ));
    }
    problems
}

fn check_plugins(config: &Config, runtime: &Runtime, problems: &mut Vec<Refused>) {
    let plugin_key = |key: String, plugin: &str, error: PluginError| match error {
        PluginError::Read { .. } => refused(key, missing(runtime, plugin)),
        PluginError::Config { message, .. } => refused(key.replace(".plugin", ".config"), message),
        other => refused(key, other.to_string()),
    };
    for aggregate in &config.aggregates {
        let key = format!("aggregates.{}.plugin", aggregate.name);
        let made = runtime.load(&aggregate.plugin).and_then(|loaded| {
            WasmAggregator::new(runtime, &loaded, &aggregate.config.to_string())
        });
        if let Err(error) = made {
            problems.push(plugin_key(key, &aggregate.plugin, error));
        }
    }
    for (index, stage) in config.transforms.iter().enumerate() {
        let key = format!("transforms.{index}.plugin");
        let made = runtime
            .load(&stage.plugin)
            .and_then(|loaded| TransformPlugin::new(runtime, &loaded, &stage.config.to_string()));
        if let Err(error) = made {
            problems.push(plugin_key(key, &stage.plugin, error));
        }
    }
}

/// Why `plugin` could not be read: a missing file, or an unknown built-in (with the ones
/// there are).
fn missing(runtime: &Runtime, plugin: &str) -> String {
    let path = runtime.resolve(plugin);
    if plugin.ends_with(".wasm") || plugin.contains('/') {
        return format!("{} does not exist or cannot be read", path.display());
    }
    let mut builtins: Vec<String> = std::fs::read_dir(runtime.plugin_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".wasm").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    builtins.sort();
    if builtins.is_empty() {
        format!(
            "no built-in plugin `{plugin}`: {} holds no plugins (build them with scripts/build-plugins.sh, or set plugins.dir)",
            runtime.plugin_dir().display()
        )
    } else {
        format!(
            "no built-in plugin `{plugin}` (built-ins: {}); a file needs a path or a .wasm name",
            builtins.join(", ")
        )
    }
}
