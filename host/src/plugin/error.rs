//! Plugin errors made from wasmtime's: traps, failed links and the plugins' own error values.

use eddy_engine::aggregate::PluginError;

/// A function turning a wasmtime error in `call` into [`PluginError::Trap`].
/// `memory_refused`: the store's limiter refused a memory growth during the call.
pub fn trap_error(
    plugin: &str,
    call: &'static str,
    memory_refused: bool,
) -> impl FnOnce(wasmtime::Error) -> PluginError + use<> {
    let plugin = plugin.to_string();
    move |e| PluginError::Trap {
        plugin,
        call,
        message: trap_message(&e, memory_refused),
    }
}

/// What a trap means: the call time limit (wasmtime's `interrupt`), the memory limit (a
/// refused growth, after which a guest usually aborts with `unreachable`), or wasmtime's own
/// message.
fn trap_message(error: &wasmtime::Error, memory_refused: bool) -> String {
    if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        "exceeded its time limit (plugins.call_timeout) and was stopped".into()
    } else if memory_refused {
        "exceeded its memory limit (plugins.memory_limit_bytes): a memory growth was refused and the plugin aborted".into()
    } else {
        format!("{error:#}")
    }
}

/// A function turning a failed link or instantiation of `plugin` into an error: the
/// component lacks the exports of `world`, or cannot be instantiated.
pub fn link_error(
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
