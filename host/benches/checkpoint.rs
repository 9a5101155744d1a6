//! Checkpoint and recovery cost: open groups over 4 partitions (tumbling 1 h windows,
//! count/sum/min/max/avg plugins), checkpointed to RocksDB (snapshot of every group's plugin
//! state, then one synced write batch) and restored into a fresh pipeline (read, digest
//! check, groups and plugin state rebuilt).
//!
//! Then the hand-over of one partition of `BENCH_HANDOVER_KEYS` (100 000) keys between two
//! replicas through the shared directory.
//!
//! `cargo bench -p eddy --bench checkpoint`; `BENCH_KEYS=100000,1000000` (the default) sets
//! the sizes. Build the plugins first (`scripts/build-plugins.sh`).

use std::path::PathBuf;
use std::time::Instant;

use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::JsonLines;
use eddy::state;
use eddy_engine::config::{BackendKind, Config, SourceConfig, StateConfig};
use eddy_engine::event::RawBatch;

const PARTITIONS: u32 = 4;
const BASE_MS: i64 = 1_700_000_000_000;

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
    config.plugins.dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../dist/plugins");
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

fn fill(pipeline: &mut Pipeline, keys: i64) {
    for p in 0..PARTITIONS {
        fill_partition(pipeline, p, keys / i64::from(PARTITIONS));
    }
}

/// `keys` events of distinct keys into partition `p`: as many open groups.
fn fill_partition(pipeline: &mut Pipeline, p: u32, keys: i64) {
    let mut start = 0;
    while start < keys {
        let end = (start + 4096).min(keys);
        let mut batch = RawBatch::with_capacity((end - start) as usize, 0);
        batch.partition = p;
        for offset in start..end {
            let payload = format!(
                r#"{{"k":"user-{p}-{offset}","t":{},"v":{}}}"#,
                BASE_MS + offset % 1_000,
                offset % 100
            );
            batch.push_at(payload.as_bytes(), 0, offset);
        }
        pipeline.process_at(batch, 0).expect("processed");
        start = end;
    }
}

/// Hand-over of one partition between replicas through the shared directory: the old owner
/// publishes it with a checkpoint; the new owner lists, reads, checks and restores it.
fn handover(config: &Config, keys: i64) {
    let dir = tempfile::tempdir().expect("dir");
    let state_config = StateConfig {
        shared_dir: Some(dir.path().join("shared")),
        ..StateConfig::default()
    };
    let mut owner = pipeline(config);
    fill_partition(&mut owner, 0, keys);
    let mut store = state::open(&state_config).expect("shared dir");
    let started = Instant::now();
    let states = owner.checkpoint_states().expect("snapshot");
    store
        .write(0, owner.plugin_versions(), states)
        .expect("publish");
    let publish = started.elapsed();
    drop((owner, store));

    let mut next = pipeline(config);
    let started = Instant::now();
    let store = state::open(&state_config).expect("shared dir");
    let entry = store.shared_entries(0).expect("list").remove(0);
    let bytes = std::fs::metadata(&entry.path).map_or(0, |m| m.len());
    let state = store.load_shared(&entry).expect("readable");
    next.restore_partition(&state, 0).expect("restore");
    let restore = started.elapsed();
    assert_eq!(next.open_groups() as i64, keys);
    println!();
    println!("Hand-over of one partition through the shared directory (`state.shared_dir`)");
    println!(
        "| keys in the partition | file bytes | checkpoint + publish (old owner) | list + read + restore (new owner) |"
    );
    println!("|---|---|---|---|");
    println!(
        "| {keys} | {bytes} | {:.0} ms | {:.0} ms |",
        publish.as_secs_f64() * 1e3,
        restore.as_secs_f64() * 1e3
    );
}

fn main() {
    let sizes: Vec<i64> = std::env::var("BENCH_KEYS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let config = config();
    println!("Checkpoint and recovery, RocksDB, 4 partitions, 5 aggregates");
    println!(
        "| keys | bytes | snapshot | write (synced) | checkpoint total | recovery (open, read, restore) |"
    );
    println!("|---|---|---|---|---|---|");
    for keys in sizes {
        let dir = tempfile::tempdir().expect("dir");
        let state_config = StateConfig {
            backend: BackendKind::Rocksdb,
            dir: dir.path().join("state"),
            ..StateConfig::default()
        };
        let mut first = pipeline(&config);
        fill(&mut first, keys);
        let mut store = state::open(&state_config).expect("state");
        let started = Instant::now();
        let states = first.checkpoint_states().expect("snapshot");
        let snapshot = started.elapsed();
        let (id, written) = store
            .write(0, first.plugin_versions(), states)
            .expect("write");
        let total = started.elapsed();
        drop((first, store));

        let mut second = pipeline(&config);
        let started = Instant::now();
        let mut store = state::open(&state_config).expect("reopen");
        let partitions: Vec<u32> = (0..PARTITIONS).collect();
        let states = store.load(id, &partitions).expect("read").expect("usable");
        for state in states.values() {
            second.restore_partition(state, 0).expect("restore");
        }
        let recovery = started.elapsed();
        assert_eq!(second.open_groups() as i64, keys);
        println!(
            "| {keys} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            written.bytes,
            snapshot.as_secs_f64() * 1e3,
            (total - snapshot).as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            recovery.as_secs_f64() * 1e3
        );
    }
    let handover_keys = std::env::var("BENCH_HANDOVER_KEYS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100_000);
    if handover_keys > 0 {
        handover(&config, handover_keys);
    }
}
