//! Traces across Kafka: `eddy run` on Apache Kafka with `otel.endpoint` pointing at a small
//! OTLP receiver. Every input record carries a W3C `traceparent`; each batch's span links to
//! its records' contexts, plugin calls are its children (with the plugin's name and version),
//! checkpoints and a swap have spans of their own, and every result, late event and dead letter
//! written carries the `traceparent` of the span that wrote it. A collector that never answers
//! costs the pipeline nothing but dropped spans.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eddy::kafka::Record;
use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, dataset};
use eddy_tests::fixture;
use eddy_tests::otlp::{ReceivedSpan, Receiver};
use eddy_tests::process::Eddy;
use eddy_tests::swap::activate;
use eddy_tests::topics::{input_producer, read_outputs};

const TOKEN: &str = "test-admin-token";

/// The context record `i` carries: trace `i + 1`, span `i + 1`, sampled.
fn traceparent(i: usize) -> String {
    format!("00-{:032x}-{:016x}-01", i + 1, i + 1)
}

/// Produces the dataset, every record with its own `traceparent`.
fn produce_traced(brokers: &str, records: &[(i32, Vec<u8>)]) {
    let producer = input_producer(brokers);
    for (i, (partition, payload)) in records.iter().enumerate() {
        producer
            .send(&Record {
                topic: "events",
                partition: Some(*partition),
                key: None,
                payload,
                headers: &[("traceparent", traceparent(i))],
                measure: false,
            })
            .expect("queued");
    }
    producer.flush().expect("acknowledged");
}

fn run(dir: &std::path::Path, otel: &str, brokers: &str) -> Eddy {
    let config = dir.join("eddy.yaml");
    std::fs::write(
        &config,
        format!("{CONFIG}state:\n  checkpoint_interval: 500ms\n{otel}"),
    )
    .expect("config");
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        (
            "EDDY_ADMIN__REGISTRY_DIR",
            dir.join("registry").display().to_string(),
        ),
    ];
    let mut eddy = Eddy::run(&config, brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    eddy
}

/// (trace id, span id) of a `traceparent` header.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("00", 32, 16));
    (parts[1].to_string(), parts[2].to_string())
}

/// The known dataset, every record traced, through `eddy run` exporting to `receiver` with
/// `otel` (more keys of the `otel` section), all results read back.
struct Traced {
    eddy: Eddy,
    data: eddy_tests::dataset::Dataset,
    outputs: BTreeMap<String, Vec<eddy::kafka::TailRecord>>,
    _broker: Kafka,
    _dir: tempfile::TempDir,
}

impl Traced {
    fn run(receiver: &Receiver, otel: &str) -> Self {
        let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
        let brokers = broker.bootstrap_servers();
        let data = dataset();
        let dir = tempfile::tempdir().expect("dir");
        let otel = format!("otel:\n  endpoint: {}\n{otel}", receiver.endpoint());
        let eddy = run(dir.path(), &otel, &brokers);
        produce_traced(&brokers, &data.records);
        let outputs = read_outputs(
            &brokers,
            data.windows.len(),
            Duration::from_secs(2),
            Duration::from_secs(90),
        );
        Self {
            eddy,
            data,
            outputs,
            _broker: broker,
            _dir: dir,
        }
    }
}

#[test]
fn spans_link_batches_to_their_records_and_outputs_carry_their_context() {
    let receiver = Receiver::start(false);
    // The broker and the folder live to the end of the test.
    let Traced {
        eddy,
        data,
        outputs,
        _broker,
        _dir,
    } = Traced::run(&receiver, "  service_name: eddy-trace-test\n");
    let sum_v2 = eddy.upload(TOKEN, &fixture("sum-v2"));
    let swapped = activate(
        eddy.port(),
        TOKEN,
        "aggregates.sum",
        &format!(r#"{{"digest":"{sum_v2}"}}"#),
    );
    assert!(swapped["error"].is_null(), "{swapped}");
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let report = Report::of(&data, &outputs);
    assert!(report.results.exact(), "{}", report.summary());

    let spans = receiver.spans();
    let by_id: BTreeMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let named = |name: &'static str| spans.iter().filter(move |s| s.name == name);
    assert!(
        spans.iter().all(|s| s.service == "eddy-trace-test"),
        "service.name"
    );

    // Batches link to the contexts their records carried, and only to those.
    let sent: BTreeSet<(String, String)> = (0..data.records.len())
        .map(|i| ids(&traceparent(i)))
        .collect();
    let links: BTreeSet<&(String, String)> = named("batch").flat_map(|s| &s.links).collect();
    assert!(
        links.iter().all(|link| sent.contains(*link)),
        "links name records' contexts"
    );
    assert!(links.len() > 1_000, "{} records linked", links.len());
    let batches: BTreeSet<&str> = named("batch").map(|s| s.span_id.as_str()).collect();

    // Plugin calls are children of their batch, named with the plugin and its version.
    let calls: Vec<&ReceivedSpan> = named("plugin")
        .filter(|s| batches.contains(s.parent_span_id.as_str()))
        .collect();
    assert!(calls.len() > 100, "{} plugin calls in batches", calls.len());
    for call in &calls {
        let parent = by_id[call.parent_span_id.as_str()];
        assert_eq!(call.trace_id, parent.trace_id, "same trace as the batch");
        assert!(call.attribute("plugin").is_some_and(|p| !p.is_empty()));
        assert!(call.attribute("version").is_some_and(|v| v.contains('.')));
    }
    let plugins: BTreeSet<&str> = calls.iter().filter_map(|c| c.attribute("plugin")).collect();
    for plugin in ["count", "sum", "min", "max"] {
        assert!(plugins.contains(plugin), "{plugin} in {plugins:?}");
    }
    assert!(named("checkpoint").count() > 0, "checkpoint spans");
    let swap = named("swap").next().expect("a swap span");
    assert_eq!(swap.attribute("stage"), Some("aggregates.sum"));

    // Every record written carries the context of a span that was exported.
    let mut carried = 0;
    for (topic, records) in &outputs {
        for record in records {
            let header = record
                .header("traceparent")
                .unwrap_or_else(|| panic!("{topic} record without traceparent"));
            let (trace, span) = ids(header);
            let writer = by_id
                .get(span.as_str())
                .unwrap_or_else(|| panic!("{topic}: {header} names no exported span"));
            assert_eq!(writer.trace_id, trace);
            assert!(
                ["batch", "tick"].contains(&writer.name.as_str()),
                "{topic} written by {}",
                writer.name
            );
            carried += 1;
        }
    }
    assert!(
        outputs.get("late").is_some_and(|l| !l.is_empty())
            && outputs.get("dead").is_some_and(|d| !d.is_empty()),
        "late events and dead letters were checked too"
    );
    eprintln!(
        "{} spans ({} batches, {} plugin calls), {} links, {carried} records with a traceparent",
        spans.len(),
        batches.len(),
        calls.len(),
        links.len()
    );
}

#[test]
fn a_collector_that_never_answers_costs_only_dropped_spans() {
    let receiver = Receiver::start(true);
    let Traced {
        eddy,
        data,
        outputs,
        _broker,
        _dir,
    } = Traced::run(&receiver, "  queue_size: 16\n  timeout: 2s\n");
    let dropped = eddy.metric("eddy_trace_spans_dropped_total").unwrap_or(0.0);
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let report = Report::of(&data, &outputs);
    assert!(report.results.exact(), "{}", report.summary());
    assert!(dropped > 100.0, "spans dropped and counted: {dropped}");
    assert!(receiver.spans().is_empty(), "nothing was answered");
}
