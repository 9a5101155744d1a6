//! The cost of a filter's user code: the same predicate (`/amount >= 500`, about half the events
//! pass) in front of a `count` aggregate over 2 M generated events (10 000 keys, 10 s tumbling
//! windows), as
//! (a) the column filter in Wasm (`examples/column-threshold-filter`: the host decodes `/amount`
//!     and passes a column),
//! (b) the payload filter in Wasm (`examples/threshold-filter`: each payload copied into the
//!     sandbox and parsed there),
//! (c) a native closure over the same column the host decodes for (a) (no sandbox),
//! and (d) no filter, counting every event; each through the whole pipeline (decode, windows,
//! aggregate, results), in one run, alternating, 5 runs each; medians and the ratio of (a) to
//! (c). Budget: (a) ≥ (c) / 1.3 in events/s. Every variant's results are checked against (c).
//!
//! Build the plugins first (`scripts/build-plugins.sh`); run with
//! `cargo bench -p eddy --bench columns` (`BENCH_EVENTS` for another event count).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::JsonLines;
use eddy_engine::config::{Config, PluginsConfig};
use eddy_engine::decode::{ColumnField, ColumnReader, ColumnType, ColumnValues};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};

const MIN: f64 = 500.0;
const RUNS: usize = 5;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn config(filter: Option<&str>) -> Config {
    let transforms = filter.map_or_else(String::new, |example| {
        format!(
            "transforms:\n  - {{ plugin: {:?}, config: {{ field: /amount, min: {MIN} }} }}\n",
            repo().join("dist/examples").join(format!("{example}.wasm"))
        )
    });
    let mut config = Config::from_yaml(&format!(
        "{transforms}window: {{ type: tumbling, size: 10s }}\n\
         watermark: {{ out_of_orderness: 500ms }}\n\
         aggregates:\n  - {{ name: n, plugin: count }}\n"
    ))
    .expect("config");
    config.plugins = PluginsConfig {
        dir: repo().join("dist/plugins"),
        ..PluginsConfig::default()
    };
    config
}

fn batches(events: u64) -> Vec<RawBatch> {
    let mut generator = Generator::new(GeneratorConfig {
        events,
        keys: 10_000,
        events_per_step: 100,
        max_disorder_ms: 500,
        ..GeneratorConfig::default()
    });
    std::iter::from_fn(|| generator.next_batch(1024)).collect()
}

/// The native filter of (c): the host's column reader and a closure.
fn native(batch: &RawBatch, reader: &ColumnReader) -> RawBatch {
    let columns = reader.read(batch);
    let keep = |v: f64| v >= MIN;
    let mut out = RawBatch::with_capacity(batch.len(), batch.data.len());
    out.partition = batch.partition;
    if let (Some(column), Some(ColumnValues::Float(values))) =
        (columns.first(), columns.first().map(|c| &c.values))
    {
        for (row, (&value, &valid)) in values.iter().zip(&column.valid).enumerate() {
            if valid && keep(value) {
                out.push(batch.payload(row), batch.timestamps[row]);
            }
        }
    }
    out
}

/// One run: seconds and the results written.
fn run(runtime: &Arc<Runtime>, variant: &str, input: &[RawBatch]) -> (f64, Vec<u8>) {
    let filter = match variant {
        "column" => Some("column-threshold-filter"),
        "payload" => Some("threshold-filter"),
        _ => None,
    };
    let config = config(filter);
    let (results, buffer) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: late.into(),
        dead_letter: dead_letter.into(),
    };
    let mut pipeline = Pipeline::with_runtime(&config, Arc::clone(runtime), outputs)
        .expect("pipeline (build the plugins with scripts/build-plugins.sh)");
    let reader = ColumnReader::new(&[ColumnField {
        pointer: "/amount".into(),
        column_type: ColumnType::Float,
    }]);
    let input = input.to_vec();
    let started = Instant::now();
    for batch in input {
        let batch = if variant == "native" {
            native(&batch, &reader)
        } else {
            batch
        };
        pipeline.process_at(batch, 0).expect("processes");
    }
    pipeline.finish().expect("finishes");
    let seconds = started.elapsed().as_secs_f64();
    (seconds, buffer.take_bytes())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let input = batches(events);
    let runtime = Arc::new(Runtime::new(&config(None).plugins).expect("runtime"));
    let variants = ["column", "payload", "native", "none"];
    // Once each, untimed: compiles the components and checks the filters agree.
    let (_, reference) = run(&runtime, "native", &input);
    for variant in ["column", "payload"] {
        let (_, results) = run(&runtime, variant, &input);
        assert!(
            results == reference,
            "{variant}: results differ from the native filter's"
        );
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..RUNS {
        for (i, variant) in variants.iter().enumerate() {
            times[i].push(run(&runtime, variant, &input).0);
        }
    }
    let rate = |i: usize| events as f64 / median(times[i].clone());
    println!(
        "Column filter vs payload filter vs native closure ({events} events, /amount >= {MIN} \
         in front of count, 10 k keys, 10 s tumbling; median of {RUNS} alternating runs)"
    );
    println!("| variant | median s | events/s |");
    println!("|---|---|---|");
    let labels = [
        "(a) column filter, Wasm",
        "(b) payload filter, Wasm",
        "(c) native closure over the decoded column",
        "(d) no filter",
    ];
    for (i, label) in labels.iter().enumerate() {
        println!(
            "| {label} | {:.3} | {:.0} |",
            median(times[i].clone()),
            rate(i)
        );
    }
    let ratio = rate(2) / rate(0);
    println!("| native / column filter (budget ≤ 1.3) | {ratio:.2} × | |");
    println!(
        "| column / payload filter events/s | {:.2} × | |",
        rate(0) / rate(1)
    );
}
