//! Records deleted before they were read (retention on a real broker) are never skipped
//! silently: `eddy run` stops by default with the partition and the records lost named, and
//! `eddy_offset_resets_total` counts it; with `kafka.on_reset: continue` it counts the records
//! skipped and goes on from the earliest record left.

use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::process::Eddy;
use eddy_tests::topics::produce;

const CONFIG: &str = r#"
source: { type: kafka, topic: events }
decode: { key: /key, time: /ts }
window: { type: tumbling, size: 1s }
aggregates: [{ name: n, plugin: count }]
sink: { type: kafka, topic: results }
batch_size: 100
kafka: { brokers: set-by-the-environment, group_id: eddy-reset-test, commit_interval: 200ms }
"#;

fn events(from: i64, to: i64) -> Vec<(i32, Vec<u8>)> {
    (from..to)
        .map(|i| {
            let ts = 1_700_000_000_000 + i * 10;
            (
                0,
                format!(r#"{{"key":"k{}","ts":{ts}}}"#, i % 3).into_bytes(),
            )
        })
        .collect()
}

fn metric_sum(eddy: &Eddy, prefix: &str) -> f64 {
    eddy_tests::process::http_get(eddy.port(), "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs eddy over records 0..100, stops it (progress committed), deletes records 0..150
/// after 100 more arrive, and starts it again with `env`.
fn deleted_while_stopped(broker: &Kafka, dir: &std::path::Path, env: &[(&str, String)]) -> Eddy {
    let brokers = broker.bootstrap_servers();
    let config = dir.join("eddy.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    produce(&brokers, &events(0, 100));
    let mut eddy = Eddy::run(&config, &brokers, env);
    eddy.wait_ready(Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(60);
    while eddy.metric("eddy_records_in_total").unwrap_or(0.0) < 100.0 {
        assert!(Instant::now() < deadline, "the first records are read");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    produce(&brokers, &events(100, 200));
    broker.delete_records("events", 0, 150);
    Eddy::run(&config, &brokers, env)
}

#[test]
fn deleted_unread_records_stop_the_run_by_default() {
    let _heavy = one_at_a_time();
    let broker = Kafka::with_topics(&["events", "results"], 1);
    let dir = tempfile::tempdir().expect("dir");
    let eddy = deleted_while_stopped(&broker, dir.path(), &[]);
    let status = eddy.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "the run stops: {status}");
}

#[test]
fn deleted_unread_records_are_counted_and_skipped_when_asked() {
    let _heavy = one_at_a_time();
    let broker = Kafka::with_topics(&["events", "results"], 1);
    let dir = tempfile::tempdir().expect("dir");
    let env = [("EDDY_KAFKA__ON_RESET", "continue".to_string())];
    let mut eddy = deleted_while_stopped(&broker, dir.path(), &env);
    eddy.wait_ready(Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(60);
    while eddy.metric("eddy_records_in_total").unwrap_or(0.0) < 50.0 {
        assert!(Instant::now() < deadline, "the records left are read");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(metric_sum(&eddy, "eddy_offset_resets_total{"), 1.0);
    let skipped = metric_sum(&eddy, "eddy_records_skipped_total{");
    // The committed position is the oldest record an open window held (0..=100).
    assert!(
        (50.0..=150.0).contains(&skipped),
        "the deleted records after the committed position are skipped: {skipped}"
    );
    assert_eq!(eddy.metric("eddy_records_in_total"), Some(50.0));
    let status = eddy.stop();
    assert!(status.success(), "{status}");
}
