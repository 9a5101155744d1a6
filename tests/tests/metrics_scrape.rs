//! `/metrics` of a running `eddy run` after the known dataset: the counters equal what was
//! sent (records, events, results, late events, dead letters), the gauges and histograms the
//! operator needs are there (consumer lag per partition, watermark lag, state size, result
//! latency, plugin calls, checkpoints), and every Eddy metric the alerts and the dashboard in
//! `deploy/` use exists.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use eddy::kafka::Embedded;
use eddy_tests::dataset::{CONFIG, PARTITIONS, TOPICS, dataset};
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::repo_root;
use eddy_tests::topics::{produce, read_outputs};

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Metric names (`eddy_…`) in a file, histogram suffixes removed.
fn names_in(path: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(path)).expect("file");
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("eddy_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let name = ["_bucket", "_count", "_sum"].iter().fold(name, |n, s| {
            n.strip_suffix(s).map_or(n.clone(), str::to_string)
        });
        if name.len() > "eddy_".len() {
            names.insert(name);
        }
    }
    names
}

#[test]
fn metrics_count_what_was_sent() {
    let cluster = Embedded::start().expect("mock cluster");
    for topic in TOPICS {
        cluster.create_topic(topic, PARTITIONS).expect("topic");
    }
    let brokers = cluster.bootstrap_servers();
    let data = dataset();
    produce(&brokers, &data.records);
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!("{CONFIG}state: {{ checkpoint_interval: 500ms }}\n"),
    )
    .expect("config");
    let mut eddy = Eddy::run(&config, &brokers, &[]);
    eddy.wait_ready(Duration::from_secs(60));
    read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    // Counters are exported with the 100 ms tick; consumer lag with librdkafka's 5 s statistics.
    let started = Instant::now();
    let text = loop {
        let text = http_get(eddy.port(), "/metrics").expect("metrics");
        let complete = value(&text, "eddy_results_total") == Some(data.windows.len() as f64)
            && text.contains("eddy_consumer_lag{");
        if complete || started.elapsed() > Duration::from_secs(20) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let status = eddy.stop();
    assert!(status.success(), "{status}");

    let records = data.records.len() as f64;
    let junk = data.junk.len() as f64;
    let late = data.late.len() as f64;
    assert_eq!(
        value(&text, "eddy_records_in_total"),
        Some(records),
        "{text}"
    );
    assert_eq!(value(&text, "eddy_dead_letters_total"), Some(junk));
    assert_eq!(value(&text, "eddy_late_events_total"), Some(late));
    assert_eq!(value(&text, "eddy_events_total"), Some(records - junk));
    assert_eq!(
        value(&text, "eddy_results_total"),
        Some(data.windows.len() as f64)
    );
    assert_eq!(
        value(&text, "eddy_errors_total{kind=\"dead_letter\"}"),
        Some(junk)
    );
    assert_eq!(
        value(
            &text,
            "eddy_stage_records_total{stage=\"decode\",direction=\"out\"}"
        ),
        Some(records - junk)
    );
    for p in 0..PARTITIONS {
        assert_eq!(
            value(&text, &format!("eddy_consumer_lag{{partition=\"{p}\"}}")),
            Some(0.0),
            "partition {p} read to its end"
        );
    }
    assert!(value(&text, "eddy_result_delivery_seconds_count").is_some_and(|n| n > 0.0));
    assert!(value(&text, "eddy_result_event_time_lag_seconds_count").is_some_and(|n| n > 0.0));
    assert!(value(&text, "eddy_watermark_lag_seconds").is_some());
    assert!(value(&text, "eddy_state_groups").is_some());
    assert!(value(&text, "eddy_checkpoints_total").is_some_and(|n| n > 0.0));
    assert!(value(&text, "eddy_checkpoint_failures_total") == Some(0.0));
    assert!(text.contains("eddy_plugin_calls_total{plugin=\"count\""));
    assert!(text.contains("eddy_plugin_call_seconds_bucket{"));

    let present: BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("eddy_"))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_count", "_sum"]
                .iter()
                .fold(n.to_string(), |n, s| {
                    n.strip_suffix(s).map_or(n.clone(), str::to_string)
                })
        })
        .collect();
    // Shadow runs' series exist while a run does: `shadow_kafka` checks them on a running one.
    let needs_a_run = |name: &str| name.starts_with("eddy_shadow_");
    for file in [
        "deploy/prometheus/alerts.yaml",
        "deploy/grafana/eddy-dashboard.json",
    ] {
        for name in names_in(file).into_iter().filter(|n| !needs_a_run(n)) {
            assert!(
                present.contains(&name),
                "{file} uses {name}, which /metrics does not have"
            );
        }
    }
}
