//! Broker faults while `eddy run` processes the known dataset (produced bit by bit) on Apache
//! Kafka: the broker is killed with SIGKILL and restarted on the same ports and log dir,
//! twice, then frozen with SIGSTOP for 30 s and thawed. Clients reach it through a proxy that
//! holds their traffic while the broker is frozen and until it has settled after SIGCONT (see
//! `Kafka::resume_settled`: a single broker fences itself for a moment after a long stop, and
//! librdkafka must not see that moment). Eddy keeps running through all of it:
//! it is ready again right after the thaw (whether it reported not ready while the broker was
//! frozen is printed, not asserted: see the end of `faults`), and what it wrote equals the
//! reference (at-least-once: nothing missing or wrong; exactly-once: exact).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::proxy::Proxy;
use eddy_tests::topics::{input_producer, produce_with, read_outputs};

const SLICES: usize = 40;
const SLICE_EVERY: Duration = Duration::from_millis(1_500);
const FROZEN: Duration = Duration::from_secs(30);

fn ready(eddy: &Eddy) -> String {
    http_get(eddy.port(), "/health/ready")
        .and_then(|r| r.lines().next().map(str::to_string))
        .unwrap_or_else(|| "no answer".into())
}

fn faults(delivery: &str) -> Report {
    let started = Instant::now();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("proxy port")
        .port();
    let mut broker = Kafka::start_advertising(port);
    let topics: Vec<(&str, u32)> = TOPICS.iter().map(|t| (*t, PARTITIONS)).collect();
    broker.create_topics(&topics);
    let proxy = Proxy::start_on(port, broker.port());
    let brokers = format!("127.0.0.1:{port}");
    let data = dataset();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("faults.yaml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}state:\n  backend: rocksdb\n  dir: {}\n  checkpoint_interval: 500ms\n  delivery: {delivery}\n  transactional_id: eddy-faults-test\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config written");
    // Results wait (and are retried) through outages of up to a minute (no longer than a
    // transaction may last: 60 s).
    // Logged at info: readiness changes, rebalances and restores explain a failure.
    let env = [
        (
            "EDDY_LOG",
            std::env::var("TEST_EDDY_LOG").unwrap_or_else(|_| "info".into()),
        ),
        ("EDDY_KAFKA__DELIVERY_TIMEOUT", "60s".to_string()),
        (
            "EDDY_KAFKA__CONSUMER_PROPERTIES__SESSION_TIMEOUT_MS",
            "10000".to_string(),
        ),
    ];
    // The input is produced slice by slice, each slice under `gate`: the test holds the gate
    // while the broker is frozen (a produce request to a frozen broker times out).
    let gate = Arc::new(Mutex::new(()));
    let feeder = {
        let (brokers, records, gate) = (brokers.clone(), data.records.clone(), gate.clone());
        std::thread::spawn(move || {
            let producer = input_producer(&brokers);
            let per_partition = records.len() / PARTITIONS as usize;
            for slice in 0..SLICES {
                let range = slice * per_partition / SLICES..(slice + 1) * per_partition / SLICES;
                let part: Vec<(i32, Vec<u8>)> = (0..PARTITIONS as usize)
                    .flat_map(|p| {
                        records[p * per_partition..(p + 1) * per_partition][range.clone()].to_vec()
                    })
                    .collect();
                {
                    let _open = gate.lock().unwrap_or_else(PoisonError::into_inner);
                    produce_with(&producer, &part);
                }
                std::thread::sleep(SLICE_EVERY);
            }
        })
    };
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(90));
    for n in 1..=2 {
        std::thread::sleep(Duration::from_secs(5));
        broker.kill();
        eprintln!("broker killed ({n}) after {:?}", started.elapsed());
        std::thread::sleep(Duration::from_secs(2));
        broker.restart();
        eprintln!("broker restarted ({n}) after {:?}", started.elapsed());
        assert!(
            eddy.exited().is_none(),
            "eddy keeps running: {:?}",
            eddy.exited()
        );
    }
    eddy.wait_ready(Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    let held = gate.lock().unwrap_or_else(PoisonError::into_inner);
    proxy.hold();
    broker.pause();
    let frozen = Instant::now();
    eprintln!("broker frozen after {:?}", started.elapsed());
    let mut not_ready = None;
    while frozen.elapsed() < FROZEN {
        let status = ready(&eddy);
        if not_ready.is_none() && !status.starts_with("HTTP/1.1 200") {
            not_ready = Some((frozen.elapsed(), status));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    broker.resume_settled();
    proxy.release();
    drop(held);
    eprintln!(
        "broker thawed after {:?}; eddy not ready while it was frozen: {not_ready:?}",
        started.elapsed()
    );
    let thawed = Instant::now();
    eddy.wait_ready(Duration::from_secs(120));
    eprintln!("eddy ready again {:?} after the thaw", thawed.elapsed());
    feeder.join().expect("feeder");
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(3),
        Duration::from_secs(120),
    );
    assert!(
        eddy.exited().is_none(),
        "eddy kept running: {:?}",
        eddy.exited()
    );
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
    let report = Report::of(&data, &outputs);
    eprintln!(
        "broker faults ({delivery}) after {:?}: {}",
        started.elapsed(),
        report.summary()
    );
    // A hanging broker (SIGSTOP, connections open) makes the run not ready within about
    // 10-15 s: no broker has answered for 10 s (librdkafka's statistics every 5 s).
    assert!(
        not_ready.is_some(),
        "eddy stayed ready while the broker was frozen for {FROZEN:?}"
    );
    report
}

#[test]
fn broker_killed_twice_and_frozen_at_least_once_loses_nothing() {
    let _heavy = one_at_a_time();
    faults("at_least_once").assert_nothing_lost_or_wrong();
}

/// After the thaw the broker has expired the consumer's session and the next checkpoint's
/// `send_offsets_to_transaction` gets UNKNOWN_MEMBER_ID: the transaction is aborted, every
/// partition goes back to its last committed checkpoint, and the consumer rejoins.
#[test]
fn broker_killed_twice_and_frozen_exactly_once_writes_everything_once() {
    let _heavy = one_at_a_time();
    let report = faults("exactly_once");
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}
