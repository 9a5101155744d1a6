//! Host bindings generated from `wit/` by wasmtime's `bindgen!`.

#![allow(missing_docs, clippy::all)]

/// The `aggregator` world.
pub mod aggregator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "aggregator",
    });
}

/// The `transform` world; shares `types` and `log` with the aggregator bindings.
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        with: {
            "eddy:plugin/types": super::aggregator::eddy::plugin::types,
            "eddy:plugin/log": super::aggregator::eddy::plugin::log,
        },
    });
}

pub use aggregator::eddy::plugin::types::{
    ByteColumn, PluginError as WitError, PluginInfo, PluginKind,
};
