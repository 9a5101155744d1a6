//! Backpressure: with the results' broker unreachable, results wait in the producer's bounded
//! queue, the pipeline stops taking input once it is full, and the process's memory stays
//! bounded while the source keeps offering events. When the broker is back, everything
//! flows again.

use std::time::{Duration, Instant};

use eddy::kafka::Embedded;
use eddy_tests::broker::Kafka;
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::proxy::Proxy;
use eddy_tests::topics::input_producer;

const CONFIG: &str = r#"
source: { type: kafka, topic: events }
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 100ms }
window: { type: tumbling, size: 1s }
aggregates: [{ name: n, plugin: count }]
sink: { type: kafka, topic: results }
batch_size: 1024
kafka:
  brokers: set-by-the-environment
  group_id: eddy-backpressure
  delivery_timeout: 300s
"#;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn metric(eddy: &Eddy, name: &str) -> f64 {
    http_get(eddy.port(), "/metrics")
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        })
        .unwrap_or(0.0)
}

#[test]
fn a_blocked_sink_keeps_memory_bounded_and_slows_intake() {
    // Input on an in-process cluster; results on Apache Kafka behind a proxy the test cuts.
    let cluster = Embedded::start().expect("mock cluster");
    cluster.create_topic("events", 4).expect("topic");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let sink = Kafka::start_advertising(port);
    sink.create_topic("results", 4);
    let proxy = Proxy::start_on(port, sink.port());
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let sink_address = format!("127.0.0.1:{}", proxy.port());
    let env = [
        (
            "EDDY_KAFKA__PRODUCER_PROPERTIES__BOOTSTRAP_SERVERS",
            sink_address,
        ),
        // A small producer queue: results fill it within seconds.
        (
            "EDDY_KAFKA__PRODUCER_PROPERTIES__QUEUE_BUFFERING_MAX_MESSAGES",
            "20000".to_string(),
        ),
        // The in-process cluster keeps at most 100 000 records per partition: while intake
        // is held back, it deletes unread input. That loss is counted and skipped here
        // (`kafka.on_reset: continue`); by default it stops the run.
        ("EDDY_KAFKA__ON_RESET", "continue".to_string()),
    ];
    let brokers = cluster.bootstrap_servers();
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    proxy.cut();

    // Keep offering events: every key a new window every second, so results pile up.
    let producer = input_producer(&brokers);
    let mut ts = 1_700_000_000_000i64;
    let mut offer = |seconds: u64| {
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            let batch: Vec<(i32, Vec<u8>)> = (0..20_000)
                .map(|i| {
                    ts += 1;
                    (
                        i % 4,
                        format!(r#"{{"key":"k{}","ts":{ts}}}"#, i % 5_000).into_bytes(),
                    )
                })
                .collect();
            eddy_tests::topics::produce_with(&producer, &batch);
        }
    };
    offer(15);
    let taken = metric(&eddy, "eddy_records_in_total");
    let rss_before = rss_kib(eddy.pid());
    offer(15);
    let taken_later = metric(&eddy, "eddy_records_in_total");
    let rss_after = rss_kib(eddy.pid());
    eprintln!(
        "sink cut: records taken {taken} then {taken_later}; RSS {} MiB then {} MiB",
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(
        taken_later - taken < 200_000.0,
        "intake slows to a crawl while results cannot leave: {taken} then {taken_later}"
    );
    assert!(
        rss_after < rss_before + 100 * 1024,
        "memory stays bounded: {rss_before} KiB then {rss_after} KiB"
    );

    proxy.restore();
    let started = Instant::now();
    while metric(&eddy, "eddy_records_in_total") <= taken_later + 100_000.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "intake resumes once results leave"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = eddy.stop();
    assert!(status.success(), "{status}");
}
