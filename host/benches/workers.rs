//! Workers: events/s of the engine path over 4 partitions with 1 and 2 workers (`workers`).
//!
//! Each partition has 2 500 keys of its own and 250 000 events (1 M in all, 10 s of event
//! time), 10 s tumbling windows, the built-in `count`, `sum`, `min`, `max` and `avg`
//! WebAssembly plugins, results written as JSON lines to memory. A round is one batch of 1 024
//! records from each partition, as the Kafka loop reads them: the workers decode and window
//! the partitions' batches at once, the loop writes what they made in partition order. Build
//! the plugins first (`scripts/build-plugins.sh`); run with `cargo bench -p eddy --bench
//! workers`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use eddy::pipeline::{Outputs, Pipeline};
use eddy::plugin::Runtime;
use eddy::sink::JsonLines;
use eddy_engine::config::{Config, PluginsConfig, SourceConfig, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};

const PARTITIONS: u32 = 4;
const EVENTS_PER_PARTITION: u64 = 250_000;
const KEYS_PER_PARTITION: u32 = 2_500;

fn config(workers: usize) -> Config {
    let mut config = Config::from_yaml(
        "source: { type: kafka, topic: events }\n\
         aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /amount }\n\
         - { name: min, plugin: min, field: /amount }\n\
         - { name: max, plugin: max, field: /amount }\n\
         - { name: avg, plugin: avg, field: /amount }\n",
    )
    .expect("config");
    assert!(matches!(config.source, SourceConfig::Kafka { .. }));
    config.window = WindowConfig::Tumbling {
        size: Duration::from_secs(10),
        offset: Duration::ZERO,
    };
    config.watermark.out_of_orderness = Duration::from_millis(500);
    config.workers = workers;
    config.plugins = PluginsConfig {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/plugins"),
        ..PluginsConfig::default()
    };
    config
}

fn pipeline(config: &Config, runtime: &Arc<Runtime>) -> Pipeline {
    let (results, _) = JsonLines::memory();
    let (late, _) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: late.into(),
        dead_letter: dead_letter.into(),
    };
    Pipeline::with_runtime(config, Arc::clone(runtime), outputs)
        .expect("pipeline (build the plugins with scripts/build-plugins.sh)")
}

/// The rounds: each a batch of 1 024 records from every partition, offsets counting up per
/// partition.
fn rounds() -> Vec<BTreeMap<u32, RawBatch>> {
    let mut generators: Vec<Generator> = (0..PARTITIONS)
        .map(|partition| {
            Generator::new(GeneratorConfig {
                events: EVENTS_PER_PARTITION,
                keys: KEYS_PER_PARTITION,
                events_per_step: 25,
                max_disorder_ms: 500,
                seed: 7 + u64::from(partition),
                ..GeneratorConfig::default()
            })
        })
        .collect();
    let mut offsets = [0_i64; PARTITIONS as usize];
    let mut rounds = Vec::new();
    loop {
        let mut round = BTreeMap::new();
        for (partition, generator) in (0..PARTITIONS).zip(&mut generators) {
            let Some(generated) = generator.next_batch(1024) else {
                continue;
            };
            let offset = &mut offsets[partition as usize];
            let mut batch = RawBatch::with_capacity(generated.len(), 0);
            batch.partition = partition;
            for row in 0..generated.len() {
                batch.push_at(generated.payload(row), generated.timestamps[row], *offset);
                *offset += 1;
            }
            round.insert(partition, batch);
        }
        if round.is_empty() {
            return rounds;
        }
        rounds.push(round);
    }
}

/// Runs the rounds as the Kafka loop does; returns the results written.
fn run(mut pipeline: Pipeline, rounds: Vec<BTreeMap<u32, RawBatch>>) -> u64 {
    let spans = BTreeMap::new();
    for round in rounds {
        pipeline.prepare_round(&round, &spans, 0).expect("round");
        for (_, batch) in round {
            pipeline.process_at(batch, 0).expect("batch");
        }
        pipeline.end_round();
    }
    pipeline.finish().expect("finish").results
}

fn workers(c: &mut Criterion) {
    let input = rounds();
    let runtime = Arc::new(Runtime::new(&config(1).plugins).expect("runtime"));
    let mut group = c.benchmark_group("engine_4_partitions");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        EVENTS_PER_PARTITION * u64::from(PARTITIONS),
    ));
    for workers in [1, 2] {
        let config = config(workers);
        group.bench_function(format!("workers_{workers}"), |b| {
            b.iter_batched(
                || (pipeline(&config, &runtime), input.clone()),
                |(pipeline, input)| run(pipeline, input),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    workers(&mut criterion);
    criterion.final_summary();
}
