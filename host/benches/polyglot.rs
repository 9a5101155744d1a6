//! The `spread` aggregator written in Rust, Python and JavaScript (`examples/spread`,
//! `examples/python-spread`, `examples/js-spread`) through the host's `WasmAggregator`: per
//! language the component's size, its compile time (Cranelift, no compilation cache), the time
//! to instantiate and configure it, and events per second at batch 1024 (1024 events into 256
//! groups per call): `accumulate` alone, and `accumulate` + `finish` + `release` of the 256
//! groups (every batch closing its windows: the most finishing a pipeline can ask for). The
//! same work as a native Rust closure is the reference.
//!
//! Build the components first (`scripts/build-plugins.sh`, `scripts/build-polyglot.sh`), then
//! `cargo bench -p eddy --bench polyglot` (`--profile dev` reuses the dev build, whose
//! dependencies, wasmtime and Cranelift among them, are at opt-level 2; the native closure is
//! then unoptimised). `BENCH_SECONDS` (default 2) is the time measured per figure.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use eddy::plugin::{Runtime, WasmAggregator};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::PluginsConfig;

const BATCH: usize = 1024;
const GROUPS: u32 = 256;
const LANGUAGES: [(&str, &str); 3] = [
    ("Rust", "spread"),
    ("Python", "python-spread"),
    ("JavaScript", "js-spread"),
];

fn dist(folder: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist")
        .join(folder)
}

/// One batch: slots spread over the groups, values varying.
fn batch() -> (Vec<u32>, Vec<f64>) {
    let slots = (0..BATCH)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) % GROUPS)
        .collect();
    let values = (0..BATCH).map(|i| (i % 997) as f64 * 0.25).collect();
    (slots, values)
}

/// Events per second of `round` (one batch per call), measured for `seconds` after a warm-up.
fn rate(seconds: f64, mut round: impl FnMut()) -> f64 {
    for _ in 0..3 {
        round();
    }
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        round();
        rounds += 1;
    }
    (rounds * BATCH as u64) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn millions(rate: f64) -> String {
    format!("{:.2} M", rate / 1e6)
}

fn main() {
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let runtime = Runtime::new(&PluginsConfig {
        dir: dist("plugins"),
        cache_dir: None,
        ..PluginsConfig::default()
    })
    .expect("runtime");
    let (slots, values) = batch();
    let groups: Vec<u32> = (0..GROUPS).collect();

    println!(
        "spread at batch {BATCH} ({GROUPS} groups per batch), events/s; {seconds} s per figure\n"
    );
    println!(
        "| language | component | compile | instantiate + configure | accumulate | accumulate + finish + release |"
    );
    println!("|---|---|---|---|---|---|");
    for (language, name) in LANGUAGES {
        let path = dist("examples").join(format!("{name}.wasm"));
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; build the examples first", path.display()))
            .len();
        let started = Instant::now();
        let loaded = runtime
            .load(path.to_str().expect("utf-8 path"))
            .expect("loads");
        let compile = started.elapsed();
        let instantiate = median(
            (0..15)
                .map(|_| {
                    let started = Instant::now();
                    let plugin = WasmAggregator::new(&runtime, &loaded, r#"{"scale":1}"#)
                        .expect("configures");
                    let took = started.elapsed();
                    drop(plugin);
                    took
                })
                .collect(),
        );
        let mut plugin =
            WasmAggregator::new(&runtime, &loaded, r#"{"scale":1}"#).expect("configures");
        let accumulate = rate(seconds, || {
            plugin
                .accumulate(black_box(&slots), black_box(&values))
                .expect("accumulate");
        });
        plugin.release(&groups).expect("release");
        let with_finish = rate(seconds, || {
            plugin
                .accumulate(black_box(&slots), black_box(&values))
                .expect("accumulate");
            black_box(plugin.finish(&groups).expect("finish"));
            plugin.release(&groups).expect("release");
        });
        println!(
            "| {language} | {:.2} MB | {:.2} s | {:.2} ms | {} | {} |",
            size as f64 / 1e6,
            compile.as_secs_f64(),
            instantiate.as_secs_f64() * 1e3,
            millions(accumulate),
            millions(with_finish),
        );
    }

    // The same work without a sandbox.
    let mut state = vec![(f64::INFINITY, f64::NEG_INFINITY); GROUPS as usize];
    let accumulate = |state: &mut [(f64, f64)], slots: &[u32], values: &[f64]| {
        for (&slot, &value) in slots.iter().zip(values) {
            let group = &mut state[slot as usize];
            group.0 = group.0.min(value);
            group.1 = group.1.max(value);
        }
    };
    let alone = rate(seconds, || {
        accumulate(&mut state, black_box(&slots), black_box(&values))
    });
    let with_finish = rate(seconds, || {
        accumulate(&mut state, black_box(&slots), black_box(&values));
        let out: Vec<f64> = groups
            .iter()
            .map(|&g| {
                let (min, max) = state[g as usize];
                if min <= max { max - min } else { f64::NAN }
            })
            .collect();
        black_box(out);
        state.fill((f64::INFINITY, f64::NEG_INFINITY));
    });
    println!(
        "| native closure | - | - | - | {} | {} |",
        millions(alone),
        millions(with_finish)
    );
}
