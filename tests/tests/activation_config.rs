//! An activation can carry the plugin's configuration: a running `eddy run` on Apache Kafka
//! has its filter stage (`threshold-filter`, `min: 0`) switched to the same plugin uploaded to
//! the registry with `min: 50`; later windows count only events of 50 and more, the new
//! configuration shows in `/v1/pipelines`, and after a restart the stage still runs that
//! version with that configuration (kept beside the registry). A configuration the plugin
//! refuses changes nothing and is reported on the stage.

use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{PARTITIONS, TOPICS};
use eddy_tests::example;
use eddy_tests::process::Eddy;
use eddy_tests::swap;
use eddy_tests::topics::{produce, read_outputs};
use serde_json::Value;

const TOKEN: &str = "test-admin-token";
const BASE: i64 = 1_700_000_000_000;

fn config() -> String {
    format!(
        r#"
source: {{ type: kafka, topic: events }}
decode: {{ key: /key, time: /ts }}
watermark: {{ out_of_orderness: 0s }}
window: {{ type: tumbling, size: 5s }}
transforms:
  - {{ plugin: {}, config: {{ field: /amount, min: 0 }} }}
aggregates:
  - {{ name: count, plugin: count }}
sink: {{ type: kafka, topic: results }}
late: {{ type: kafka, topic: late }}
dead_letter: {{ type: kafka, topic: dead }}
kafka: {{ brokers: set-by-the-environment, group_id: eddy-activation-config }}
"#,
        example("threshold-filter").display()
    )
}

/// Events of key `k` at `at` (ms after `BASE`), one per amount.
fn events(at: i64, amounts: &[i64]) -> Vec<(i32, Vec<u8>)> {
    amounts
        .iter()
        .map(|amount| {
            let ts = BASE + at;
            (
                0,
                format!(r#"{{"key":"k","ts":{ts},"amount":{amount}}}"#).into_bytes(),
            )
        })
        .collect()
}

/// The filter stage as `/v1/pipelines` shows it.
fn filter_stage(eddy: &Eddy) -> Value {
    swap::stage(eddy.port(), "transforms.0")
}

/// Asks for `body` as the filter stage's activation and waits until it is applied.
fn activate(eddy: &Eddy, body: &str) -> Value {
    swap::activate(eddy.port(), TOKEN, "transforms.0", body)
}

/// Waits until `eddy` has read `records` records.
fn wait_read(eddy: &Eddy, records: f64) {
    let started = Instant::now();
    while eddy.metric("eddy_records_in_total").unwrap_or(0.0) < records {
        assert!(started.elapsed() < Duration::from_secs(30), "not read");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_activation_with_a_config_reconfigures_the_stage_and_survives_a_restart() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("eddy.yaml");
    std::fs::write(&path, config()).expect("config");
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        (
            "EDDY_ADMIN__REGISTRY_DIR",
            dir.path().join("registry").display().to_string(),
        ),
    ];
    produce(&brokers, &events(0, &[10, 60, 70]));
    let mut eddy = Eddy::run(&path, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    wait_read(&eddy, 3.0);

    let digest = eddy.upload(TOKEN, &example("threshold-filter"));

    // A configuration the plugin refuses changes nothing and says why.
    let refused = activate(
        &eddy,
        &format!(r#"{{"digest":"{digest}","config":{{"field":"amount","min":50}}}}"#),
    );
    assert!(refused["digest"].is_null(), "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON pointer")),
        "{refused}"
    );
    assert_eq!(refused["config"]["min"], 0, "{refused}");

    let applied = activate(
        &eddy,
        &format!(r#"{{"digest":"{digest}","config":{{"field":"/amount","min":50}}}}"#),
    );
    assert_eq!(applied["digest"], digest.as_str(), "{applied}");
    assert!(applied["error"].is_null(), "{applied}");
    assert_eq!(applied["config"]["min"], 50, "{applied}");
    produce(&brokers, &events(10_000, &[10, 60, 70]));
    produce(&brokers, &events(60_000, &[100]));
    wait_read(&eddy, 7.0);
    let status = eddy.stop();
    assert!(status.success(), "{status}");

    // Restarted: the stage runs the activated version with its configuration.
    let mut eddy = Eddy::run(&path, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    let kept = filter_stage(&eddy);
    assert_eq!(kept["digest"], digest.as_str(), "{kept}");
    assert_eq!(kept["config"]["min"], 50, "{kept}");
    produce(&brokers, &events(70_000, &[10, 20, 80]));
    produce(&brokers, &events(200_000, &[100]));

    let outputs = read_outputs(&brokers, 4, Duration::from_secs(2), Duration::from_secs(60));
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let counts: Vec<(i64, f64)> = outputs
        .get("results")
        .into_iter()
        .flatten()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.payload).expect("JSON");
            (
                v["window_start"].as_i64().unwrap_or(0) - BASE,
                v["count"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![(0, 3.0), (10_000, 2.0), (60_000, 1.0), (70_000, 1.0)],
        "min 0 before the activation, min 50 after it and after the restart"
    );
}
