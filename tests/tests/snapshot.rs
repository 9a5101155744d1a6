//! An operator's state survives a snapshot: a pipeline stopped mid-stream, its snapshot
//! serialised and restored into a fresh pipeline (new plugin instances) that processes the
//! rest, writes exactly what one uninterrupted pipeline writes — for tumbling, sliding and
//! session windows, with allowed lateness, late events, and aggregates with rich state
//! (percentile t-digests, stddev).

use std::time::Duration;

use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::config::{Config, PluginsConfig, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_engine::snapshot::OperatorSnapshot;
use eddy_tests::plugin_dir;

fn config(window: WindowConfig) -> Config {
    let mut config = Config::from_yaml(
        "aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: sum, plugin: sum, field: /amount }\n\
         - { name: sd, plugin: stddev, field: /amount }\n\
         - { name: p, plugin: percentile, field: /latency_ms, config: { quantiles: [0.5, 0.9] } }\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(300);
    config.allowed_lateness = Duration::from_secs(1);
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    };
    config
}

fn pipeline(config: &Config) -> (Pipeline, MemoryBuffer, MemoryBuffer) {
    let (results, results_buffer) = JsonLines::memory();
    let (late, late_buffer) = JsonLines::memory();
    let (dead_letter, _) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: late.into(),
        dead_letter: dead_letter.into(),
    };
    let pipeline = Pipeline::new(config, outputs).expect("pipeline");
    (pipeline, results_buffer, late_buffer)
}

fn batches() -> Vec<RawBatch> {
    let mut generator = Generator::new(GeneratorConfig {
        events: 60_000,
        keys: 40,
        max_disorder_ms: 800,
        late_every: 997,
        late_by_ms: 5_000,
        ..GeneratorConfig::default()
    });
    std::iter::from_fn(|| generator.next_batch(500)).collect()
}

fn check(window: WindowConfig) {
    let config = config(window);
    let batches = batches();
    let cut = batches.len() / 2;

    let (mut whole, whole_results, whole_late) = pipeline(&config);
    for (i, batch) in batches.iter().enumerate() {
        whole.process_at(batch.clone(), i as i64).expect("batch");
    }
    whole.finish().expect("finish");

    let (mut first, first_results, first_late) = pipeline(&config);
    for (i, batch) in batches[..cut].iter().enumerate() {
        first.process_at(batch.clone(), i as i64).expect("batch");
    }
    let snapshots = first.snapshot().expect("snapshot");
    assert!(
        snapshots.iter().any(|(_, s)| !s.groups.is_empty()),
        "windows are open at the cut"
    );
    drop(first);
    // Through bytes, as a checkpoint stores them.
    let bytes = serde_json::to_vec(&snapshots).expect("serialise");
    let snapshots: Vec<(u32, OperatorSnapshot)> =
        serde_json::from_slice(&bytes).expect("deserialise");

    let (mut second, second_results, second_late) = pipeline(&config);
    for (partition, snapshot) in &snapshots {
        second
            .restore(*partition, snapshot, cut as i64)
            .expect("restore");
    }
    for (i, batch) in batches.iter().enumerate().skip(cut) {
        second.process_at(batch.clone(), i as i64).expect("batch");
    }
    second.finish().expect("finish");

    let mut resumed = first_results.take_bytes();
    resumed.extend(second_results.take_bytes());
    let whole_bytes = whole_results.take_bytes();
    assert!(!whole_bytes.is_empty());
    let resumed = String::from_utf8_lossy(&resumed).into_owned();
    let whole_text = String::from_utf8_lossy(&whole_bytes).into_owned();
    let first_difference = resumed
        .lines()
        .zip(whole_text.lines())
        .position(|(a, b)| a != b);
    assert_eq!(
        first_difference.map(|i| (
            i,
            resumed.lines().nth(i).map(str::to_string),
            whole_text.lines().nth(i).map(str::to_string)
        )),
        None,
        "first result that differs (resumed, uninterrupted)"
    );
    assert_eq!(resumed.lines().count(), whole_text.lines().count());
    let mut late = first_late.take();
    late.extend(second_late.take());
    let whole_late = whole_late.take();
    assert!(!whole_late.is_empty(), "the data has late events");
    assert_eq!(late, whole_late, "late events");
}

#[test]
fn tumbling_state_survives_a_snapshot() {
    check(WindowConfig::Tumbling {
        size: Duration::from_secs(2),
        offset: Duration::ZERO,
    });
}

#[test]
fn sliding_state_survives_a_snapshot() {
    check(WindowConfig::Sliding {
        size: Duration::from_secs(3),
        slide: Duration::from_secs(1),
        offset: Duration::ZERO,
    });
}

#[test]
fn session_state_survives_a_snapshot() {
    check(WindowConfig::Session {
        gap: Duration::from_millis(40),
    });
}

#[test]
fn state_of_other_aggregates_is_refused() {
    let tumbling = WindowConfig::Tumbling {
        size: Duration::from_secs(2),
        offset: Duration::ZERO,
    };
    let (mut first, _, _) = pipeline(&config(tumbling.clone()));
    first.process_at(batches()[0].clone(), 0).expect("batch");
    let snapshots = first.snapshot().expect("snapshot");
    let mut other = config(tumbling);
    other.aggregates.truncate(2);
    let (mut second, _, _) = pipeline(&other);
    let error = second
        .restore(0, &snapshots[0].1, 0)
        .expect_err("different aggregates");
    assert!(
        error.to_string().contains("saved state is of aggregates"),
        "{error}"
    );
}
