//! Per plugin version and export: calls, traps and call time, as Prometheus families
//! (`eddy_plugin_calls_total`, `eddy_plugin_traps_total`, `eddy_plugin_call_seconds`).

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use eddy_engine::aggregate::PluginError;

/// Which plugin, version and export.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// The export called.
    pub call: String,
}

fn call_seconds() -> Histogram {
    // 1 µs to ~16 s.
    Histogram::new(exponential_buckets(1e-6, 4.0, 13))
}

/// The families, shared by every instance of a runtime.
#[derive(Debug)]
pub struct PluginMetrics {
    calls: Family<CallLabels, Counter>,
    traps: Family<CallLabels, Counter>,
    seconds: Family<CallLabels, Histogram, fn() -> Histogram>,
}

impl Default for PluginMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            traps: Family::default(),
            seconds: Family::new_with_constructor(call_seconds),
        }
    }
}

impl PluginMetrics {
    /// Registers the families (under the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "plugin_calls",
            "Calls into plugins, by plugin, version and export",
            self.calls.clone(),
        );
        registry.register(
            "plugin_traps",
            "Plugin calls that trapped (panic, time or memory limit)",
            self.traps.clone(),
        );
        registry.register(
            "plugin_call_seconds",
            "Time per plugin call",
            self.seconds.clone(),
        );
    }

    /// The handles of one plugin version.
    pub fn plugin(&self, plugin: &str, version: &str) -> PluginCalls {
        PluginCalls {
            families: PluginMetrics {
                calls: self.calls.clone(),
                traps: self.traps.clone(),
                seconds: self.seconds.clone(),
            },
            plugin: plugin.to_string(),
            version: version.to_string(),
            handles: Vec::new(),
        }
    }
}

/// One call's handles.
#[derive(Debug, Clone)]
struct CallHandles {
    call: &'static str,
    calls: Counter,
    traps: Counter,
    seconds: Histogram,
}

/// The handles of one plugin instance, made per export on first use.
#[derive(Debug)]
pub struct PluginCalls {
    families: PluginMetrics,
    plugin: String,
    version: String,
    handles: Vec<CallHandles>,
}

impl PluginCalls {
    fn handles(&mut self, call: &'static str) -> &CallHandles {
        if let Some(i) = self.handles.iter().position(|h| h.call == call) {
            return &self.handles[i];
        }
        let labels = CallLabels {
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            call: call.to_string(),
        };
        self.handles.push(CallHandles {
            call,
            calls: self.families.calls.get_or_create(&labels).clone(),
            traps: self.families.traps.get_or_create(&labels).clone(),
            seconds: self.families.seconds.get_or_create(&labels).clone(),
        });
        let last = self.handles.len() - 1;
        &self.handles[last]
    }

    /// Counts a call to `call` that started at `started` and ended with `result`.
    pub fn record<R>(
        &mut self,
        call: &'static str,
        started: Instant,
        result: &Result<R, PluginError>,
    ) {
        let elapsed = started.elapsed().as_secs_f64();
        let handles = self.handles(call);
        handles.calls.inc();
        handles.seconds.observe(elapsed);
        if matches!(result, Err(PluginError::Trap { .. })) {
            handles.traps.inc();
        }
    }
}
