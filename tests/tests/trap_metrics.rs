//! An aggregator that traps in the Kafka loop is counted once per plugin: the retries
//! (`eddy_aggregator_retries_total`) have one series labelled with the plugin's name — also
//! when the config names the plugin by its path — and every trap is an error of kind
//! `plugin_trap`.

use std::time::{Duration, Instant};

use eddy::kafka::Embedded;
use eddy_tests::fixture;
use eddy_tests::process::{Eddy, http_get};
use eddy_tests::topics::{input_producer, produce_with};

#[test]
fn aggregator_traps_are_counted_under_the_plugins_name() {
    let cluster = Embedded::start().expect("mock cluster");
    for topic in ["events", "dead-letters"] {
        cluster.create_topic(topic, 1).expect("topic");
    }
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{ type: kafka, topic: events }}\n\
             dead_letter: {{ type: kafka, topic: dead-letters }}\n\
             kafka: {{ start: earliest, group_id: trap-metrics }}\n\
             state: {{ checkpoint_interval: 200ms }}\n\
             aggregates:\n  - {{ name: total, plugin: '{}', field: /amount }}\n",
            fixture("panicky-sum").display()
        ),
    )
    .expect("config");
    let mut eddy = Eddy::run(&config, &brokers, &[]);
    eddy.wait_ready(Duration::from_secs(60));
    let records: Vec<(i32, Vec<u8>)> = [1, -1, 2]
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            let event = format!("{{\"key\":\"a\",\"ts\":{},\"amount\":{amount}}}", 1000 * i);
            (0, event.into_bytes())
        })
        .collect();
    produce_with(&input_producer(&brokers), &records);

    let started = Instant::now();
    let text = loop {
        let text = http_get(eddy.port(), "/metrics").expect("metrics");
        let dead = text.lines().find_map(|l| {
            l.strip_prefix("eddy_dead_letters_total ")?
                .parse::<f64>()
                .ok()
        });
        if dead.is_some_and(|n| n > 0.0) || started.elapsed() > Duration::from_secs(30) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let retries: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("eddy_aggregator_retries_total{"))
        .collect();
    assert_eq!(retries.len(), 1, "one series per plugin: {retries:?}");
    assert!(
        retries[0].starts_with("eddy_aggregator_retries_total{plugin=\"sum\"}"),
        "{retries:?}"
    );
    let traps = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("eddy_errors_total{kind=\"plugin_trap\"} ")?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    assert!(
        traps >= 2.0,
        "the trap and its retry are counted: {traps}\n{text}"
    );
}
