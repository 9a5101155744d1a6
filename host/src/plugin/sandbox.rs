//! What a plugin's `Store` holds: a locked-down WASI context, its resource table, its memory
//! limit and its name for logs.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::aggregator::eddy::plugin::log::{Host, Level};

/// Per-instance host state.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory limit enforced by the store's limiter.
    pub limits: super::limits::Limits,
    /// Plugin name, for log lines.
    pub name: String,
}

impl Sandbox {
    /// State for a plugin that may use at most `memory_limit_bytes` of linear memory.
    pub fn new(name: &str, memory_limit_bytes: usize) -> Self {
        // No arguments, environment, preopened directories, network or name lookups; the
        // standard streams go nowhere. Plugins talk to the host through `log` only.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: super::limits::Limits::new(
                wasmtime::StoreLimitsBuilder::new()
                    .memory_size(memory_limit_bytes)
                    // A component is several core instances: a Rust plugin 2-3, a Python one
                    // (componentize-py: the interpreter, libc and adapters) a few dozen.
                    .instances(64)
                    .tables(64)
                    .memories(8)
                    .build(),
            ),
            name: name.to_string(),
        }
    }
}

impl Sandbox {
    /// The instance's resource table.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Host for Sandbox {
    fn log(&mut self, level: Level, message: String) {
        let plugin = self.name.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
