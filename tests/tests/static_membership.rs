//! Static group membership on Apache Kafka, with the consumer's default session timeout (45 s).
//!
//! Events stamped with the wall clock flow into a 4-partition topic; one `eddy run` (RocksDB
//! checkpoints) computes 500 ms windows. It is killed with SIGKILL and started again at once
//! under the same member name (`kafka.instance_id`): the group hands it its partitions back
//! without waiting for the dead member's session to time out, so windows of events produced
//! after the kill come out within 5 s of the restart (at-least-once and exactly-once).
//! Without static membership the same restart waits for the session timeout: no such window
//! for at least 20 s (the control, which shows what the mechanism buys).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eddy::kafka::{Record, Tail};
use eddy_tests::broker::{Kafka, one_at_a_time};
use eddy_tests::process::Eddy;
use eddy_tests::topics::input_producer;

const PARTITIONS: u32 = 4;
const KEYS: usize = 8;
/// What a restarted static member may take to write windows of new events again.
const RESUME_LIMIT: Duration = Duration::from_secs(5);

fn config(state_dir: &std::path::Path, delivery: &str, membership: &str) -> String {
    format!(
        "source: {{ type: kafka, topic: events }}\n\
         decode: {{ key: /key, time: /ts }}\n\
         watermark: {{ out_of_orderness: 100ms }}\n\
         window: {{ type: tumbling, size: 500ms }}\n\
         aggregates:\n  - {{ name: count, plugin: count }}\n\
         sink: {{ type: kafka, topic: results }}\n\
         kafka:\n  brokers: set-by-the-environment\n  group_id: eddy-static\n  \
         commit_interval: 500ms\n  static_membership: {membership}\n  instance_id: eddy-static-0\n\
         state:\n  backend: rocksdb\n  dir: {}\n  checkpoint_interval: 500ms\n  \
         delivery: {delivery}\n  transactional_id: eddy-static-test\n",
        state_dir.display()
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Produces one event per key every 50 ms, stamped with the wall clock, until `stop`.
fn produce_live(brokers: String, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let producer = input_producer(&brokers);
        while !stop.load(Ordering::SeqCst) {
            let ts = now_ms();
            for key in 0..KEYS {
                let payload = format!(r#"{{"key":"k{key}","ts":{ts}}}"#);
                producer
                    .send(&Record {
                        topic: "events",
                        partition: Some((key % PARTITIONS as usize) as i32),
                        key: None,
                        payload: payload.as_bytes(),
                        headers: &[],
                        measure: false,
                    })
                    .expect("queued");
            }
            producer.flush().expect("acknowledged");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

/// How long until a result of a window starting at or after `since_ms` arrives, at most
/// `limit`.
fn first_window_from(tail: &Tail, since_ms: i64, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let Some(record) = tail.next(Duration::from_millis(100)) else {
            continue;
        };
        let record = record.expect("read");
        let result: serde_json::Value = serde_json::from_slice(&record.payload).expect("JSON");
        if result["window_start"]
            .as_i64()
            .is_some_and(|s| s >= since_ms)
        {
            return Some(started.elapsed());
        }
    }
    None
}

/// Kills a running replica and starts it again at once; how long until windows of events
/// produced after the kill come out (`None`: not within `limit`).
fn restart(delivery: &str, membership: &str, limit: Duration) -> Option<Duration> {
    let _one = one_at_a_time();
    let kafka = Kafka::with_topics(&["events", "results"], PARTITIONS);
    let brokers = kafka.bootstrap_servers();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("eddy.yaml");
    std::fs::write(
        &path,
        config(&dir.path().join("state"), delivery, membership),
    )
    .expect("config");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = produce_live(brokers.clone(), stop.clone());
    let tail = Tail::new(&brokers, &[("results", PARTITIONS)]).expect("reader");

    let mut eddy = Eddy::run(&path, &brokers, &[]);
    eddy.wait_ready(Duration::from_secs(60));
    first_window_from(&tail, now_ms(), Duration::from_secs(30)).expect("windows before the kill");
    // A few checkpoints, so the restart restores state.
    std::thread::sleep(Duration::from_secs(2));
    eddy.crash();
    let killed = now_ms();
    let restarted = Instant::now();
    let eddy = Eddy::run(&path, &brokers, &[]);
    let took = first_window_from(&tail, killed, limit).map(|_| restarted.elapsed());
    println!(
        "{delivery}, static membership {membership}: windows of new events {took:?} after the restart"
    );
    stop.store(true, Ordering::SeqCst);
    producer.join().expect("producer");
    drop(eddy);
    took
}

/// A static member restarted with `delivery` writes windows of new events within
/// [`RESUME_LIMIT`].
fn resumes_within_seconds(delivery: &str) {
    let took = restart(delivery, "on", Duration::from_secs(30));
    assert!(
        took.is_some_and(|t| t < RESUME_LIMIT),
        "output resumed after {took:?}, limit {RESUME_LIMIT:?}"
    );
}

#[test]
fn a_restarted_static_member_resumes_within_seconds_at_least_once() {
    resumes_within_seconds("at_least_once");
}

#[test]
fn a_restarted_static_member_resumes_within_seconds_exactly_once() {
    resumes_within_seconds("exactly_once");
}

/// The control: a dynamic member restarted waits for its predecessor's session to time out.
#[test]
fn without_static_membership_a_restart_waits_for_the_session_timeout() {
    let took = restart("at_least_once", "off", Duration::from_secs(20));
    assert!(
        took.is_none(),
        "a dynamic member resumed after {took:?}: the control no longer shows the session wait"
    );
}
