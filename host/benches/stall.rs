//! Checkpoints and swaps that do not stall the stream: 1 M open keys over 4 partitions
//! (tumbling 1 h windows, count/sum/min/max/avg plugins) in RocksDB, 1 % of the keys changing
//! between checkpoints (10 000 events a second, in batches paced over the second), one
//! checkpoint a second, 20 seconds per mode:
//!
//! - `none`: no checkpoint (the batches' own latency);
//! - `incremental, beside the loop`: what `eddy run` does with at-least-once — the loop
//!   collects the changed groups (the pause), a writer thread encodes and writes them;
//! - `incremental, in the loop (exactly-once)`: the changes encoded and written on the loop's
//!   thread, as exactly-once does (its transaction commits only once the state is durable;
//!   the commit's round trip to the broker is not included);
//! - `whole, in the loop`: every group saved and written on the loop's thread, as before
//!   incremental checkpoints (and as `state.shared_dir` still does).
//!
//! A batch's latency runs from its scheduled time to the end of its processing, so a batch
//! due during a pause counts the pause. Also: a hot swap (same state format) at a checkpoint
//! barrier under the same load, and the recovery of the 1 M keys from the last incremental
//! checkpoint (its whole record and the changes after it).
//!
//! `cargo bench -p eddy --bench stall`; `BENCH_KEYS` (1 000 000) and `BENCH_SECONDS` (20)
//! change the sizes. Build the plugins first (`scripts/build-plugins.sh`).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::JsonLines;
use eddy::state;
use eddy_engine::config::{BackendKind, Config, SourceConfig, StageId, StateConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::state::{CheckpointStore, PartitionChange};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PARTITIONS: u32 = 4;
const BASE_MS: i64 = 1_700_000_000_000;
const BATCHES_PER_SECOND: u32 = 20;

fn dist(folder: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist")
        .join(folder)
}

fn config() -> Config {
    let mut config = Config::from_yaml(
        "decode: { key: /k, time: /t }\n\
         window: { type: tumbling, size: 1h }\n\
         aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /v }\n\
         - { name: min, plugin: min, field: /v }\n\
         - { name: max, plugin: max, field: /v }\n\
         - { name: avg, plugin: avg, field: /v }\n",
    )
    .expect("config");
    config.source = SourceConfig::Kafka {
        topic: "events".into(),
    };
    config.plugins.dir = dist("plugins");
    config
}

fn pipeline(config: &Config) -> Pipeline {
    let outputs = Outputs {
        results: JsonLines::memory().0.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    Pipeline::new(config, outputs).expect("pipeline")
}

/// Events for `keys` of partition `p` (key index, value), at offsets from `offset`.
fn batch(p: u32, keys: &[i64], offset: i64) -> RawBatch {
    let mut batch = RawBatch::with_capacity(keys.len(), 0);
    batch.partition = p;
    for (i, key) in keys.iter().enumerate() {
        let payload = format!(
            r#"{{"k":"user-{p}-{key}","t":{},"v":{}}}"#,
            BASE_MS + key % 1_000,
            key % 100
        );
        batch.push_at(payload.as_bytes(), 0, offset + i as i64);
    }
    batch
}

/// One pipeline with `keys` open groups, and the next offset of each partition.
fn filled(config: &Config, keys: i64) -> (Pipeline, Vec<i64>) {
    let mut pipeline = pipeline(config);
    let per = keys / i64::from(PARTITIONS);
    for p in 0..PARTITIONS {
        let all: Vec<i64> = (0..per).collect();
        for (n, chunk) in all.chunks(4096).enumerate() {
            pipeline
                .process_at(batch(p, chunk, n as i64 * 4096), 0)
                .expect("processed");
        }
    }
    (pipeline, vec![per; PARTITIONS as usize])
}

/// How checkpoints are taken in a mode.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    None,
    Incremental,
    /// Incremental, written on the loop's thread: what exactly-once does (the transaction
    /// commits after the state is durable, so the loop waits for the write).
    IncrementalInLoop,
    Whole,
}

/// A checkpoint for the writer thread: plugin versions and changes.
type Job = (Vec<String>, Vec<PartitionChange>);

/// The writer thread: writes each checkpoint handed to it, answers with the time and bytes.
fn writer(store: Arc<Mutex<CheckpointStore>>) -> (Sender<Job>, Receiver<(Duration, u64)>) {
    let (jobs, received) = channel::<Job>();
    let (sent, done) = channel();
    std::thread::spawn(move || {
        for (plugins, changes) in received {
            let started = Instant::now();
            let (_, written) = store
                .lock()
                .expect("store")
                .write_changes(0, plugins, changes)
                .expect("write");
            if sent.send((started.elapsed(), written.bytes)).is_err() {
                break;
            }
        }
    });
    (jobs, done)
}

#[derive(Default)]
struct Measured {
    batches: Option<Histogram<u64>>,
    pauses: Vec<Duration>,
    first_pause: Option<Duration>,
    writes: Vec<Duration>,
    bytes: Vec<u64>,
    groups: Vec<usize>,
    /// The barrier's checkpoint, and the swap after it.
    swap: Option<(Duration, Duration)>,
    /// From the swap until the last group moved to the new version, and the batches that
    /// took.
    moved: Option<(Duration, usize)>,
    postponed: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// Runs `seconds` of load on `pipeline` in `mode`, checkpointing to `store` once a second;
/// with `swap`, swaps `sum` to it at a barrier halfway.
fn run(
    pipeline: &mut Pipeline,
    offsets: &mut [i64],
    store: &Arc<Mutex<CheckpointStore>>,
    (mode, seconds, keys): (Mode, u32, i64),
    swap: Option<&str>,
) -> Measured {
    let mut rng = StdRng::seed_from_u64(7);
    let per_batch = (keys / 100 / i64::from(BATCHES_PER_SECOND)).max(1) as usize;
    let per_partition = keys / i64::from(PARTITIONS);
    let mut latency = Histogram::<u64>::new(3).expect("histogram");
    let mut measured = Measured::default();
    let (jobs, done) = writer(Arc::clone(store));
    let mut in_flight = 0usize;
    let mut moving: Option<(Instant, usize)> = None;
    if mode == Mode::Incremental {
        // The first checkpoint after a start or restore saves every group: taken (and
        // reported) before the load starts, as it would be soon after a start.
        let first = Instant::now();
        let changes = pipeline.checkpoint_changes(true).expect("first");
        measured.first_pause = Some(first.elapsed());
        jobs.send((pipeline.plugin_versions(), changes))
            .expect("writer");
        let (took, bytes) = done.recv().expect("writer");
        println!(
            "(first checkpoint after the start, whole: pause {:.0} ms, written beside the loop in {:.0} ms, {bytes} bytes)",
            ms(first.elapsed() - took),
            ms(took)
        );
    }
    if mode == Mode::IncrementalInLoop {
        // Likewise, written on the loop's thread.
        let first = Instant::now();
        let changes = pipeline.checkpoint_changes(true).expect("first");
        store
            .lock()
            .expect("store")
            .write_changes(0, pipeline.plugin_versions(), changes)
            .expect("write");
        measured.first_pause = Some(first.elapsed());
    }
    let slot = Duration::from_secs(1) / BATCHES_PER_SECOND;
    let started = Instant::now();
    for second in 0..seconds {
        for n in 0..BATCHES_PER_SECOND {
            let due = started + Duration::from_secs(u64::from(second)) + slot * n;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let p = n % PARTITIONS;
            let chosen: Vec<i64> = (0..per_batch)
                .map(|_| rng.random_range(0..per_partition))
                .collect();
            let offset = &mut offsets[p as usize];
            pipeline
                .process_at(batch(p, &chosen, *offset), 0)
                .expect("batch");
            // As the loop does after every round: a few more groups move after a swap.
            if let Some((swapped, rounds)) = &mut moving {
                *rounds += 1;
                if pipeline.migrate().expect("migrate") == 0 {
                    measured.moved = Some((swapped.elapsed(), *rounds));
                    moving = None;
                }
            }
            *offset += chosen.len() as i64;
            let _ = latency.record(due.elapsed().as_micros() as u64);
        }
        while in_flight > 0
            && let Ok((took, bytes)) = done.try_recv()
        {
            measured.writes.push(took);
            measured.bytes.push(bytes);
            in_flight -= 1;
        }
        let swap_now = swap.is_some() && second == seconds / 2;
        let barrier = Instant::now();
        match mode {
            Mode::None => continue,
            // As the loop does: a periodic checkpoint is put off while one is written; a
            // barrier's queues behind it.
            Mode::Incremental if in_flight > 0 && !swap_now => {
                measured.postponed += 1;
                continue;
            }
            Mode::Incremental => {
                let changes = pipeline.checkpoint_changes(true).expect("changes");
                measured
                    .groups
                    .push(changes.iter().map(|c| c.saved.groups()).sum());
                jobs.send((pipeline.plugin_versions(), changes))
                    .expect("writer");
                in_flight += 1;
            }
            Mode::Whole | Mode::IncrementalInLoop => {
                let changes = pipeline
                    .checkpoint_changes(mode == Mode::IncrementalInLoop)
                    .expect("states");
                measured
                    .groups
                    .push(changes.iter().map(|c| c.saved.groups()).sum());
                let (_, written) = store
                    .lock()
                    .expect("store")
                    .write_changes(0, pipeline.plugin_versions(), changes)
                    .expect("write");
                measured.bytes.push(written.bytes);
            }
        }
        let pause = barrier.elapsed();
        if let Some(source) = swap
            && swap_now
        {
            let swapping = Instant::now();
            pipeline
                .swap(&StageId::Aggregate("sum".into()), source)
                .expect("swap");
            measured.swap = Some((pause, swapping.elapsed()));
            moving = Some((swapping, 0));
        }
        if measured.first_pause.is_none() {
            measured.first_pause = Some(pause);
        } else {
            measured.pauses.push(pause);
        }
    }
    for _ in 0..in_flight {
        let (took, bytes) = done.recv().expect("writer");
        measured.writes.push(took);
        measured.bytes.push(bytes);
    }
    measured.batches = Some(latency);
    measured
}

fn store_in(dir: &std::path::Path) -> (StateConfig, Arc<Mutex<CheckpointStore>>) {
    let config = StateConfig {
        backend: BackendKind::Rocksdb,
        dir: dir.join("state"),
        ..StateConfig::default()
    };
    let store = state::open(&config).expect("state");
    (config, Arc::new(Mutex::new(store)))
}

fn main() {
    let keys: i64 = std::env::var("BENCH_KEYS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u32 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(20);
    let config = config();
    let v2 = dist("fixtures").join("sum-v2.wasm").display().to_string();
    println!(
        "Checkpoint pauses: {keys} open keys, 4 partitions, 5 aggregates, RocksDB; {} events/s ({} % of the keys), a checkpoint a second, {seconds} s per mode",
        keys / 100,
        1
    );
    println!(
        "| checkpoints | first pause | pause p50 | pause p99 | pause max | write beside the loop p50 / max | bytes per checkpoint (median) | groups saved (median) | batch latency p50 | p99 | max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut recovery_dir = None;
    for (mode, name) in [
        (Mode::None, "none"),
        (Mode::Incremental, "incremental, beside the loop"),
        (
            Mode::IncrementalInLoop,
            "incremental, in the loop (exactly-once)",
        ),
        (Mode::Whole, "whole, in the loop"),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let (state_config, store) = store_in(dir.path());
        let (mut pipeline, mut offsets) = filled(&config, keys);
        let swap = (mode == Mode::Incremental).then_some(v2.as_str());
        let m = run(
            &mut pipeline,
            &mut offsets,
            &store,
            (mode, seconds, keys),
            swap,
        );
        let batches = m.batches.as_ref().expect("measured");
        let q = |p: f64| batches.value_at_quantile(p) as f64 / 1e3;
        let median = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let dash = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1} ms", ms(d)));
        let writes = if m.writes.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.0} / {:.0} ms",
                ms(percentile(&m.writes, 0.5)),
                ms(percentile(&m.writes, 1.0))
            )
        };
        let pauses = |p: f64| (!m.pauses.is_empty()).then(|| percentile(&m.pauses, p));
        println!(
            "| {name} | {} | {} | {} | {} | {writes} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            dash(m.first_pause),
            dash(pauses(0.5)),
            dash(pauses(0.99)),
            dash(pauses(1.0)),
            median(m.bytes.clone()),
            median(m.groups.iter().map(|&g| g as u64).collect()),
            q(0.5),
            q(0.99),
            batches.max() as f64 / 1e3,
        );
        if m.postponed > 0 {
            println!(
                "| (checkpoints put off while the one before was written: {}) | | | | | | | | | | |",
                m.postponed
            );
        }
        if let Some((barrier, swap)) = m.swap {
            println!(
                "| (swap of `sum` to a same-format version at second {}: barrier checkpoint {:.1} ms + swap {:.1} ms = pause {:.1} ms) | | | | | | | | | | |",
                seconds / 2,
                ms(barrier),
                ms(swap),
                ms(barrier + swap)
            );
        }
        if let Some((moved, rounds)) = m.moved {
            println!(
                "| (then every open group moved to the new version within {:.0} ms, over {rounds} batches, about {:.0} ms a batch) | | | | | | | | | | |",
                ms(moved),
                ms(eddy::pipeline::MIGRATE_PER_ROUND)
            );
        }
        if mode == Mode::Incremental {
            drop(store);
            recovery_dir = Some((dir, state_config, pipeline.open_groups()));
        }
    }
    if let Some((_dir, state_config, open)) = recovery_dir {
        let mut next = pipeline(&config);
        let started = Instant::now();
        let mut store = state::open(&state_config).expect("reopen");
        let id = store.latest_id().expect("a checkpoint");
        let partitions: Vec<u32> = (0..PARTITIONS).collect();
        let states = store.load(id, &partitions).expect("read").expect("usable");
        for state in states.values() {
            next.restore_partition(state, 0).expect("restore");
        }
        let took = started.elapsed();
        assert_eq!(next.open_groups(), open, "every group restored");
        println!();
        println!(
            "Recovery of {open} open keys from the last incremental checkpoint (its whole record and the changes after it): {:.0} ms",
            ms(took)
        );
    }
}
