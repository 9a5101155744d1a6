//! Plugin uploads, validated as the admin API validates them (`Registry::add`: size limit, a
//! component, one of the plugin worlds, linking against what the sandbox grants, `describe()`
//! answering within the call limits). `scripts/fuzz.sh` seeds it with the built plugins and
//! examples, so libFuzzer mutates valid components. A refusal is fine; a panic, an abort or a
//! hang is a finding.
#![no_main]

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use eddy::plugin::{Registry, Runtime};
use eddy_engine::config::PluginsConfig;
use libfuzzer_sys::fuzz_target;

/// The admin API's default upload limit (`admin.max_upload_bytes`).
const LIMIT: usize = 32 << 20;

struct Host {
    runtime: Runtime,
    registry: Mutex<Registry>,
}

static HOST: LazyLock<Host> = LazyLock::new(|| {
    let config = PluginsConfig {
        memory_limit_bytes: 64 << 20,
        call_timeout: Duration::from_secs(1),
        // Mutated components are not worth caching on disk.
        cache_dir: None,
        ..PluginsConfig::default()
    };
    // Components that pass are stored: one folder, emptied at each start.
    let dir = std::env::temp_dir().join("eddy-fuzz-upload");
    let _ = std::fs::remove_dir_all(&dir);
    Host {
        runtime: Runtime::new(&config).expect("a runtime"),
        registry: Mutex::new(Registry::open(&dir).expect("a registry folder")),
    }
});

fuzz_target!(|data: &[u8]| {
    let host = &*HOST;
    let mut registry = host.registry.lock().unwrap_or_else(|e| e.into_inner());
    let _ = registry.add(&host.runtime, data, LIMIT, 0);
});
