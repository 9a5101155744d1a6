//! A payload filter swapped for a column filter on a running `eddy run` (Apache Kafka): the
//! filter stage runs `threshold-filter` (`/amount >= 0`, whole payloads in the sandbox) while
//! events stream in; `column-threshold-filter` (the same predicate over a decoded column) is
//! uploaded and activated over the admin API mid-stream. Every window's count is the reference
//! (every event with an amount of 0 or more, once): nothing lost or counted twice at the swap.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{PARTITIONS, TOPICS};
use eddy_tests::example;
use eddy_tests::process::Eddy;
use eddy_tests::swap;
use eddy_tests::topics::{feed_in_background, produce, read_outputs};
use serde_json::Value;

const TOKEN: &str = "test-admin-token";
const BASE: i64 = 1_700_000_000_000;
const EVENTS_PER_PARTITION: i64 = 2_000;
const WINDOW_MS: i64 = 1_000;

fn config() -> String {
    format!(
        r#"
source: {{ type: kafka, topic: events }}
decode: {{ key: /key, time: /ts }}
watermark: {{ out_of_orderness: 0s }}
window: {{ type: tumbling, size: 1s }}
transforms:
  - {{ plugin: {}, config: {{ field: /amount, min: 0 }} }}
aggregates:
  - {{ name: count, plugin: count }}
sink: {{ type: kafka, topic: results }}
late: {{ type: kafka, topic: late }}
dead_letter: {{ type: kafka, topic: dead }}
kafka: {{ brokers: set-by-the-environment, group_id: eddy-column-swap }}
state: {{ checkpoint_interval: 500ms }}
batch_size: 64
"#,
        example("threshold-filter").display()
    )
}

/// Events of every partition (key `k<p>`), 10 ms apart, amounts from -50 to 50.
fn data() -> Vec<(i32, Vec<u8>)> {
    let mut records = Vec::new();
    for p in 0..PARTITIONS as i32 {
        for i in 0..EVENTS_PER_PARTITION {
            let amount = (i * 37 + i64::from(p) * 11) % 101 - 50;
            let ts = BASE + i * 10;
            records.push((
                p,
                format!(r#"{{"key":"k{p}","ts":{ts},"amount":{amount}}}"#).into_bytes(),
            ));
        }
    }
    records
}

/// Count per (key, window start) of the events that pass `amount >= 0`.
fn reference(records: &[(i32, Vec<u8>)]) -> BTreeMap<(String, i64), f64> {
    let mut counts = BTreeMap::new();
    for (_, payload) in records {
        let v: Value = serde_json::from_slice(payload).expect("JSON");
        if v["amount"].as_i64().unwrap_or(-1) >= 0 {
            let key = v["key"].as_str().unwrap_or_default().to_string();
            let ts = v["ts"].as_i64().unwrap_or_default();
            *counts
                .entry((key, ts - ts.rem_euclid(WINDOW_MS) - BASE))
                .or_insert(0.0) += 1.0;
        }
    }
    counts
}

#[test]
fn a_payload_filter_swapped_for_a_column_filter_mid_stream_keeps_every_event_once() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("eddy.yaml");
    std::fs::write(&path, config()).expect("config");
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        (
            "EDDY_ADMIN__REGISTRY_DIR",
            dir.path().join("registry").display().to_string(),
        ),
    ];
    let mut eddy = Eddy::run(&path, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    let records = data();
    let feeder = feed_in_background(
        &brokers,
        &records,
        PARTITIONS as usize,
        (40, Duration::from_millis(150)),
    );
    let started = Instant::now();
    while eddy.metric("eddy_records_in_total").unwrap_or(0.0) < 2_000.0 {
        assert!(started.elapsed() < Duration::from_secs(60), "not read");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = swap::stage(eddy.port(), "transforms.0");
    assert!(
        before["plugin"]
            .as_str()
            .is_some_and(|p| p.contains("threshold")),
        "{before}"
    );

    let digest = eddy.upload(TOKEN, &example("column-threshold-filter"));
    let read_at_activation = eddy.metric("eddy_records_in_total").unwrap_or(0.0);
    let applied = swap::activate(
        eddy.port(),
        TOKEN,
        "transforms.0",
        &format!(r#"{{"digest":"{digest}","config":{{"field":"/amount","min":0}}}}"#),
    );
    assert_eq!(applied["digest"], digest.as_str(), "{applied}");
    assert!(applied["error"].is_null(), "{applied}");
    feeder.join().expect("fed");
    let total = (PARTITIONS as i64 * EVENTS_PER_PARTITION) as f64;
    assert!(
        read_at_activation < total,
        "the swap happened after the last event was read ({read_at_activation})"
    );

    // One event per partition far ahead closes every window.
    let closing: Vec<(i32, Vec<u8>)> = (0..PARTITIONS as i32)
        .map(|p| {
            let ts = BASE + 100_000;
            (
                p,
                format!(r#"{{"key":"k{p}","ts":{ts},"amount":1}}"#).into_bytes(),
            )
        })
        .collect();
    produce(&brokers, &closing);
    let want = reference(&records);
    let outputs = read_outputs(
        &brokers,
        want.len(),
        Duration::from_secs(2),
        Duration::from_secs(90),
    );
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let mut got: BTreeMap<(String, i64), f64> = BTreeMap::new();
    let mut duplicates = 0;
    for record in outputs.get("results").into_iter().flatten() {
        let v: Value = serde_json::from_slice(&record.payload).expect("JSON");
        let key = v["key"].as_str().unwrap_or_default().to_string();
        let start = v["window_start"].as_i64().unwrap_or_default() - BASE;
        if got
            .insert((key, start), v["count"].as_f64().unwrap_or(-1.0))
            .is_some()
        {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 0, "a window was written twice");
    assert!(
        outputs.get("dead").is_none_or(Vec::is_empty),
        "nothing is dead-lettered"
    );
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let wrong: Vec<_> = want
        .iter()
        .filter(|(k, n)| got.get(*k).is_some_and(|g| g != *n))
        .map(|(k, n)| (k, n, got[k]))
        .collect();
    println!(
        "windows: {} expected, {} written; activation after {read_at_activation} of {total} records",
        want.len(),
        got.len()
    );
    assert!(missing.is_empty(), "missing windows: {missing:?}");
    assert!(
        wrong.is_empty(),
        "wrong counts (window, want, got): {wrong:?}"
    );
}
