//! Recovery from RocksDB checkpoints: a million open keys checkpointed and restored into a
//! fresh pipeline that then fires them, a deliberately truncated latest checkpoint that
//! falls back to the one before, and a state directory that cannot be used stopping `eddy
//! run` with its name.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy::state;
use eddy_engine::config::{BackendKind, Config, Delivery, SourceConfig, StateConfig};
use eddy_engine::delta::SavedState;
use eddy_engine::event::RawBatch;
use eddy_engine::recovery::{Candidate, candidates};
use eddy_engine::state::{CheckpointStore, PartitionState};
use eddy_tests::plugin_dir;
use eddy_tests::process::eddy_binary;

const PARTITIONS: u32 = 4;
const BASE_MS: i64 = 1_700_000_000_000;

fn config() -> Config {
    let mut config = Config::from_yaml(
        "decode: { key: /k, time: /t }\n\
         window: { type: tumbling, size: 1h }\n\
         aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /v }\n",
    )
    .expect("config");
    config.source = SourceConfig::Kafka {
        topic: "events".into(),
    };
    config.plugins.dir = plugin_dir();
    config
}

fn pipeline(config: &Config) -> (Pipeline, MemoryBuffer) {
    let (results, buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: JsonLines::memory().0.into(),
    };
    (Pipeline::new(config, outputs).expect("pipeline"), buffer)
}

/// Offsets `from..to` of every partition: key `p<p>-k<offset>`, value `offset % 100`, all in
/// the first hour.
fn feed(pipeline: &mut Pipeline, from: i64, to: i64) {
    for p in 0..PARTITIONS {
        let mut start = from;
        while start < to {
            let end = (start + 4096).min(to);
            let mut batch = RawBatch::with_capacity((end - start) as usize, 0);
            batch.partition = p;
            for offset in start..end {
                let payload = format!(
                    r#"{{"k":"p{p}-k{offset}","t":{},"v":{}}}"#,
                    BASE_MS + offset % 1_000,
                    offset % 100
                );
                batch.push_at(payload.as_bytes(), 0, offset);
            }
            pipeline.process_at(batch, 0).expect("processed");
            start = end;
        }
    }
}

/// An event far ahead in every partition: fires every window.
fn fire(pipeline: &mut Pipeline, offset: i64) {
    for p in 0..PARTITIONS {
        let mut batch = RawBatch::with_capacity(1, 0);
        batch.partition = p;
        let payload = format!(r#"{{"k":"end","t":{},"v":0}}"#, BASE_MS + 10 * 3_600_000);
        batch.push_at(payload.as_bytes(), 0, offset);
        pipeline.process_at(batch, 0).expect("processed");
    }
}

fn rocks(dir: &std::path::Path) -> StateConfig {
    StateConfig {
        backend: BackendKind::Rocksdb,
        dir: dir.join("state"),
        keep: 3,
        ..StateConfig::default()
    }
}

/// Restores every partition of checkpoint `id` into a fresh pipeline.
fn restore(store: &mut CheckpointStore, id: u64, config: &Config) -> (Pipeline, MemoryBuffer) {
    let partitions: Vec<u32> = (0..PARTITIONS).collect();
    let states = store
        .load(id, &partitions)
        .expect("read")
        .expect("usable checkpoint");
    let (mut pipeline, buffer) = pipeline(config);
    for state in states.values() {
        pipeline.restore_partition(state, 0).expect("restored");
    }
    (pipeline, buffer)
}

#[test]
fn a_million_keys_are_checkpointed_to_rocksdb_and_restored() {
    let per_partition = 250_000;
    let dir = tempfile::tempdir().expect("dir");
    let config = config();
    let (mut first, _) = pipeline(&config);
    feed(&mut first, 0, per_partition);
    assert_eq!(first.open_groups(), 1_000_000);
    let started = Instant::now();
    let states: Vec<PartitionState> = first.checkpoint_states().expect("snapshot");
    let mut store = state::open(&rocks(dir.path())).expect("state");
    let (id, written) = store
        .write(0, first.plugin_versions(), states)
        .expect("written");
    eprintln!(
        "checkpoint of 1 000 000 keys: {} bytes in {:?} (debug build)",
        written.bytes,
        started.elapsed()
    );
    drop((first, store));

    let started = Instant::now();
    let mut store = state::open(&rocks(dir.path())).expect("reopened");
    assert_eq!(store.latest_id(), Some(id));
    let (mut second, results) = restore(&mut store, id, &config);
    eprintln!(
        "recovery of 1 000 000 keys: {:?} (debug build)",
        started.elapsed()
    );
    assert_eq!(second.open_groups(), 1_000_000, "every key is back");
    // One more event for some keys, then everything fires: the restored counts continue.
    feed(&mut second, per_partition, per_partition + 10);
    fire(&mut second, per_partition + 10);
    let rows = results.take();
    assert_eq!(rows.len(), 1_000_040, "one result per key");
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut sum = 0;
    for row in &rows {
        *counts.entry(row["n"].as_i64().expect("n")).or_default() += 1;
        sum += row["sum"].as_i64().expect("sum");
    }
    assert_eq!(counts, BTreeMap::from([(1, 1_000_040)]));
    let want: i64 = (0..per_partition + 10).map(|o| o % 100).sum::<i64>() * 4;
    assert_eq!(sum, want, "sums survive the round trip");
}

#[test]
fn a_truncated_latest_checkpoint_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config();
    let (mut pipeline, _) = pipeline(&config);
    let mut store = state::open(&rocks(dir.path())).expect("state");
    feed(&mut pipeline, 0, 1_000);
    let states = pipeline.checkpoint_changes(true).expect("snapshot");
    let (older, _) = store.write_changes(0, Vec::new(), states).expect("written");
    feed(&mut pipeline, 1_000, 1_500);
    // The latest holds only the changes since the older one.
    let changes = pipeline.checkpoint_changes(true).expect("snapshot");
    assert!(
        changes
            .iter()
            .all(|c| matches!(c.saved, SavedState::Delta(_)))
    );
    let (latest, _) = store
        .write_changes(0, Vec::new(), changes)
        .expect("written");
    let (whole, _) = restore(&mut store, latest, &config);
    assert_eq!(
        whole.open_groups(),
        pipeline.open_groups(),
        "changes applied"
    );
    drop(store);

    // Cut partition 2's record of the latest checkpoint in half, as a torn write would.
    {
        let db = rocksdb::DB::open_default(dir.path().join("state")).expect("raw db");
        let key = format!("s/{latest:020}/{:010}", 2);
        let value = db.get(&key).expect("get").expect("record present");
        db.put(&key, &value[..value.len() / 2]).expect("truncated");
    }

    let mut store = state::open(&rocks(dir.path())).expect("reopened");
    let ids = candidates(Delivery::AtLeastOnce, 2, None, store.index(), &[]);
    assert_eq!(
        ids,
        vec![Candidate::Local(latest), Candidate::Local(older)],
        "both are candidates by their manifests"
    );
    assert_eq!(
        store.load(latest, &[2]).expect("read"),
        None,
        "the truncated one is refused"
    );
    let (restored, _) = restore(&mut store, older, &config);
    assert_eq!(restored.open_groups(), 4_000, "the one before is whole");
    assert_eq!(store.index().last().map(|i| i.id), Some(older));
}

#[test]
fn an_unusable_state_directory_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let not_a_dir = dir.path().join("precious-file");
    std::fs::write(&not_a_dir, b"keep me").expect("file");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{ type: kafka, topic: events }}\n\
             sink: {{ type: kafka, topic: results }}\n\
             kafka: {{ brokers: 127.0.0.1:1 }}\n\
             state: {{ backend: rocksdb, dir: {} }}\n",
            not_a_dir.display()
        ),
    )
    .expect("config");
    let started = Instant::now();
    let output = Command::new(eddy_binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .output()
        .expect("eddy runs");
    assert!(!output.status.success(), "refuses to start");
    assert!(started.elapsed() < Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("precious-file"),
        "names the directory: {stderr}"
    );
    assert_eq!(
        std::fs::read(&not_a_dir).expect("still there"),
        b"keep me",
        "never wiped"
    );
}
