//! Engine throughput per window type, and memory per open window.
//!
//! Events/s through the whole engine path (JSON decode → watermark → windows → the built-in
//! `count`, `sum`, `min`, `max` and `avg` WebAssembly plugins) over 10 000 keys, for tumbling
//! (10 s), sliding (10 s every 1 s) and session (1 s gap) windows; over 100 keys for tumbling
//! (10 s) and sliding (60 s every 1 s) windows, about 1 000 events per key and second (sliding
//! by slices: the events of a key's 1 s slice reach its 60 windows as one merged group); the
//! results/s of sliding windows (60 s every 1 s) over 10 000 keys with about one event per key
//! and window (every event is in 60 results); then the resident memory of 100 000 open windows
//! (`BENCH_OPEN_WINDOWS=100000,1000000` for more sizes). Build the plugins first
//! (`scripts/build-plugins.sh`); run with `cargo bench -p eddy --bench windows`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::JsonLines;
use eddy_engine::config::{Config, PluginsConfig, WindowConfig};
use eddy_engine::decode::Decoder;
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};

const KEYS: u32 = 10_000;
/// 1 M events at 100 000 events per second of event time: 10 s of event time, so a 10 s
/// tumbling window of a key holds about 10 events and a result is written per 10 events.
const EVENTS: u64 = 1_000_000;
const EVENTS_PER_MS: u64 = 100;

fn config(window: WindowConfig) -> Config {
    let mut config = Config::from_yaml(
        "aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /amount }\n\
         - { name: min, plugin: min, field: /amount }\n\
         - { name: max, plugin: max, field: /amount }\n\
         - { name: avg, plugin: avg, field: /amount }\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(500);
    config.plugins = PluginsConfig {
        dir: std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
            .join("../dist/plugins"),
        ..PluginsConfig::default()
    };
    config
}

/// A pipeline whose plugins come from one shared runtime, so that components are compiled
/// once, not per iteration.
fn pipeline(config: &Config) -> Pipeline {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| Arc::new(Runtime::new(&config.plugins).expect("runtime")));
    let (results, _) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    Pipeline::with_runtime(
        config,
        Arc::clone(runtime),
        Outputs {
            results: results.into(),
            late: late.into(),
            dead_letter: dead_letter.into(),
        },
    )
    .expect("pipeline (build the plugins with scripts/build-plugins.sh)")
}

fn batches(events: u64, keys: u32, events_per_ms: u64) -> Vec<RawBatch> {
    generate(GeneratorConfig {
        events,
        keys,
        events_per_step: events_per_ms,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    })
}

fn generate(settings: GeneratorConfig) -> Vec<RawBatch> {
    let mut generator = Generator::new(settings);
    std::iter::from_fn(|| generator.next_batch(1024)).collect()
}

fn sliding(size_s: u64, slide_s: u64) -> WindowConfig {
    WindowConfig::Sliding {
        size: Duration::from_secs(size_s),
        slide: Duration::from_secs(slide_s),
        offset: Duration::ZERO,
    }
}

/// Runs `input` through `pipeline` and returns how many results it wrote.
fn run(mut pipeline: Pipeline, input: Vec<RawBatch>) -> u64 {
    for batch in input {
        pipeline.process_at(batch, 0).expect("batch");
    }
    pipeline.finish().expect("finish").results
}

fn windows() -> [(&'static str, WindowConfig); 3] {
    [
        (
            "tumbling_10s",
            WindowConfig::Tumbling {
                size: Duration::from_secs(10),
                offset: Duration::ZERO,
            },
        ),
        ("sliding_10s_1s", sliding(10, 1)),
        (
            "session_1s",
            WindowConfig::Session {
                gap: Duration::from_secs(1),
            },
        ),
    ]
}

fn throughput(c: &mut Criterion) {
    let input = batches(EVENTS, KEYS, EVENTS_PER_MS);
    let mut group = c.benchmark_group("engine_10k_keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    for (name, window) in windows() {
        let config = config(window);
        group.bench_function(name, |b| {
            b.iter_batched(
                || (pipeline(&config), input.clone()),
                |(pipeline, input)| run(pipeline, input),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// 100 keys, about 1 000 events per key and second of event time: tumbling 10 s against
/// sliding 60 s every 1 s (each event in 60 windows) in the same run.
fn few_keys(c: &mut Criterion) {
    let input = batches(EVENTS, 100, EVENTS_PER_MS);
    let mut group = c.benchmark_group("engine_100_keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    for (name, window) in [
        ("tumbling_10s", windows()[0].1.clone()),
        ("sliding_60s_1s", sliding(60, 1)),
    ] {
        let config = config(window);
        group.bench_function(name, |b| {
            b.iter_batched(
                || (pipeline(&config), input.clone()),
                |(pipeline, input)| run(pipeline, input),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Sliding windows of 60 s every 1 s over 10 000 keys with one event per key every 60 s of
/// event time (one event per key and window, each in 60 results): results/s.
fn sparse_sliding(c: &mut Criterion) {
    let input = generate(GeneratorConfig {
        events: 100_000,
        keys: KEYS,
        events_per_step: 1,
        step_ms: 6,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    let config = config(sliding(60, 1));
    let results = run(pipeline(&config), input.clone());
    let mut group = c.benchmark_group("sliding_10k_keys_sparse");
    group.sample_size(10);
    group.throughput(Throughput::Elements(results));
    group.bench_function("results_60s_1s", |b| {
        b.iter_batched(
            || (pipeline(&config), input.clone()),
            |(pipeline, input)| run(pipeline, input),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The engine path's first stage alone: JSON decode of the same events, so that the table
/// shows how the engine's time splits between decoding and windows + aggregates.
fn decode_only(c: &mut Criterion) {
    let input = batches(EVENTS, KEYS, EVENTS_PER_MS);
    let config = config(windows()[0].1.clone());
    let decoder = Decoder::new(&config.decode, &config.aggregates);
    let mut group = c.benchmark_group("engine_stages");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("decode_json", |b| {
        b.iter(|| {
            input
                .iter()
                .map(|batch| decoder.decode(batch).keys.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Opens about `windows` windows (`windows / 10` keys × 10 tumbling windows of 40 s that the
/// watermark never closes, about 4 events each, over 400 s of event time, generated as they
/// are processed) and reports the resident memory they add.
fn open_windows_memory(windows: u64) {
    let mut config = config(WindowConfig::Tumbling {
        size: Duration::from_secs(40),
        offset: Duration::ZERO,
    });
    config.watermark.out_of_orderness = Duration::from_secs(1_000_000);
    // A plugin instance keeps every open group's accumulator in its own linear memory: a
    // million groups in one instance outgrow the default 256 MiB limit while its slot table
    // doubles.
    config.plugins.memory_limit_bytes = 1 << 30;
    let keys = u32::try_from(windows / 10).unwrap_or(u32::MAX);
    let mut generator = Generator::new(GeneratorConfig {
        events: windows * 4,
        keys,
        // 400 s of event time whatever the size: 10 windows of 40 s per key.
        events_per_step: (windows / 100_000).max(1),
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    let runtime = Arc::new(Runtime::new(&config.plugins).expect("runtime"));
    let (results, _) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    let mut pipeline = Pipeline::with_runtime(
        &config,
        runtime,
        Outputs {
            results: results.into(),
            late: late.into(),
            dead_letter: dead_letter.into(),
        },
    )
    .expect("pipeline");
    let before = rss_bytes();
    while let Some(batch) = generator.next_batch(1024) {
        pipeline.process_at(batch, 0).expect("batch");
    }
    let after = rss_bytes();
    let open = pipeline.open_groups();
    println!(
        "open windows: {open} groups (key × window); resident memory {:.1} MB in all, {:.1} MB added by them ({:.0} bytes per group)",
        after as f64 / 1e6,
        after.saturating_sub(before) as f64 / 1e6,
        after.saturating_sub(before) as f64 / open.max(1) as f64
    );
}

fn main() {
    // Memory first, in a process that holds nothing else yet (the throughput runs leave their
    // inputs' pages with the allocator). `BENCH_OPEN_WINDOWS=100000,1000000` measures both
    // sizes (default 100 000), each on top of the one before.
    let sizes = std::env::var("BENCH_OPEN_WINDOWS").unwrap_or_else(|_| "100000".into());
    for windows in sizes.split(',').filter_map(|s| s.trim().parse().ok()) {
        open_windows_memory(windows);
    }
    let mut criterion = Criterion::default().configure_from_args();
    throughput(&mut criterion);
    few_keys(&mut criterion);
    sparse_sliding(&mut criterion);
    decode_only(&mut criterion);
    criterion.final_summary();
}
