//! `eddy run` between Kafka topics, on a real broker process (Apache Kafka) and on librdkafka's
//! in-process mock cluster: a known dataset on a 4-partition topic, with records that cannot
//! be decoded and events that arrive late, processed by two runs of `eddy run` (the first
//! stopped with SIGTERM halfway); the result, late and dead-letter topics are read back and
//! compared with a reference computed here, exactly.

use std::time::{Duration, Instant};

use eddy::kafka::Embedded;
use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::plugin_dir;
use eddy_tests::process::Eddy;
use eddy_tests::topics::{produce, read_outputs, wait_until_quiet};

/// On the mock cluster a run that follows another is assigned partitions only after ~45 s
/// (its coordinator appears to wait out the departed member's session).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Runs `eddy run` over the dataset and compares its outputs with the reference. With
/// `restart`, the dataset is produced in two halves: a first run processes the first half and
/// is stopped with SIGTERM, a second run processes the rest from the committed progress; the
/// outputs must equal one uninterrupted run's: nothing lost, no window written twice or in
/// part.
fn check(brokers: &str, create_topic: impl Fn(&str, u32), restart: bool, extra: &str) {
    for topic in TOPICS {
        create_topic(topic, PARTITIONS);
    }
    let data = dataset();
    let per_partition = data.records.len() / PARTITIONS as usize;
    let (first, second): (Vec<_>, Vec<_>) = data
        .records
        .iter()
        .enumerate()
        .partition(|(i, _)| !restart || i % per_partition < per_partition / 2);
    let strip = |half: Vec<(usize, &(i32, Vec<u8>))>| -> Vec<(i32, Vec<u8>)> {
        half.into_iter().map(|(_, r)| r.clone()).collect()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kafka.yaml");
    std::fs::write(&config, format!("{CONFIG}{extra}")).expect("config written");

    produce(brokers, &strip(first));
    if restart {
        let mut eddy = Eddy::run(&config, brokers, &[]);
        eddy.wait_ready(READY_WITHIN);
        wait_until_quiet(brokers);
        let status = eddy.stop();
        assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
        produce(brokers, &strip(second));
    }
    let mut eddy = Eddy::run(&config, brokers, &[]);
    eddy.wait_ready(READY_WITHIN);
    let outputs = read_outputs(
        brokers,
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    let report = Report::of(&data, &outputs);
    assert!(
        report.results.exact(),
        "one result per window, no duplicates: {}",
        report.summary()
    );
    assert!(
        report.late.exact(),
        "the late topic holds exactly the late events: {}",
        report.summary()
    );
    assert!(
        report.dead.exact(),
        "the dead-letter topic holds exactly the junk: {}",
        report.summary()
    );
}

/// On Apache Kafka: a run stopped with SIGTERM halfway and a second run from the committed
/// progress write what one uninterrupted run writes; then the exactly-once path (a
/// transaction per checkpoint) on a broker that enforces transactions.
#[test]
fn eddy_run_stopped_and_restarted_on_a_real_broker() {
    let started = Instant::now();
    let broker = Kafka::start();
    let create = |topic: &str, partitions| broker.create_topic(topic, partitions);
    check(&broker.bootstrap_servers(), create, true, "");
    eprintln!(
        "at-least-once, stopped and restarted: {:?}",
        started.elapsed()
    );
}

#[test]
fn eddy_run_exactly_once_stopped_and_restarted_on_a_real_broker() {
    let started = Instant::now();
    let broker = Kafka::start();
    let create = |topic: &str, partitions| broker.create_topic(topic, partitions);
    let extra = "state: { delivery: exactly_once, checkpoint_interval: 200ms, transactional_id: eddy-eos-test }\n";
    check(&broker.bootstrap_servers(), create, true, extra);
    eprintln!(
        "exactly-once, stopped and restarted: {:?}",
        started.elapsed()
    );
}

#[test]
fn eddy_run_on_the_mock_cluster() {
    let cluster = Embedded::start().expect("mock cluster");
    let create = |topic: &str, partitions| cluster.create_topic(topic, partitions).expect("topic");
    check(&cluster.bootstrap_servers(), create, false, "");
}

/// The exactly-once path (a transaction per checkpoint, offsets sent to it) runs end to end
/// and writes the same outputs. The mock cluster does not enforce transactions (its EndTxn
/// writes no markers and it keeps no offsets sent to a transaction), so this shows the
/// protocol is followed, not what a crash does.
#[test]
fn eddy_run_exactly_once_on_the_mock_cluster() {
    let cluster = Embedded::start().expect("mock cluster");
    let create = |topic: &str, partitions| cluster.create_topic(topic, partitions).expect("topic");
    let extra = "state: { delivery: exactly_once, checkpoint_interval: 200ms, transactional_id: eddy-eos-test }\n";
    check(&cluster.bootstrap_servers(), create, false, extra);
}

#[test]
fn eddy_run_stopped_and_restarted_on_the_mock_cluster() {
    let cluster = Embedded::start().expect("mock cluster");
    let create = |topic: &str, partitions| cluster.create_topic(topic, partitions).expect("topic");
    check(&cluster.bootstrap_servers(), create, true, "");
}

#[test]
fn a_broker_that_never_acknowledges_stops_the_pipeline_with_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        "{\"key\":\"a\",\"ts\":1000,\"amount\":1}\n{\"key\":\"b\",\"ts\":2000,\"amount\":2}\n",
    )
    .expect("input");
    // Nothing listens on this port: librdkafka keeps reconnecting with backoff until the
    // delivery timeout, then reports every result as failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let brokers = format!("127.0.0.1:{port}");
    let mut config = eddy_engine::config::Config::from_yaml(
        "sink: { type: kafka, topic: results }\n\
         kafka: { delivery_timeout: 2s, retry_backoff: 50ms }\n",
    )
    .expect("config");
    config.source = eddy_engine::config::SourceConfig::File { path: input };
    config.plugins.dir = plugin_dir();
    let started = Instant::now();
    let services = eddy::app::Services::default();
    let health = std::sync::Arc::clone(&services.health);
    let error = eddy::app::run_with(&config, &brokers, &eddy::app::StopFlag::default(), services)
        .expect_err("an undeliverable result fails the run");
    assert!(!health.is_ready(), "readiness goes false");
    assert!(
        health.reason().contains("could not be delivered"),
        "readiness says why: {}",
        health.reason()
    );
    let message = error.to_string();
    assert!(
        message.contains("could not be delivered within kafka.delivery_timeout"),
        "the error says what happened and which setting: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "surfaced after the delivery timeout"
    );
}
