//! `eddy run` between Kafka topics, on a real broker process (tansu) and on librdkafka's
//! in-process mock cluster: a known dataset on a 4-partition topic, with records that cannot
//! be decoded and events that arrive late, processed by two runs of `eddy run` (the first
//! stopped with SIGTERM halfway); the result, late and dead-letter topics are read back and
//! compared with a reference computed here, exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eddy::kafka::{Embedded, Producer, Record, Tail, TailRecord};
use eddy_tests::broker::Tansu;
use eddy_tests::{plugin_dir, repo_root};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// A result: key, window start and end, emit, count, sum, min, max.
type Row = (String, i64, i64, String, i64, i64, i64, i64);

const PARTITIONS: u32 = 4;
const EVENTS_PER_PARTITION: i64 = 5_000;
const WINDOW_MS: i64 = 5_000;
const BASE_MS: i64 = 1_700_000_000_000;

/// What was produced, and what Eddy must write.
struct Dataset {
    /// (partition, payload) in production order.
    records: Vec<(i32, Vec<u8>)>,
    /// (key, window_start) → count, sum, min, max.
    windows: BTreeMap<(String, i64), (i64, i64, i64, i64)>,
    late: Vec<Vec<u8>>,
    junk: Vec<Vec<u8>>,
}

fn dataset() -> Dataset {
    let mut rng = StdRng::seed_from_u64(7);
    let mut data = Dataset {
        records: Vec::new(),
        windows: BTreeMap::new(),
        late: Vec::new(),
        junk: Vec::new(),
    };
    for p in 0..PARTITIONS as i32 {
        for i in 0..EVENTS_PER_PARTITION {
            if i > 10 && i % 997 == 0 {
                let junk = if i % 2 == 0 {
                    format!("not json {p}-{i}").into_bytes()
                } else {
                    format!(r#"{{"key":"p{p}-no-time","n":{i}}}"#).into_bytes()
                };
                data.junk.push(junk.clone());
                data.records.push((p, junk));
                continue;
            }
            let key = format!("p{p}-k{}", rng.random_range(0..25));
            let amount: i64 = rng.random_range(1..100);
            // Late by a minute, long after the watermark passed (at most 256 records, 5 s of
            // event time, are read in one batch): late whatever the batching.
            let late = i >= 2_000 && i % 700 == 0;
            let ts = if late {
                BASE_MS + i * 20 - 60_000
            } else {
                BASE_MS + i * 20 - rng.random_range(0..=400)
            };
            let payload = format!(r#"{{"key":"{key}","ts":{ts},"amount":{amount}}}"#).into_bytes();
            if late {
                data.late.push(payload.clone());
            } else {
                let start = ts - ts.rem_euclid(WINDOW_MS);
                let w = data
                    .windows
                    .entry((key, start))
                    .or_insert((0, 0, i64::MAX, i64::MIN));
                w.0 += 1;
                w.1 += amount;
                w.2 = w.2.min(amount);
                w.3 = w.3.max(amount);
            }
            data.records.push((p, payload));
        }
        // Far ahead: closes every window of the partition (its own window stays open).
        let flush = format!(
            r#"{{"key":"flush","ts":{},"amount":0}}"#,
            BASE_MS + 10_000_000
        );
        data.records.push((p, flush.into_bytes()));
    }
    data
}

const CONFIG: &str = r#"
source: { type: kafka, topic: events }
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 5s }
aggregates:
  - { name: count, plugin: count }
  - { name: sum, plugin: sum, field: /amount }
  - { name: min, plugin: min, field: /amount }
  - { name: max, plugin: max, field: /amount }
sink: { type: kafka, topic: results }
late: { type: kafka, topic: late }
dead_letter: { type: kafka, topic: dead }
batch_size: 256
kafka:
  brokers: set-by-the-environment
  group_id: eddy-test
  commit_interval: 1s
"#;

const TOPICS: [&str; 4] = ["events", "results", "late", "dead"];

fn eddy_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("eddy"))
        .expect("target dir");
    assert!(
        path.is_file(),
        "{} is missing: `cargo test --workspace` builds it",
        path.display()
    );
    path
}

struct Eddy(Child, u16);

/// Status line of `GET path` on the loopback port, if it answers.
fn http_status(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.lines().next().map(str::to_string)
}

impl Eddy {
    fn run(config: &Path, brokers: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let child = Command::new(eddy_binary())
            .args(["run", "--config"])
            .arg(config)
            .env("EDDY_KAFKA__BROKERS", brokers)
            .env("EDDY_PLUGINS__DIR", plugin_dir())
            .env("EDDY_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "EDDY_LOG",
                std::env::var("TEST_EDDY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .spawn()
            .expect("eddy starts");
        Self(child, port)
    }

    /// Waits until `/health/ready` answers 200 (partitions assigned). On the mock cluster a
    /// run that follows another is assigned partitions only after ~45 s (its coordinator
    /// appears to wait out the departed member's session).
    fn wait_ready(&self) {
        let started = Instant::now();
        while http_status(self.1, "/health/ready").as_deref() != Some("HTTP/1.1 200 OK") {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "eddy did not become ready within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "eddy did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn produce(brokers: &str, records: &[(i32, Vec<u8>)]) {
    let producer =
        Producer::new(&eddy::config::KafkaConfig::default(), brokers).expect("test producer");
    for (partition, payload) in records {
        producer
            .send(&Record {
                topic: "events",
                partition: Some(*partition),
                key: None,
                payload,
                headers: &[],
                measure: false,
            })
            .expect("queued");
    }
    producer.flush().expect("all test records acknowledged");
}

/// Reads the output topics until `results` results arrived (plus a quiet second, to see
/// duplicates), or a minute passed.
fn read_outputs(brokers: &str, results: usize) -> BTreeMap<String, Vec<TailRecord>> {
    let tail = Tail::new(
        brokers,
        &[
            ("results", PARTITIONS),
            ("late", PARTITIONS),
            ("dead", PARTITIONS),
        ],
    )
    .expect("reader");
    let mut by_topic: BTreeMap<String, Vec<TailRecord>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_since = None;
    while Instant::now() < deadline {
        match tail.next(Duration::from_millis(200)) {
            Some(record) => {
                let record = record.expect("read");
                by_topic
                    .entry(record.topic.clone())
                    .or_default()
                    .push(record);
                quiet_since = None;
            }
            None => {
                let have = by_topic.get("results").map_or(0, Vec::len);
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if have >= results && since.elapsed() > Duration::from_secs(1) {
                    break;
                }
            }
        }
    }
    by_topic
}

/// Waits until the result topic has been quiet for a while (the run caught up).
fn wait_until_quiet(brokers: &str) {
    let tail = Tail::new(brokers, &[("results", PARTITIONS)]).expect("reader");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Instant::now();
    let mut seen = 0;
    while Instant::now() < deadline && (seen == 0 || last.elapsed() < Duration::from_secs(2)) {
        if tail.next(Duration::from_millis(200)).is_some() {
            seen += 1;
            last = Instant::now();
        }
    }
}

/// Runs `eddy run` over the dataset and compares its outputs with the reference. With
/// `restart`, the dataset is produced in two halves: a first run processes the first half and
/// is stopped with SIGTERM, a second run processes the rest from the committed progress; the
/// outputs must equal one uninterrupted run's: nothing lost, no window written twice or in
/// part.
fn check(brokers: &str, create_topic: impl Fn(&str, u32), restart: bool) {
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
    std::fs::write(&config, CONFIG).expect("config written");

    produce(brokers, &strip(first));
    if restart {
        let eddy = Eddy::run(&config, brokers);
        eddy.wait_ready();
        wait_until_quiet(brokers);
        let status = eddy.stop();
        assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");
        produce(brokers, &strip(second));
    }
    let eddy = Eddy::run(&config, brokers);
    eddy.wait_ready();
    let outputs = read_outputs(brokers, data.windows.len());
    let status = eddy.stop();
    assert!(status.success(), "eddy exits 0 on SIGTERM, got {status}");

    let empty = Vec::new();
    let results = outputs.get("results").unwrap_or(&empty);
    let mut got: Vec<Row> = results
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.payload).expect("result is JSON");
            assert_eq!(
                r.key.as_deref(),
                v["key"].as_str().map(str::as_bytes),
                "keyed by key"
            );
            let int = |name: &str| v[name].as_i64().unwrap_or_else(|| panic!("{name} in {v}"));
            (
                v["key"].as_str().expect("key").to_string(),
                int("window_start"),
                int("window_end"),
                v["emit"].as_str().expect("emit").to_string(),
                int("count"),
                int("sum"),
                int("min"),
                int("max"),
            )
        })
        .collect();
    got.sort();
    let want: Vec<Row> = data
        .windows
        .iter()
        .map(|((key, start), &(count, sum, min, max))| {
            (
                key.clone(),
                *start,
                start + WINDOW_MS,
                "on_time".to_string(),
                count,
                sum,
                min,
                max,
            )
        })
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "one result per window, no duplicates"
    );
    assert_eq!(got, want);

    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let payloads = |topic: &str| -> Vec<String> {
        let mut p: Vec<String> = outputs
            .get(topic)
            .unwrap_or(&empty)
            .iter()
            .map(|r| text(&r.payload))
            .collect();
        p.sort();
        p
    };
    let mut late: Vec<String> = data.late.iter().map(|p| text(p)).collect();
    late.sort();
    assert_eq!(
        payloads("late"),
        late,
        "the late topic holds exactly the late events"
    );
    let mut junk: Vec<String> = data.junk.iter().map(|p| text(p)).collect();
    junk.sort();
    assert_eq!(
        payloads("dead"),
        junk,
        "the dead-letter topic holds exactly the junk"
    );
    for record in outputs.get("dead").unwrap_or(&empty) {
        assert!(
            record.header("eddy.error").is_some_and(|e| !e.is_empty()),
            "dead letters carry the error"
        );
        assert!(record.header("eddy.offset").is_some());
    }
    for record in outputs.get("late").unwrap_or(&empty) {
        assert_eq!(record.header("eddy.error"), Some("late"));
        assert!(record.header("eddy.watermark").is_some());
    }
}

/// One run on tansu. (A restart is tested on the mock cluster only: tansu 0.6 keeps no offset
/// commit metadata, where Eddy records how far a partition was read and its watermark, and a
/// fetch from an offset inside a stored record batch skips to the next batch.)
#[test]
fn eddy_run_on_a_real_broker() {
    let broker = Tansu::start();
    let create = |topic: &str, partitions| broker.create_topic(topic, partitions);
    check(&broker.bootstrap_servers(), create, false);
}

#[test]
fn eddy_run_on_the_mock_cluster() {
    let cluster = Embedded::start().expect("mock cluster");
    let create = |topic: &str, partitions| cluster.create_topic(topic, partitions).expect("topic");
    check(&cluster.bootstrap_servers(), create, false);
}

#[test]
fn eddy_run_stopped_and_restarted_on_the_mock_cluster() {
    let cluster = Embedded::start().expect("mock cluster");
    let create = |topic: &str, partitions| cluster.create_topic(topic, partitions).expect("topic");
    check(&cluster.bootstrap_servers(), create, true);
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
    let mut config = eddy::config::Config::from_yaml(
        "sink: { type: kafka, topic: results }\n\
         kafka: { delivery_timeout: 2s, retry_backoff: 50ms }\n",
    )
    .expect("config");
    config.source = eddy::config::SourceConfig::File { path: input };
    config.plugins.dir = plugin_dir();
    let started = Instant::now();
    let health = std::sync::Arc::new(eddy::health::Health::default());
    let error = eddy::kafka::run_with(
        &config,
        &brokers,
        &eddy::kafka::StopFlag::default(),
        &health,
        &std::sync::Arc::new(eddy::metrics::Metrics::new()),
    )
    .expect_err("an undeliverable result fails the run");
    assert!(!health.is_ready(), "readiness goes false");
    assert!(
        health.reason().contains("could not be delivered"),
        "readiness says why: {}",
        health.reason()
    );
    let message = error.to_string();
    assert!(
        message.contains("could not be delivered"),
        "the error says what happened: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "surfaced after the delivery timeout"
    );
}
