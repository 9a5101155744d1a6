//! The shared wasmtime engine: compiles components once, links the imports plugins may have,
//! and interrupts calls that run too long (epoch interruption).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasData, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store};

use super::bindings::aggregator::eddy::plugin::log;
use super::metrics::{PluginCalls, PluginMetrics};
use super::sandbox::Sandbox;
use eddy_engine::aggregate::PluginError;
use eddy_engine::config::PluginsConfig;

/// How often the engine's epoch advances; call time limits are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine, linker and limits shared by every plugin of a host.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    memory_limit_bytes: usize,
    call_deadline_ticks: u64,
    plugin_dir: PathBuf,
    cache_dir: Option<PathBuf>,
    cache: Mutex<HashMap<[u8; 32], Loaded>>,
    metrics: Arc<PluginMetrics>,
    _ticker: Ticker,
}

/// A component compiled and linked once, ready to instantiate.
#[derive(Clone)]
pub struct Loaded {
    /// Name or path the plugin was loaded by.
    pub source: String,
    /// The linked component.
    pub pre: InstancePre<Sandbox>,
}

impl Runtime {
    /// A runtime with the limits in `config`.
    pub fn new(config: &PluginsConfig) -> Result<Self, PluginError> {
        Self::with_metrics(config, Arc::default())
    }

    /// A runtime with the limits in `config` whose plugins count their calls in `metrics`.
    pub fn with_metrics(
        config: &PluginsConfig,
        metrics: Arc<PluginMetrics>,
    ) -> Result<Self, PluginError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true);
        let cache_dir = config.cache_dir.as_deref().and_then(disk_cache);
        if let Some((_, cache)) = &cache_dir {
            wasm.cache(Some(cache.clone()));
        }
        let engine = Engine::new(&wasm).map_err(|e| invalid("engine", e))?;
        let mut linker = Linker::new(&engine);
        link_wasi(&mut linker).map_err(|e| invalid("linker", e))?;
        log::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |state| state)
            .map_err(|e| invalid("linker", e))?;
        let ticks = config
            .call_timeout
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis())
            .max(1);
        Ok(Self {
            _ticker: Ticker::start(engine.clone()),
            engine,
            linker,
            memory_limit_bytes: config.memory_limit_bytes,
            call_deadline_ticks: u64::try_from(ticks).unwrap_or(u64::MAX),
            plugin_dir: super::builtins::builtin_dir(&config.dir),
            cache_dir: cache_dir.map(|(dir, _)| dir),
            cache: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// The call metrics of `plugin` at `version`.
    pub fn plugin_calls(&self, plugin: &str, version: &str) -> PluginCalls {
        self.metrics.plugin(plugin, version)
    }

    /// Where a plugin named in the config lives: a path as given if it names a `.wasm` file or
    /// contains a `/`, otherwise `<plugins.dir>/<name>.wasm`.
    pub fn resolve(&self, plugin: &str) -> PathBuf {
        if plugin.ends_with(".wasm") || plugin.contains('/') {
            PathBuf::from(plugin)
        } else {
            self.plugin_dir.join(format!("{plugin}.wasm"))
        }
    }

    /// Reads, compiles and links the plugin named `plugin`. Components are cached by the
    /// SHA-256 of their bytes, so the same component is compiled once per runtime while a file
    /// rewritten on disk is compiled afresh.
    pub fn load(&self, plugin: &str) -> Result<Loaded, PluginError> {
        let path = self.resolve(plugin);
        let bytes = std::fs::read(&path).map_err(|source| PluginError::Read {
            path: path.clone(),
            source,
        })?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        if let Some(loaded) = cached {
            return Ok(Loaded {
                source: plugin.to_string(),
                pre: loaded.pre,
            });
        }
        let loaded = self.load_bytes(plugin, &bytes)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest, loaded.clone());
        Ok(loaded)
    }

    /// Compiles and links a component from its bytes.
    pub fn load_bytes(&self, source: &str, bytes: &[u8]) -> Result<Loaded, PluginError> {
        let component = Component::new(&self.engine, bytes).map_err(|e| PluginError::Invalid {
            plugin: source.to_string(),
            message: format!("{e:#}"),
        })?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Invalid {
                plugin: source.to_string(),
                message: format!("{e:#}"),
            })?;
        Ok(Loaded {
            source: source.to_string(),
            pre,
        })
    }

    /// A fresh store for one instance of `name`, with the memory limit and call deadline set.
    pub fn store(&self, name: &str) -> Store<Sandbox> {
        let mut store = Store::new(&self.engine, Sandbox::new(name, self.memory_limit_bytes));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.call_deadline_ticks);
        store
    }

    /// Ticks a call may run for.
    pub fn call_deadline_ticks(&self) -> u64 {
        self.call_deadline_ticks
    }

    /// The folder built-in plugins are found in.
    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    /// The folder of the on-disk cache of compiled components, when it is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }
}

/// wasmtime's on-disk compilation cache in `dir` (made absolute), or none with a warning when
/// the folder cannot be made or written to. An empty path means no cache. Entries that do not
/// decompress or load (a corrupt or foreign file) are compiled afresh and rewritten.
fn disk_cache(dir: &Path) -> Option<(PathBuf, Cache)> {
    if dir.as_os_str().is_empty() {
        return None;
    }
    let usable = || -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let probe = dir.join(format!(".eddy-write-probe-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        Ok(dir)
    };
    let dir = match usable() {
        Ok(dir) => dir,
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "plugin cache off: folder not writable");
            return None;
        }
    };
    let mut config = CacheConfig::new();
    config.with_directory(&dir);
    match Cache::new(config) {
        Ok(cache) => Some((dir, cache)),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), error = %format!("{error:#}"), "plugin cache off");
            None
        }
    }
}

/// Resource tables, for the `wasi:io` interfaces.
struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links the WASI interfaces the Rust standard library of a `wasm32-wasip2` plugin needs —
/// `wasi:io`, `wasi:cli` (no arguments or environment; standard streams go nowhere) and
/// `wasi:random` — and nothing else: a plugin that imports clocks, the filesystem or sockets
/// does not link, and is refused when loaded.
fn link_wasi(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::{cli, random, sync::io};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

    let table = Sandbox::table;
    io::error::add_to_linker::<Sandbox, Io>(linker, table)?;
    io::poll::add_to_linker::<Sandbox, Io>(linker, table)?;
    io::streams::add_to_linker::<Sandbox, Io>(linker, table)?;
    let view = <Sandbox as WasiCliView>::cli;
    cli::environment::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::exit::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::stdin::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::stdout::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::stderr::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::terminal_input::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::terminal_output::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::terminal_stdin::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::terminal_stdout::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    cli::terminal_stderr::add_to_linker::<Sandbox, WasiCli>(linker, view)?;
    let rng = <Sandbox as WasiRandomView>::random;
    random::random::add_to_linker::<Sandbox, WasiRandom>(linker, rng)?;
    random::insecure::add_to_linker::<Sandbox, WasiRandom>(linker, rng)?;
    random::insecure_seed::add_to_linker::<Sandbox, WasiRandom>(linker, rng)?;
    Ok(())
}

fn invalid(what: &str, e: wasmtime::Error) -> PluginError {
    PluginError::Invalid {
        plugin: what.to_string(),
        message: format!("{e:#}"),
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`].
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("eddy-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
