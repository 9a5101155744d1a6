//! Hot swap under load: per-batch processing time through the engine path (JSON decode →
//! 10 s tumbling windows over 10 000 keys → count/sum/min/max/avg plugins) while the `sum`
//! stage is swapped every 100 batches — to a version with the same state format (open
//! windows' state moved) and back — compared with the same stream without swaps; and a swap
//! to a version with another state format (the old one finishes its windows). Each swap is
//! preceded by a snapshot of every open window, as the checkpoint barrier of `eddy run` does.
//!
//! Shadow runs on the same stream: `sum-v2` computing beside `sum` from the first batch,
//! compared window by window, against no shadow and against `sum-v2` as a sixth aggregate
//! stage (what a shadow run is expected to cost).
//!
//! `cargo bench -p eddy --bench swap`. Build the plugins first (`scripts/build-plugins.sh`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::JsonLines;
use eddy_engine::config::StageId;
use eddy_engine::config::{Config, PluginsConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use hdrhistogram::Histogram;

const EVENTS: u64 = 2_000_000;
const BATCH: usize = 1024;
const SWAP_EVERY: usize = 100;

fn dist(folder: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist")
        .join(folder)
}

/// The five aggregates, and `extra` YAML lines of aggregates after them.
fn config_with(extra: &str) -> Config {
    let mut config = Config::from_yaml(&format!(
        "window: {{ type: tumbling, size: 10s }}\n\
         aggregates:\n\
         - {{ name: n, plugin: count }}\n\
         - {{ name: sum, plugin: sum, field: /amount }}\n\
         - {{ name: min, plugin: min, field: /amount }}\n\
         - {{ name: max, plugin: max, field: /amount }}\n\
         - {{ name: avg, plugin: avg, field: /amount }}\n{extra}"
    ))
    .expect("config");
    config.watermark.out_of_orderness = Duration::from_millis(500);
    config.plugins = PluginsConfig {
        dir: dist("plugins"),
        ..PluginsConfig::default()
    };
    config
}

fn config() -> Config {
    config_with("")
}

fn batches() -> Vec<RawBatch> {
    let mut generator = Generator::new(GeneratorConfig {
        events: EVENTS,
        keys: 10_000,
        events_per_step: 100,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    std::iter::from_fn(|| generator.next_batch(BATCH)).collect()
}

struct Run {
    events_per_s: f64,
    batches: Histogram<u64>,
    swaps: Histogram<u64>,
}

/// Runs the stream; before batch `i` with `swap(i)` set, snapshots and swaps `sum` to it.
fn run(runtime: &Arc<Runtime>, swap: impl Fn(usize) -> Option<String>) -> Run {
    run_with(runtime, &config(), swap, None)
}

/// Like [`run`] over `config`, with a shadow run of `shadow` beside `sum` from the start.
fn run_with(
    runtime: &Arc<Runtime>,
    config: &Config,
    swap: impl Fn(usize) -> Option<String>,
    shadow: Option<&str>,
) -> Run {
    let (results, written) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    let mut pipeline =
        Pipeline::with_runtime(config, Arc::clone(runtime), outputs).expect("pipeline");
    let mut batches_us = Histogram::<u64>::new(3).expect("histogram");
    let mut swaps_us = Histogram::<u64>::new(3).expect("histogram");
    let stage = StageId::Aggregate("sum".into());
    if let Some(source) = shadow {
        let source = Ok(source.to_string());
        pipeline
            .start_shadow(&stage, "candidate", source, None)
            .expect("shadow run");
    }
    let started = Instant::now();
    for (i, batch) in batches().into_iter().enumerate() {
        let t = Instant::now();
        if let Some(source) = swap(i) {
            std::hint::black_box(pipeline.snapshot().expect("barrier snapshot"));
            pipeline.swap(&stage, &source).expect("swap");
            let _ = swaps_us.record(t.elapsed().as_micros() as u64);
        }
        pipeline.process_at(batch, 0).expect("batch");
        let _ = batches_us.record(t.elapsed().as_micros() as u64);
    }
    let stats = pipeline.finish().expect("finish");
    if shadow.is_some() {
        let report = &pipeline.shadow_states()[0].report;
        assert!(
            report.different == 0 && report.equal > 0,
            "sum-v2 equals sum: {report:?}"
        );
    }
    // No event lost across the swaps: every event is counted in exactly one window's result
    // (10 s windows whose watermark trails by the generator's disorder: nothing is late).
    let counted: u64 = written
        .take()
        .iter()
        .filter_map(|result| result["n"].as_u64())
        .sum();
    assert_eq!(
        (counted, stats.late, stats.dead_letters),
        (EVENTS, 0, 0),
        "events lost or late across the swaps"
    );
    Run {
        events_per_s: EVENTS as f64 / started.elapsed().as_secs_f64(),
        batches: batches_us,
        swaps: swaps_us,
    }
}

fn main() {
    let runtime = Arc::new(Runtime::new(&config().plugins).expect("runtime"));
    let v2 = dist("fixtures").join("sum-v2.wasm").display().to_string();
    let v3 = dist("fixtures").join("sum-v3.wasm").display().to_string();
    let builtin = dist("plugins").join("sum.wasm").display().to_string();
    // Compile the versions once, outside the measurement.
    for source in [&v2, &v3, &builtin] {
        runtime.load(source).expect("plugin");
    }
    let baseline = run(&runtime, |_| None);
    let same = run(&runtime, |i| {
        (i > 0 && i % SWAP_EVERY == 0).then(|| {
            if (i / SWAP_EVERY) % 2 == 1 {
                v2.clone()
            } else {
                builtin.clone()
            }
        })
    });
    let total = EVENTS as usize / BATCH;
    let other = run(&runtime, |i| (i == total / 2).then(|| v3.clone()));
    // Shadow runs: each kind three times, interleaved (the machine's drift hits each alike);
    // the median run of each.
    let sixth = config_with(&format!(
        "- {{ name: sum2, plugin: '{v2}', field: /amount }}\n"
    ));
    let (mut alone, mut shadowed, mut six) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        alone.push(run(&runtime, |_| None));
        shadowed.push(run_with(&runtime, &config(), |_| None, Some(&v2)));
        six.push(run_with(&runtime, &sixth, |_| None, None));
    }
    let median = |mut runs: Vec<Run>| {
        runs.sort_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s));
        runs.swap_remove(1)
    };
    let (alone, shadowed, six) = (median(alone), median(shadowed), median(six));
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "Hot swap under load: {EVENTS} events, {BATCH} per batch, 10 000 keys, 10 s tumbling windows, 5 aggregates"
    );
    println!(
        "| run | events/s | batch p50 / p99 / max | swaps | swap (snapshot + swap) p50 / max |"
    );
    println!("|---|---|---|---|---|");
    for (name, run) in [
        ("no swap", &baseline),
        ("`sum` swapped every 100 batches, same state format", &same),
        ("`sum` swapped once to another state format", &other),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} / {:.2} / {:.2} ms | {} | {:.2} / {:.2} ms |",
            run.events_per_s,
            ms(run.batches.value_at_quantile(0.5)),
            ms(run.batches.value_at_quantile(0.99)),
            ms(run.batches.max()),
            run.swaps.len(),
            ms(run.swaps.value_at_quantile(0.5)),
            ms(run.swaps.max()),
        );
    }
    println!();
    println!("Shadow run cost (same stream, median of 3 interleaved runs each)");
    println!("| run | events/s | of no shadow | batch p50 / p99 |");
    println!("|---|---|---|---|");
    for (name, run) in [
        ("no shadow", &alone),
        ("shadow run: `sum-v2` beside `sum`, compared", &shadowed),
        ("a sixth aggregate stage (`sum-v2`), no shadow", &six),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} / {:.2} ms |",
            run.events_per_s,
            run.events_per_s / alone.events_per_s,
            ms(run.batches.value_at_quantile(0.5)),
            ms(run.batches.value_at_quantile(0.99)),
        );
    }
}
