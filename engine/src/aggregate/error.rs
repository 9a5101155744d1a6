//! Why a plugin could not be loaded or called. The engine reports plugin failures with this
//! type whatever runs the plugin; the host's Wasm runtime makes them.

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

/// Why a stage cannot switch to another plugin version: the versions do not fit together
/// (the plugins themselves did not fail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` cannot take over: {reason}")]
pub struct SwapRefused {
    /// The version asked for (where it is loaded from).
    pub plugin: String,
    /// Why not.
    pub reason: String,
}

/// Why a swap did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    /// The versions do not fit together.
    #[error(transparent)]
    Refused(#[from] SwapRefused),
    /// Moving the open groups' state failed in a plugin.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}
