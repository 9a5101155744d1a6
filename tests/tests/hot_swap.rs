//! Hot swap under a steady stream: an aggregate switches plugin version between two batches
//! and the results equal those of a run without the swap — no event lost, none counted twice.
//! Same plugin name and state format: the open windows' state moves to the new version.
//! Another state format: the old version finishes the windows it has open (also across a
//! snapshot and restore), new windows use the new one.

use std::time::Duration;

use eddy::pipeline::Swapped;
use eddy::pipeline::{Outputs, Pipeline};
use eddy::sink::{JsonLines, MemoryBuffer};
use eddy_engine::aggregate::Takeover;
use eddy_engine::config::StageId;
use eddy_engine::config::{Config, PluginsConfig, WindowConfig};
use eddy_engine::event::RawBatch;
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_tests::{fixture, plugin_dir};
use serde_json::Value;

fn config(window: WindowConfig) -> Config {
    let mut config = Config::from_yaml(
        "aggregates:\n\
         - { name: n, plugin: count }\n\
         - { name: s, plugin: sum, field: /amount }\n",
    )
    .expect("config");
    config.window = window;
    config.watermark.out_of_orderness = Duration::from_millis(300);
    config.allowed_lateness = Duration::from_millis(500);
    config.plugins = PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    };
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

fn batches() -> Vec<RawBatch> {
    let mut generator = Generator::new(GeneratorConfig {
        events: 40_000,
        keys: 30,
        max_disorder_ms: 200,
        ..GeneratorConfig::default()
    });
    std::iter::from_fn(|| generator.next_batch(400)).collect()
}

/// A result: (key, start, end, emit, n) and s.
type Row = ((String, i64, i64, String, i64), f64);

/// The results, sorted.
fn rows(values: Vec<Value>) -> Vec<Row> {
    let mut rows: Vec<_> = values
        .into_iter()
        .map(|v| {
            (
                (
                    v["key"].as_str().expect("key").to_string(),
                    v["window_start"].as_i64().expect("start"),
                    v["window_end"].as_i64().expect("end"),
                    v["emit"].as_str().expect("emit").to_string(),
                    v["n"].as_i64().expect("n"),
                ),
                v["s"].as_f64().expect("s"),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn assert_same(got: Vec<Value>, want: Vec<Value>) {
    let (got, want) = (rows(got), rows(want));
    assert_eq!(
        got.len(),
        want.len(),
        "one result per window, as without the swap"
    );
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0, "same windows and counts");
        assert!(
            (g.1 - w.1).abs() <= 1e-6 * w.1.abs().max(1.0),
            "sum of {:?}: {} vs {}",
            g.0,
            g.1,
            w.1
        );
    }
}

fn reference(config: &Config) -> Vec<Value> {
    let (mut pipeline, results) = pipeline(config);
    for batch in batches() {
        pipeline.process_at(batch, 0).expect("batch");
    }
    pipeline.finish().expect("finish");
    results.take()
}

/// Runs the stream, swapping `aggregates.s` to `version` halfway; with `restore`, the
/// pipeline is also snapshotted right after the swap and the rest runs in a fresh one.
fn swapped(config: &Config, version: &str, restore: bool) -> (Swapped, Vec<Value>) {
    let (mut pipeline, results) = pipeline(config);
    let batches = batches();
    let half = batches.len() / 2;
    let mut swapped = None;
    let mut written = Vec::new();
    let mut batches = batches.into_iter();
    for batch in batches.by_ref().take(half) {
        pipeline.process_at(batch, 0).expect("batch");
    }
    let source = fixture(version).display().to_string();
    swapped.get_or_insert(
        pipeline
            .swap(&StageId::Aggregate("s".into()), &source)
            .expect("swapped"),
    );
    if restore {
        let snapshots = pipeline.snapshot().expect("snapshot");
        written.extend(results.take());
        let (mut fresh, fresh_results) = self::pipeline(pipeline.config());
        for (partition, snapshot) in &snapshots {
            fresh.restore(*partition, snapshot, 0).expect("restored");
        }
        for batch in batches {
            fresh.process_at(batch, 0).expect("batch");
        }
        fresh.finish().expect("finish");
        written.extend(fresh_results.take());
    } else {
        for batch in batches {
            pipeline.process_at(batch, 0).expect("batch");
        }
        pipeline.finish().expect("finish");
        written.extend(results.take());
    }
    (swapped.expect("swap happened"), written)
}

fn tumbling() -> WindowConfig {
    WindowConfig::Tumbling {
        size: Duration::from_secs(1),
        offset: Duration::ZERO,
    }
}

#[test]
fn same_state_format_takes_over_open_windows() {
    let config = config(tumbling());
    let (how, got) = swapped(&config, "sum-v2", false);
    assert_eq!(how, Swapped::Aggregate(Takeover::State));
    assert_same(got, reference(&config));
}

#[test]
fn another_state_format_lets_the_old_version_finish_its_windows() {
    let config = config(tumbling());
    let (how, got) = swapped(&config, "sum-v3", false);
    assert_eq!(how, Swapped::Aggregate(Takeover::Retire));
    assert_same(got, reference(&config));
}

#[test]
fn a_retiring_version_survives_a_snapshot_and_restore() {
    let config = config(WindowConfig::Sliding {
        size: Duration::from_secs(2),
        slide: Duration::from_secs(1),
        offset: Duration::ZERO,
    });
    let (how, got) = swapped(&config, "sum-v3", true);
    assert_eq!(how, Swapped::Aggregate(Takeover::Retire));
    assert_same(got, reference(&config));
    let (how, got) = swapped(&config, "sum-v2", true);
    assert_eq!(how, Swapped::Aggregate(Takeover::State));
    assert_same(got, reference(&config));
}

#[test]
fn session_windows_refuse_another_state_format_and_keep_running() {
    let config = config(WindowConfig::Session {
        gap: Duration::from_millis(500),
    });
    let (mut pipeline, _) = pipeline(&config);
    let mut batches = batches().into_iter();
    for batch in batches.by_ref().take(10) {
        pipeline.process_at(batch, 0).expect("batch");
    }
    let source = fixture("sum-v3").display().to_string();
    let error = pipeline
        .swap(&StageId::Aggregate("s".into()), &source)
        .expect_err("refused");
    assert!(error.to_string().contains("state format"), "{error}");
    assert_eq!(pipeline.config().aggregates[1].plugin, "sum", "unchanged");
    let wrong = fixture("panicky-filter").display().to_string();
    assert!(
        pipeline
            .swap(&StageId::Aggregate("s".into()), &wrong)
            .is_err(),
        "a filter cannot be an aggregate"
    );
    for batch in batches {
        pipeline.process_at(batch, 0).expect("still running");
    }
}
