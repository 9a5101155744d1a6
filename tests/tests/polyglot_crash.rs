//! A Python aggregator's state in real checkpoints: `eddy run` on Apache Kafka, exactly-once,
//! with RocksDB checkpoints, runs the Python spread (`examples/python-spread`) beside the
//! built-in count, sum, min and max over the known dataset while it is produced bit by bit, and
//! is killed with SIGKILL six times. Each restart is a fresh process that restores the open
//! windows — the Python groups' state included — from the checkpoint in RocksDB. The committed
//! output is the reference exactly (nothing lost, nothing twice), and every window's spread is
//! its max minus its min: no Python state was lost or counted twice across the kills.

use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::example;
use eddy_tests::process::Eddy;
use eddy_tests::topics::{feed_in_background, read_outputs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Slices the dataset is produced in, one every `SLICE_EVERY`.
const SLICES: usize = 30;
const SLICE_EVERY: Duration = Duration::from_millis(1_500);
const KILLS: usize = 6;

#[test]
fn python_spread_state_survives_kills_exactly_once() {
    let _heavy = one_at_a_time();
    let started = Instant::now();
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let max = "  - { name: max, plugin: max, field: /amount }\n";
    assert!(CONFIG.contains(max));
    let spread = format!(
        "{max}  - {{ name: spread, plugin: '{}', field: /amount }}\n",
        example("python-spread").display()
    );
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            "{}state:\n  backend: rocksdb\n  dir: {}\n  checkpoint_interval: 300ms\n  delivery: exactly_once\n  transactional_id: eddy-python-crash-test\n",
            CONFIG.replace(max, &spread),
            dir.path().join("state").display()
        ),
    )
    .expect("config written");
    // A killed member leaves the group only when its session times out: keep it short.
    let env = [
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "3000".to_string(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__HEARTBEAT_INTERVAL_MS",
            "500".to_string(),
        ),
    ];
    let feeder = feed_in_background(
        &brokers,
        &data.records,
        PARTITIONS as usize,
        (SLICES, SLICE_EVERY),
    );
    let mut rng = StdRng::seed_from_u64(17);
    let mut restored = 0.0;
    for n in 0..KILLS {
        let mut eddy = Eddy::run(&config, &brokers, &env);
        eddy.wait_ready(Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(rng.random_range(500..3_000)));
        restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
        let checkpoint = eddy.metric("eddy_checkpoint_id");
        eddy.crash();
        eprintln!(
            "kill {}: checkpoint {checkpoint:?}; {restored} partitions restored so far",
            n + 1
        );
    }
    feeder.join().expect("feeder");
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(90));
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(3),
        Duration::from_secs(120),
    );
    restored += eddy.metric("eddy_partitions_restored_total").unwrap_or(0.0);
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    assert!(
        restored > 0.0,
        "restarts restored partitions from checkpoints"
    );

    let report = Report::of(&data, &outputs);
    eprintln!(
        "after {KILLS} kills, {:?}: {}; {restored} partitions restored",
        started.elapsed(),
        report.summary()
    );
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
    let mut checked = 0;
    let mut wrong = Vec::new();
    for record in outputs.get("results").into_iter().flatten() {
        let v: Value = serde_json::from_slice(&record.payload).expect("json");
        let (min, max) = (v["min"].as_f64(), v["max"].as_f64());
        let spread = v["spread"].as_f64();
        if spread != max.zip(min).map(|(max, min)| max - min) {
            wrong.push(format!(
                "partition {} offset {}: {v}",
                record.partition, record.offset
            ));
        }
        checked += 1;
    }
    if !wrong.is_empty() {
        // Evidence for whoever looks into it: the RocksDB checkpoints and the config stay.
        let kept = dir.keep();
        panic!(
            "{} results whose spread is not max - min (state kept in {}; rerun with \
             TEST_EDDY_LOG=info to keep the restores in the log):\n{}",
            wrong.len(),
            kept.display(),
            wrong.join("\n")
        );
    }
    assert_eq!(checked, data.windows.len());
}
