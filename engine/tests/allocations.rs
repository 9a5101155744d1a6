//! Steady state allocates per batch, not per event: decoding a batch and running it through
//! the window operator (tumbling, sliding and session windows over 1 000 keys, count and sum)
//! are counted with dhat's allocator once the keys' groups exist.

#[allow(dead_code)] // the driver and snapshot helpers serve the other operator tests
mod support;

use eddy_engine::aggregate::Aggregates;
use eddy_engine::config::Config;
use eddy_engine::decode::Decoder;
use eddy_engine::event::RawBatch;
use eddy_engine::operator::Operator;
use support::{AGGREGATES, NativeLoader};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const KEYS: usize = 1000;
/// Batches counted (after as many before them).
const BATCHES: usize = 40;

/// Batch `n` of the stream: `size` events over one second of event time, keys round robin.
fn batch(n: usize, size: usize) -> RawBatch {
    let mut batch = RawBatch::default();
    for i in 0..size {
        let event = n * size + i;
        let ts = n * 1000 + i * 1000 / size;
        let json = format!(
            r#"{{"key":"k{}","ts":{ts},"v":{}}}"#,
            event % KEYS,
            event % 7
        );
        batch.push_at(json.as_bytes(), 0, event as i64);
    }
    batch
}

/// Allocations of decoding and of the operator over batches 40 to 80 of a stream of `size`
/// events a batch, with `window` (YAML).
fn allocations(window: &str, size: usize) -> (u64, u64) {
    let batches: Vec<RawBatch> = (0..2 * BATCHES).map(|n| batch(n, size)).collect();
    let config = Config::from_yaml(&format!("{AGGREGATES}window: {window}\n")).expect("config");
    let aggregates = Aggregates::new(&NativeLoader, &config.aggregates).expect("natives");
    let mut operator = Operator::new(&config, aggregates);
    let decoder = Decoder::new(&config.decode, &config.aggregates);
    let mut now = 0;
    let mut run = |batches: &[RawBatch]| {
        let (mut decode, mut process) = (0, 0);
        for raw in batches {
            let before = dhat::HeapStats::get().total_blocks;
            let decoded = decoder.decode(raw);
            let decoded_at = dhat::HeapStats::get().total_blocks;
            now += 1;
            let out = operator
                .process(0, &decoded, &raw.source_offsets, now)
                .expect("processed");
            drop(out);
            drop(decoded);
            decode += decoded_at - before;
            process += dhat::HeapStats::get().total_blocks - decoded_at;
        }
        (decode, process)
    };
    // The first batches (41 s of event time) open, fire and release windows before counting.
    run(&batches[..BATCHES]);
    let (decode, process) = run(&batches[BATCHES..]);
    eprintln!(
        "{window}, {size} events a batch: {decode} allocations decoding, {process} in the operator, over {BATCHES} batches"
    );
    (decode, process)
}

#[test]
fn decode_and_operator_allocate_per_batch_not_per_event() {
    // One test: dhat's profiler is one per process.
    let _profiler = dhat::Profiler::builder().testing().build();
    for window in [
        "{ type: tumbling, size: 10s }",
        "{ type: sliding, size: 10s, slide: 1s }",
        "{ type: session, gap: 2s }",
    ] {
        // The same keys and windows, four times the events.
        let (decode, operator) = allocations(window, 1024);
        let (decode_4, operator_4) = allocations(window, 4096);
        // A batch's columns (keys, times, rows, values).
        assert!(
            decode_4 <= decode && decode <= 10 * BATCHES as u64,
            "{window}: decoding allocates {decode} then {decode_4} for 4 times the events"
        );
        // Results, and the groups the batch opens or closes: not the events in it.
        assert!(
            operator_4 <= operator + operator / 4 + 4 * BATCHES as u64,
            "{window}: the operator allocates {operator} then {operator_4} for 4 times the events"
        );
    }
    // A new group of a known key shares the key's name: tumbling windows over 1 000 keys open
    // 1 000 groups every 10 batches and allocate less than one block per batch for them.
    let (_, tumbling) = allocations("{ type: tumbling, size: 10s }", 1024);
    assert!(
        tumbling < 10 * BATCHES as u64,
        "tumbling windows: {tumbling} allocations in the operator over {BATCHES} batches"
    );
}
