//! A hostile aggregator on a Kafka source (issue: "an endless replay"): with the default
//! `plugins.on_trap: dead_letter`, an aggregator that traps on every batch (the hostile
//! fixture's `trap` and `grow` modes) makes each input record go to the dead-letter topic
//! exactly once; the rest of the input is still read, the consumer lag reaches 0, and the
//! outcome shows in `/metrics` and `/v1/pipelines`. One that cannot finish any window (`huge`:
//! its answer is refused) has each window dropped with one dead letter that counts its events:
//! every record is accounted for once, and the partitions go on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{PARTITIONS, TOPICS};
use eddy_tests::process::{Eddy, http_request};
use eddy_tests::topics::{produce, read_outputs};
use serde_json::Value;

const EVENTS: usize = 400;

fn config(fixture: &str, mode: &str) -> String {
    format!(
        r#"
source: {{ type: kafka, topic: events }}
decode: {{ key: /key, time: /ts }}
window: {{ type: tumbling, size: 1s }}
aggregates:
  - {{ name: n, plugin: count }}
  - {{ name: bad, plugin: {fixture}, field: /amount, config: {{ mode: {mode} }} }}
sink: {{ type: kafka, topic: results }}
late: {{ type: kafka, topic: late }}
dead_letter: {{ type: kafka, topic: dead }}
batch_size: 50
plugins: {{ memory_limit_bytes: 33554432 }}
state: {{ checkpoint_interval: 300ms }}
kafka: {{ brokers: set-by-the-environment, group_id: eddy-hostile-{mode} }}
"#
    )
}

fn events() -> Vec<(i32, Vec<u8>)> {
    (0..EVENTS)
        .map(|i| {
            let partition = (i % PARTITIONS as usize) as i32;
            let payload = format!(
                r#"{{"key":"k{}","ts":{},"amount":{i},"id":{i}}}"#,
                i % 7,
                1_700_000_000_000_i64 + i as i64 * 10
            );
            (partition, payload.into_bytes())
        })
        .collect()
}

/// A broker with the topics and `eddy run` with the hostile fixture in `mode`, ready.
fn start(mode: &str) -> (Kafka, Eddy, tempfile::TempDir) {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("eddy.yaml");
    let fixture = eddy_tests::fixture("hostile");
    std::fs::write(&path, config(&fixture.display().to_string(), mode)).expect("config");
    let registry = dir.path().join("registry").display().to_string();
    let mut eddy = Eddy::run(
        &path,
        &broker.bootstrap_servers(),
        &[("EDDY_ADMIN__REGISTRY_DIR", registry)],
    );
    eddy.wait_ready(Duration::from_secs(60));
    (broker, eddy, dir)
}

/// Waits until `metric` reaches `at_least`.
fn wait_for_metric(eddy: &Eddy, mode: &str, metric: &str, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while eddy.metric(metric).unwrap_or(0.0) < at_least {
        assert!(
            Instant::now() < deadline,
            "{mode}: {metric} only {:?} of {at_least}",
            eddy.metric(metric)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The lag is true: every partition read to its end.
fn wait_for_no_lag(eddy: &Eddy, mode: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = eddy_tests::process::http_get(eddy.port(), "/metrics").unwrap_or_default();
        let lags: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("eddy_consumer_lag{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if lags.len() == PARTITIONS as usize && lags.iter().all(|&l| l == 0.0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{mode}: lag never reached 0: {lags:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The outcome is counted in `/metrics` and shown in `/v1/pipelines`, and the host still
/// runs and stops cleanly.
fn assert_outcome_shown_and_stop(eddy: Eddy, mode: &str, shown: &str) {
    let outcome = r#"eddy_aggregator_trap_outcomes_total{plugin="hostile",outcome="dead_letter"}"#;
    assert!(
        eddy.metric(outcome).unwrap_or(0.0) >= 1.0,
        "{mode}: outcome counted"
    );
    let (status, body) = http_request(eddy.port(), "GET", "/v1/pipelines", &[], b"");
    assert_eq!(status, 200);
    assert!(body.contains(shown), "{mode}: {body}");
    let status = eddy.stop();
    assert!(status.success(), "{mode}: the host kept running: {status}");
}

fn every_record_dead_lettered_once(mode: &str) {
    let (broker, eddy, _dir) = start(mode);
    let brokers = broker.bootstrap_servers();
    let started = Instant::now();
    produce(&brokers, &events());
    wait_for_metric(&eddy, mode, "eddy_dead_letters_total", EVENTS as f64);
    let outputs = read_outputs(&brokers, 0, Duration::from_secs(3), Duration::from_secs(30));
    let dead = outputs.get("dead").cloned().unwrap_or_default();
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for record in &dead {
        let event: Value = serde_json::from_slice(&record.payload).expect("the original event");
        *seen.entry(event["id"].as_i64().expect("id")).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "{mode}: {} dead letters for {EVENTS} records, {} distinct, {} written more than once, {:.1} s",
        dead.len(),
        seen.len(),
        twice.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(seen.len(), EVENTS, "{mode}: every record dead-lettered");
    assert!(twice.is_empty(), "{mode}: dead-lettered twice: {twice:?}");
    assert!(outputs.get("results").is_none_or(Vec::is_empty));
    wait_for_no_lag(&eddy, mode);
    assert_outcome_shown_and_stop(eddy, mode, "dead-lettered");
}

#[test]
fn a_trapping_aggregator_dead_letters_each_record_once() {
    every_record_dead_lettered_once("trap");
}

#[test]
fn a_growing_aggregator_dead_letters_each_record_once() {
    every_record_dead_lettered_once("grow");
}

/// `huge`: every finish answers a million values and is refused. Each window is dropped with
/// one dead letter counting its events; a last event per partition, far ahead, makes every
/// window of the input due.
#[test]
fn windows_an_aggregator_cannot_finish_are_dropped_and_their_events_counted_once() {
    let mode = "huge";
    let (broker, eddy, _dir) = start(mode);
    let brokers = broker.bootstrap_servers();
    let started = Instant::now();
    let mut records = events();
    for partition in 0..PARTITIONS as i32 {
        let ahead = r#"{"key":"ahead","ts":1700000100000,"amount":0,"id":-1}"#;
        records.push((partition, ahead.as_bytes().to_vec()));
    }
    produce(&brokers, &records);
    wait_for_no_lag(&eddy, mode);
    // Every window of the input: 1 s windows of 7 keys, events 10 ms apart, per partition.
    let mut windows = std::collections::BTreeSet::new();
    for (partition, payload) in &records[..EVENTS] {
        let event: Value = serde_json::from_slice(payload).expect("event");
        let ts = event["ts"].as_i64().expect("ts");
        windows.insert((
            *partition,
            event["key"].to_string(),
            ts - ts.rem_euclid(1000),
        ));
    }
    wait_for_metric(
        &eddy,
        mode,
        "eddy_windows_dropped_total",
        windows.len() as f64,
    );
    let outputs = read_outputs(&brokers, 0, Duration::from_secs(3), Duration::from_secs(30));
    let dead = outputs.get("dead").cloned().unwrap_or_default();
    let mut dropped: BTreeMap<(i64, String, i64), u64> = BTreeMap::new();
    for record in &dead {
        let letter: Value = serde_json::from_slice(&record.payload).expect("JSON");
        let window = &letter["dropped_window"];
        let partition = record
            .header("eddy.partition")
            .and_then(|p| p.parse().ok())
            .unwrap_or(-1);
        *dropped
            .entry((
                partition,
                window["key"].to_string(),
                window["window_start"].as_i64().expect("window_start"),
            ))
            .or_default() += 1;
    }
    let events: u64 = dead
        .iter()
        .map(|r| {
            let letter: Value = serde_json::from_slice(&r.payload).expect("JSON");
            letter["dropped_window"]["events"].as_u64().unwrap_or(0)
        })
        .sum();
    let twice = dropped.values().filter(|&&n| n > 1).count();
    println!(
        "{mode}: {} windows dropped ({} expected), {events} events in them, {twice} written more than once, {:.1} s",
        dropped.len(),
        windows.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        events, EVENTS as u64,
        "{mode}: every record counted in a dropped window"
    );
    assert_eq!(dropped.len(), windows.len(), "{mode}: every window dropped");
    assert_eq!(twice, 0, "{mode}: a window's dead letter written twice");
    assert!(outputs.get("results").is_none_or(Vec::is_empty));
    assert_outcome_shown_and_stop(eddy, mode, "dropped");
}
