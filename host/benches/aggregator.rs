//! Events per second through an aggregator plugin (the built-in `sum`, a WebAssembly component
//! in wasmtime) for batch sizes 1, 64, 1024 and 16384, against the same aggregate as a native
//! closure. Build the plugins first: `scripts/build-plugins.sh`; run with
//! `cargo bench -p eddy --bench aggregator`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eddy::plugin::{Runtime, WasmAggregator};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::PluginsConfig;

const GROUPS: u32 = 1024;

fn batch(size: usize) -> (Vec<u32>, Vec<f64>) {
    let slots = (0..size)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) % GROUPS)
        .collect();
    let values = (0..size).map(|i| (i % 1000) as f64 * 0.5).collect();
    (slots, values)
}

fn bench(c: &mut Criterion) {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist/plugins");
    let runtime = Runtime::new(&PluginsConfig {
        dir,
        ..PluginsConfig::default()
    })
    .expect("runtime");
    let loaded = runtime
        .load("sum")
        .expect("dist/plugins/sum.wasm: run scripts/build-plugins.sh first");
    let mut plugin = WasmAggregator::new(&runtime, &loaded, "{}").expect("sum configures");

    let mut group = c.benchmark_group("aggregate_sum");
    for size in [1usize, 64, 1024, 16_384] {
        let (slots, values) = batch(size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("wasm_plugin", size), &size, |b, _| {
            b.iter(|| {
                plugin
                    .accumulate(black_box(&slots), black_box(&values))
                    .expect("accumulate")
            })
        });
        let mut sums = vec![0.0f64; GROUPS as usize];
        let mut native = |slots: &[u32], values: &[f64]| {
            for (&slot, &value) in slots.iter().zip(values) {
                sums[slot as usize] += value;
            }
        };
        group.bench_with_input(BenchmarkId::new("native_closure", size), &size, |b, _| {
            b.iter(|| native(black_box(&slots), black_box(&values)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
