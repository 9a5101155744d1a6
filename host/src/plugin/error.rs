//! Errors of the plugin runtime.

use std::path::PathBuf;

/// Why a plugin could not be loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid component, or it needs imports the host does not grant.
    #[error("plugin `{plugin}` is not a usable component: {message}")]
    Invalid {
        /// Plugin name or path.
        plugin: String,
        /// What is wrong.
        message: String,
    },
    /// The component does not implement the world the stage needs.
    #[error("plugin `{plugin}` does not implement the `{world}` world: {message}")]
    WrongWorld {
        /// Plugin name or path.
        plugin: String,
        /// The world expected.
        world: &'static str,
        /// What is missing.
        message: String,
    },
    /// The plugin refused its configuration.
    #[error("plugin `{plugin}` refused its configuration: {message}")]
    Config {
        /// Plugin name.
        plugin: String,
        /// The plugin's message.
        message: String,
    },
    /// The plugin trapped (panic, out of memory, time limit) during a call.
    #[error("plugin `{plugin}` trapped in `{call}`: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// The trap.
        message: String,
    },
    /// The plugin returned an error or a malformed answer.
    #[error("plugin `{plugin}` failed in `{call}`: {message}")]
    Failed {
        /// Plugin name.
        plugin: String,
        /// The export called.
        call: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl PluginError {
    /// A function turning a wasmtime error in `call` into [`PluginError::Trap`].
    pub fn trap(
        plugin: &str,
        call: &'static str,
    ) -> impl FnOnce(wasmtime::Error) -> PluginError + use<> {
        let plugin = plugin.to_string();
        move |e| PluginError::Trap {
            plugin,
            call,
            message: format!("{e:#}"),
        }
    }

    /// A function turning a failed link or instantiation of `plugin` into an error: the
    /// component lacks the exports of `world`, or cannot be instantiated.
    pub fn link(
        plugin: &str,
        world: Option<&'static str>,
    ) -> impl FnOnce(wasmtime::Error) -> PluginError + use<> {
        let plugin = plugin.to_string();
        move |e| match world {
            Some(world) => PluginError::WrongWorld {
                plugin,
                world,
                message: format!("{e:#}"),
            },
            None => PluginError::Invalid {
                plugin,
                message: format!("{e:#}"),
            },
        }
    }
}

/// The text of a plugin's own error value.
pub fn describe_wit_error(error: &super::bindings::WitError) -> String {
    use super::bindings::WitError as E;
    match error {
        E::InvalidConfig(m) => format!("invalid config: {m}"),
        E::InvalidState(m) => format!("invalid state: {m}"),
        E::InvalidInput(m) => format!("invalid input: {m}"),
        E::Failed(m) => m.clone(),
    }
}
