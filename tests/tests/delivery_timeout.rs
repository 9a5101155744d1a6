//! Beyond `kafka.delivery_timeout`, on Apache Kafka: the results' broker stays unreachable
//! longer than the timeout while the input can still be read. Eddy turns not ready, then stops
//! taking input and exits with code 1 (a result is never dropped quietly); started again once
//! the broker is back, it resumes from its last checkpoint and the output equals the reference
//! (at-least-once: nothing missing or wrong; exactly-once: exact).
//!
//! The producer reaches the broker through a proxy the test cuts; the consumer (and the test's
//! own clients) use the broker's second listener, so input keeps arriving and windows keep
//! closing while no result can be acknowledged.

use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::proxy::Proxy;
use eddy_tests::topics::{produce, read_outputs};

/// The delivery timeout of the run: the outage lasts longer.
const DELIVERY_TIMEOUT: &str = "5s";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

fn outage_longer_than_the_delivery_timeout(delivery: &str) -> Report {
    let started = Instant::now();
    let port = free_port();
    let broker = Kafka::start_advertising(port);
    let proxy = Proxy::start_on(port, broker.port());
    let direct = broker.direct_servers();
    for topic in TOPICS {
        broker.create_topic(topic, PARTITIONS);
    }
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}state:\n  backend: rocksdb\n  dir: {}\n  checkpoint_interval: 500ms\n  delivery: {delivery}\n  transactional_id: eddy-timeout-test\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config written");
    let env = [
        ("EDDY_KAFKA__DELIVERY_TIMEOUT", DELIVERY_TIMEOUT.to_string()),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__BOOTSTRAP_SERVERS",
            direct.clone(),
        ),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "6000".to_string(),
        ),
    ];
    let results_via_proxy = format!("127.0.0.1:{}", proxy.port());
    // Each partition's first half before the outage, its second half during it.
    let per_partition = data.records.len() / PARTITIONS as usize;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for records in data.records.chunks(per_partition) {
        let (before, during) = records.split_at(per_partition / 2);
        first.extend_from_slice(before);
        second.extend_from_slice(during);
    }

    produce(&direct, &first);
    let mut eddy = Eddy::run(&config, &results_via_proxy, &env);
    eddy.wait_ready(Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(3));

    // The results' broker goes away; the input goes on (its windows close, results wait).
    proxy.cut();
    let cut = Instant::now();
    produce(&direct, &second);
    let mut not_ready = None;
    let status = loop {
        if let Some(status) = eddy.exited() {
            break status;
        }
        let ready = http_get(eddy.port(), "/health/ready").unwrap_or_default();
        if not_ready.is_none() && ready.starts_with("HTTP/1.1 503") {
            not_ready = Some(cut.elapsed());
        }
        assert!(
            cut.elapsed() < Duration::from_secs(120),
            "eddy went on for 120 s with a delivery timeout of {DELIVERY_TIMEOUT}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let stopped_after = cut.elapsed();
    eprintln!(
        "{delivery}: results unreachable; not ready after {not_ready:?}, exited {status} after {stopped_after:?}"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "a result that cannot be delivered within the timeout stops the run with code 1"
    );
    assert!(
        not_ready.is_some_and(|t| t < stopped_after),
        "readiness turned 503 before the exit ({not_ready:?})"
    );

    // Back: the broker is reachable again and the run is restarted (as an orchestrator would).
    proxy.restore();
    let mut eddy = Eddy::run(&config, &results_via_proxy, &env);
    eddy.wait_ready(Duration::from_secs(90));
    let outputs = read_outputs(
        &direct,
        data.windows.len(),
        Duration::from_secs(3),
        Duration::from_secs(120),
    );
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    let report = Report::of(&data, &outputs);
    eprintln!(
        "beyond the delivery timeout ({delivery}) after {:?}: {}",
        started.elapsed(),
        report.summary()
    );
    report
}

#[test]
fn results_unreachable_beyond_the_timeout_at_least_once_stops_then_loses_nothing() {
    let _heavy = one_at_a_time();
    outage_longer_than_the_delivery_timeout("at_least_once").assert_nothing_lost_or_wrong();
}

#[test]
fn results_unreachable_beyond_the_timeout_exactly_once_stops_then_writes_everything_once() {
    let _heavy = one_at_a_time();
    let report = outage_longer_than_the_delivery_timeout("exactly_once");
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}
