//! A hostile aggregator on a Kafka source (issue: "an endless replay"): with the default
//! `plugins.on_trap: dead_letter`, an aggregator that traps on every batch (the hostile
//! fixture's `trap` and `grow` modes) makes each input record go to the dead-letter topic
//! exactly once; the rest of the input is still read, the consumer lag reaches 0, and the
//! outcome shows in `/metrics` and `/v1/pipelines`.

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

fn every_record_dead_lettered_once(mode: &str) {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("eddy.yaml");
    let fixture = eddy_tests::fixture("hostile");
    std::fs::write(&path, config(&fixture.display().to_string(), mode)).expect("config");
    let registry = dir.path().join("registry").display().to_string();
    let mut eddy = Eddy::run(&path, &brokers, &[("EDDY_ADMIN__REGISTRY_DIR", registry)]);
    eddy.wait_ready(Duration::from_secs(60));
    let started = Instant::now();
    produce(&brokers, &events());
    let deadline = Instant::now() + Duration::from_secs(120);
    while eddy.metric("eddy_dead_letters_total").unwrap_or(0.0) < EVENTS as f64 {
        assert!(
            Instant::now() < deadline,
            "{mode}: only {:?} of {EVENTS} records dead-lettered",
            eddy.metric("eddy_dead_letters_total")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
    // The lag is true: every partition read to its end.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = eddy_tests::process::http_get(eddy.port(), "/metrics").unwrap_or_default();
        let lags: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("eddy_consumer_lag{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if lags.len() == PARTITIONS as usize && lags.iter().all(|&l| l == 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{mode}: lag never reached 0: {lags:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let outcome = r#"eddy_aggregator_trap_outcomes_total{plugin="hostile",outcome="dead_letter"}"#;
    assert!(
        eddy.metric(outcome).unwrap_or(0.0) >= 1.0,
        "{mode}: outcome counted"
    );
    let (status, body) = http_request(eddy.port(), "GET", "/v1/pipelines", &[], b"");
    assert_eq!(status, 200);
    assert!(body.contains("dead-lettered"), "{mode}: {body}");
    let status = eddy.stop();
    assert!(status.success(), "{mode}: the host kept running: {status}");
}

#[test]
fn a_trapping_aggregator_dead_letters_each_record_once() {
    every_record_dead_lettered_once("trap");
}

#[test]
fn a_growing_aggregator_dead_letters_each_record_once() {
    every_record_dead_lettered_once("grow");
}
