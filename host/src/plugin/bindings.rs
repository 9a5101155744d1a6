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

/// The `column-transform` world; shares `types` and `log` with the aggregator bindings.
pub mod columns {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "column-transform",
        with: {
            "eddy:plugin/types": super::aggregator::eddy::plugin::types,
            "eddy:plugin/log": super::aggregator::eddy::plugin::log,
        },
    });
}

pub use aggregator::eddy::plugin::types::{
    ByteColumn, PluginError as WitError, PluginInfo, PluginKind,
};

impl From<PluginKind> for eddy_engine::aggregate::PluginKind {
    fn from(kind: PluginKind) -> Self {
        match kind {
            PluginKind::Aggregator => Self::Aggregator,
            PluginKind::Map => Self::Map,
            PluginKind::Filter => Self::Filter,
            PluginKind::FlatMap => Self::FlatMap,
        }
    }
}

impl From<PluginInfo> for eddy_engine::aggregate::PluginInfo {
    fn from(info: PluginInfo) -> Self {
        Self {
            name: info.name,
            version: info.version,
            kind: info.kind.into(),
            state_format: info.state_format,
            description: info.description,
            config_schema: info.config_schema,
        }
    }
}
