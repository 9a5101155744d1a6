//! Readiness follows the sink: `/health/ready` turns 503 with the reason while the broker
//! results go to cannot be reached, and 200 again once results are acknowledged — without a
//! restart (records wait and are retried until `kafka.delivery_timeout`).

use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, TOPICS, dataset};
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::proxy::Proxy;
use eddy_tests::topics::produce;

fn wait_for(eddy: &Eddy, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let response = http_get(eddy.port(), "/health/ready").unwrap_or_default();
        if ok(&response) {
            return response;
        }
        assert!(
            started.elapsed() < limit,
            "{what} within {limit:?}: {response}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn readiness_goes_false_while_the_sink_is_down_and_true_after() {
    // Clients reach the broker through a proxy the test can cut: an outage with the broker's
    // state intact.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let broker = Kafka::start_advertising(port);
    let proxy = Proxy::start_on(port, broker.port());
    for topic in TOPICS {
        broker.create_topic(topic, PARTITIONS);
    }
    let brokers = format!("127.0.0.1:{}", proxy.port());
    let data = dataset();
    produce(&brokers, &data.records[..100]);
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let env = [
        ("EDDY_KAFKA__DELIVERY_TIMEOUT", "300s".to_string()),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "6000".to_string(),
        ),
    ];
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));

    proxy.cut();
    let down = wait_for(&eddy, "not ready", Duration::from_secs(30), |r| {
        r.starts_with("HTTP/1.1 503")
    });
    // The cut takes the consumer's broker too: the first reason seen is the sink's (results
    // waiting for an unreachable broker), the brokers' (none answers; also when no result
    // waits yet), or the loop's when it was waiting on the broker in a consumer call (e.g.
    // reading committed positions in a rebalance, retried until the broker answers).
    assert!(
        [
            "sink unreachable",
            "Kafka brokers unreachable",
            "loop has been blocked"
        ]
        .iter()
        .any(|reason| down.contains(reason)),
        "says why: {down}"
    );

    // Results wait in the producer while the broker cannot be reached.
    proxy.restore();
    produce(&brokers, &data.records[100..]);
    wait_for(&eddy, "ready again", Duration::from_secs(90), |r| {
        r.starts_with("HTTP/1.1 200")
    });
    let status = eddy.stop();
    assert!(status.success(), "the pipeline kept running: {status}");
}
