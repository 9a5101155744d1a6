//! Avro and Protobuf records in the schema registry wire format, read by `eddy run` from a real
//! Apache Kafka broker with their schemas from a real schema registry (Apicurio Registry, started
//! by the harness): the known dataset gives exactly the reference results in both formats (Avro
//! results written under a schema Eddy registers, and read back by a registry client); a record
//! naming a schema id the registry does not know and a record cut short are dead-lettered with
//! their reasons; and a registry that cannot be reached stops the intake (readiness false,
//! nothing dead-lettered) until it can be again.

use std::process::Command;
use std::time::{Duration, Instant};

use eddy::kafka::Tail;
use eddy_tests::avro::{EVENT_SCHEMA, UNKNOWN_ID, avro_dataset, result_as_json};
use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, Dataset, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::plugin_dir;
use eddy_tests::process::{Eddy, eddy_binary, http_get};
use eddy_tests::protobuf::{EVENT_PROTO, protobuf_dataset};
use eddy_tests::proxy::Proxy;
use eddy_tests::registry::Registry;
use eddy_tests::topics::{produce, read_outputs, wait_until_quiet};

const READY_WITHIN: Duration = Duration::from_secs(60);

/// The dataset's pipeline reading Avro through the registry at `url`.
fn config(url: &str) -> String {
    let config = CONFIG.replace(
        "decode: { key: /key, time: /ts }",
        "decode: { format: avro, key: /key, time: /ts }",
    );
    assert_ne!(config, CONFIG, "the decode line is replaced");
    format!("{config}schema_registry: {{ url: '{url}', retry_timeout: 120s }}\n")
}

fn assert_exact(report: &Report) {
    assert!(report.results.exact(), "results: {}", report.summary());
    assert!(report.late.exact(), "late events: {}", report.summary());
    assert!(report.dead.exact(), "dead letters: {}", report.summary());
}

#[test]
fn avro_records_give_the_reference_results_and_bad_ones_are_dead_lettered_with_reasons() {
    let kafka = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = kafka.bootstrap_servers();
    let registry = Registry::start();
    let id = registry.register("events-value", EVENT_SCHEMA);
    let data = avro_dataset(&dataset(), id, &[]);
    assert!(data.junk.len() >= 4, "unknown ids and truncated records");

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("avro.yaml");
    let config = config(&registry.url()).replace(
        "sink: { type: kafka, topic: results }",
        "sink: { type: kafka, topic: results, format: avro }",
    );
    std::fs::write(&path, &config).expect("config written");
    produce(&brokers, &data.records);
    let mut eddy = Eddy::run(&path, &brokers, &[]);
    eddy.wait_ready(READY_WITHIN);
    let mut outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(90),
    );
    // The results, written as Avro under `results-value`, read back as a registry client does.
    for result in outputs.get_mut("results").expect("results") {
        result.payload = result_as_json(&result.payload, &registry)
            .to_string()
            .into_bytes();
    }
    let requests = |outcome: &str| {
        eddy.metric(&format!(
            "eddy_schema_registry_requests_total{{outcome=\"{outcome}\"}}"
        ))
    };
    let (ok, unknown) = (requests("ok"), requests("unknown"));
    assert!(eddy.stop().success(), "eddy exits 0 on SIGTERM");
    let report = Report::of(&data, &outputs);
    assert_exact(&report);

    let mut reasons: Vec<String> = outputs["dead"]
        .iter()
        .filter_map(|r| r.header("eddy.error").map(str::to_string))
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(
        reasons,
        [
            "not an Avro record of its schema: the payload ends early (truncated)".to_string(),
            format!(
                "schema {UNKNOWN_ID}: not in the registry (No content with id/hash 'contentId-{UNKNOWN_ID}' was found.)"
            ),
        ],
        "the reasons, as the registry words them"
    );
    // One request for the dataset's schema (then cached by id); an unknown id is asked for
    // again each time it comes.
    assert_eq!(ok, Some(1.0));
    assert_eq!(unknown, Some(unknown_records(&data) as f64));

    // The results' schema changes with the aggregates; one the registry refuses as
    // incompatible stops the start, with the registry's reason.
    registry.set_compatibility("results-value", "BACKWARD");
    let more = config.replace(
        "aggregates:\n",
        "aggregates:\n  - { name: avg, plugin: avg, field: /amount }\n",
    );
    assert_ne!(more, config);
    std::fs::write(&path, more).expect("config written");
    let output = Command::new("timeout")
        .arg("60")
        .arg(eddy_binary())
        .args(["run", "--config"])
        .arg(&path)
        .env("EDDY_KAFKA__BROKERS", &brokers)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .output()
        .expect("eddy run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "refused at start: {stderr}");
    assert!(
        stderr.contains("results as Avro: the results' schema under subject `results-value`")
            && stderr.contains("409"),
        "{stderr}"
    );
}

/// How many of the dataset's records name the unknown schema id.
fn unknown_records(data: &Dataset) -> usize {
    data.junk
        .iter()
        .filter(|p| p[1..5] == UNKNOWN_ID.to_be_bytes())
        .count()
}

#[test]
fn protobuf_records_give_the_reference_results_and_bad_ones_are_dead_lettered() {
    let kafka = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = kafka.bootstrap_servers();
    let registry = Registry::start();
    let id = registry.register_typed("events-value", "PROTOBUF", EVENT_PROTO);
    let data = protobuf_dataset(&dataset(), id);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("protobuf.yaml");
    let config = config(&registry.url()).replace("format: avro", "format: protobuf");
    std::fs::write(&path, &config).expect("config written");
    produce(&brokers, &data.records);
    let mut eddy = Eddy::run(&path, &brokers, &[]);
    eddy.wait_ready(READY_WITHIN);
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(90),
    );
    assert!(eddy.stop().success(), "eddy exits 0 on SIGTERM");
    assert_exact(&Report::of(&data, &outputs));
    let mut reasons: Vec<String> = outputs["dead"]
        .iter()
        .filter_map(|r| r.header("eddy.error").map(str::to_string))
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("not a Protobuf message of its schema: the payload ends early"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with(&format!("schema {UNKNOWN_ID}: not in the registry")),
        "{reasons:?}"
    );
}

/// `eddy generate --schema-registry` and `examples/avro.yaml` (the README's Avro example):
/// sample orders as Avro that a registry client reads back, every one decoded by `eddy run`,
/// and results written as Avro that a registry client reads.
#[test]
fn the_avro_example_reads_what_eddy_generate_produces() {
    let kafka = Kafka::with_topics(&["orders", "revenue", "orders.late", "orders.dead"], 2);
    let brokers = kafka.bootstrap_servers();
    let registry = Registry::start();
    let status = Command::new(eddy_binary())
        .args([
            "generate",
            "--events",
            "2000",
            "--keys",
            "7",
            "--payload-bytes",
            "20",
        ])
        .args(["--topic", "orders", "--brokers", &brokers])
        .args(["--schema-registry", &registry.url()])
        .status()
        .expect("eddy generate");
    assert!(status.success());
    let tail = Tail::new(&brokers, &[("orders", 2)]).expect("reader");
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while events.len() < 2000 && Instant::now() < deadline {
        if let Some(record) = tail.next(Duration::from_millis(200)) {
            events.push(result_as_json(&record.expect("read").payload, &registry));
        }
    }
    assert_eq!(events.len(), 2000);
    assert!(events.iter().all(
        |e| e["key"].as_str().is_some_and(|k| k.starts_with("user-"))
            && e["ts"].is_i64()
            && e["amount"].is_number()
            && e["pad"].as_str().is_some_and(|p| p.len() == 20)
    ));

    let example = eddy_tests::repo_root().join("examples/avro.yaml");
    let mut eddy = Eddy::run(
        &example,
        &brokers,
        &[("EDDY_SCHEMA_REGISTRY__URL", registry.url())],
    );
    eddy.wait_ready(READY_WITHIN);
    let deadline = Instant::now() + Duration::from_secs(60);
    let decoded = loop {
        let decoded = eddy.metric("eddy_events_total").unwrap_or_default();
        if decoded >= 2000.0 || Instant::now() > deadline {
            break decoded;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let dead = eddy.metric("eddy_dead_letters_total").unwrap_or_default();
    let tail = Tail::new(&brokers, &[("revenue", 2)]).expect("reader");
    let result = tail
        .next(Duration::from_secs(30))
        .expect("a result")
        .expect("read");
    assert!(eddy.stop().success());
    assert_eq!(
        (decoded, dead),
        (2000.0, 0.0),
        "every event decoded, none refused"
    );
    let result = result_as_json(&result.payload, &registry);
    assert!(result["orders"].as_i64().is_some_and(|n| n > 0), "{result}");
    assert!(result["latency_ms"]["p99"].is_number(), "{result}");
}

/// Avro records read by a schema file, through a filter plugin (which gets them as JSON)
/// into a window: no broker needed.
#[test]
fn avro_records_of_a_schema_file_reach_plugins_as_json() {
    use eddy::pipeline::{Outputs, Pipeline};
    use eddy::sink::JsonLines;
    use eddy_engine::config::{Config, RecordFormat, SourceConfig};
    use eddy_engine::event::RawBatch;

    let dir = tempfile::tempdir().expect("temp dir");
    let schema = dir.path().join("event.avsc");
    std::fs::write(&schema, EVENT_SCHEMA).expect("schema written");
    let mut config = Config::from_yaml(&format!(
        "transforms: [{{ plugin: {:?}, config: {{ field: /amount, min: 50 }} }}]\n\
         window: {{ type: tumbling, size: 1h }}\n\
         aggregates: [{{ name: n, plugin: count }}, {{ name: s, plugin: sum, field: /amount }}]\n",
        eddy_tests::example("threshold-filter")
    ))
    .expect("config");
    config.source = SourceConfig::Kafka {
        topic: "events".into(),
    };
    config.decode.format = RecordFormat::Avro;
    config.decode.schema = Some(schema);
    config.plugins.dir = plugin_dir();
    let (results, results_buffer) = JsonLines::memory();
    let (dead_letter, dead_buffer) = JsonLines::memory();
    let outputs = Outputs {
        results: results.into(),
        late: JsonLines::memory().0.into(),
        dead_letter: dead_letter.into(),
    };
    let mut pipeline = Pipeline::new(&config, outputs).expect("pipeline");
    let mut batch = RawBatch::default();
    for (ts, amount) in [(1_000, 10), (2_000, 60), (3_000, 70)] {
        let event = serde_json::json!({ "key": "a", "ts": ts, "amount": amount });
        batch.push_at(&eddy_tests::avro::datum(&event), 0, ts);
    }
    let event = serde_json::json!({ "key": "a", "ts": 4_000, "amount": 80 });
    let datum = eddy_tests::avro::datum(&event);
    batch.push_at(&datum[..datum.len() - 1], 0, 4_000);
    pipeline.process(batch).expect("processed");
    pipeline.finish().expect("finished");
    let results = results_buffer.take();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(
        (&results[0]["n"], &results[0]["s"]),
        (&2.into(), &130.into())
    );
    let dead = dead_buffer.take();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]["reason"]
            .as_str()
            .is_some_and(|e| e.contains("truncated")),
        "{dead:?}"
    );
}

/// Readiness: (ready, body of /health/ready).
fn readiness(eddy: &Eddy) -> (bool, String) {
    let answer = http_get(eddy.port(), "/health/ready").unwrap_or_default();
    (answer.starts_with("HTTP/1.1 200"), answer)
}

#[test]
fn a_registry_that_cannot_be_reached_stops_the_intake_until_it_can() {
    let kafka = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = kafka.bootstrap_servers();
    let registry = Registry::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let proxy = Proxy::start_on(port, registry.port());
    let first = registry.register("events-value", EVENT_SCHEMA);
    // A second version: an optional field more, last (its null is one more byte, 0).
    let v2 = EVENT_SCHEMA.replace(
        r#"{"name": "amount", "type": "long"}"#,
        r#"{"name": "amount", "type": "long"},
    {"name": "note", "type": ["null", "string"], "default": null}"#,
    );
    assert_ne!(v2, EVENT_SCHEMA);
    let second = registry.register("events-value", &v2);
    assert_ne!(first, second);

    // The first half of every partition written with the first version, the rest with the
    // second, which Eddy asks for only once it reads it: while the registry is cut off.
    let plain = dataset();
    let (one, two) = (
        avro_dataset(&plain, first, &[]),
        avro_dataset(&plain, second, &[0]),
    );
    let per_partition = one.records.len() / PARTITIONS as usize;
    let (head, tail): (Vec<_>, Vec<_>) =
        (0..one.records.len()).partition(|i| i % per_partition < per_partition / 2);
    let head: Vec<(i32, Vec<u8>)> = head.iter().map(|&i| one.records[i].clone()).collect();
    let tail: Vec<(i32, Vec<u8>)> = tail.iter().map(|&i| two.records[i].clone()).collect();
    let all: Vec<(i32, Vec<u8>)> = head.iter().chain(&tail).cloned().collect();
    let among = |candidates: [&Vec<Vec<u8>>; 2]| -> Vec<Vec<u8>> {
        all.iter()
            .map(|(_, payload)| payload)
            .filter(|p| candidates.iter().any(|c| c.contains(p)))
            .cloned()
            .collect()
    };
    let data = Dataset {
        records: all.clone(),
        windows: plain.windows.clone(),
        late: among([&one.late, &two.late]),
        junk: among([&one.junk, &two.junk]),
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("avro.yaml");
    std::fs::write(&path, config(&Registry::url_on(proxy.port()))).expect("config written");
    produce(&brokers, &head);
    let mut eddy = Eddy::run(&path, &brokers, &[]);
    eddy.wait_ready(READY_WITHIN);
    wait_until_quiet(&brokers);

    proxy.cut();
    produce(&brokers, &tail);
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        let (ready, body) = readiness(&eddy);
        if !ready && body.contains("schema registry") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "not ready while the registry is unreachable: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(reason.contains(&format!("schema {second}")), "{reason}");
    // A while cut off: still waiting, not dead-lettering.
    std::thread::sleep(Duration::from_secs(5));
    assert!(!readiness(&eddy).0, "still not ready");
    assert!(eddy.exited().is_none(), "still running");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !readiness(&eddy).0 {
        assert!(
            Instant::now() < deadline,
            "ready again: {}",
            readiness(&eddy).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(90),
    );
    assert!(eddy.stop().success(), "eddy exits 0 on SIGTERM");
    let report = Report::of(&data, &outputs);
    assert_exact(&report);
}
