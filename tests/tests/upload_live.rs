//! The custom aggregator from `examples/` uploaded to a running `eddy run` over HTTP and
//! activated for a stage: later windows are computed by it, with no restart, and no window is
//! lost or written twice. The stage ran the built-in `max`; `spread` has another name and
//! state format, so `max` finishes the windows open at the swap.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{PARTITIONS, TOPICS, dataset};
use eddy_tests::example;
use eddy_tests::process::{Eddy, eddy_binary, http_request};
use eddy_tests::swap::{check_max_then_spread, wait_applied};
use eddy_tests::topics::{produce, read_outputs, wait_until_quiet};
use serde_json::Value;

const TOKEN: &str = "test-admin-token";

const CONFIG: &str = r#"
source: { type: kafka, topic: events }
decode: { key: /key, time: /ts }
watermark: { out_of_orderness: 500ms }
window: { type: tumbling, size: 5s }
aggregates:
  - { name: count, plugin: count }
  - { name: custom, plugin: max, field: /amount }
sink: { type: kafka, topic: results }
late: { type: kafka, topic: late }
dead_letter: { type: kafka, topic: dead }
batch_size: 256
kafka: { brokers: set-by-the-environment, group_id: eddy-upload-test }
"#;

#[test]
fn an_uploaded_aggregator_computes_later_windows_without_a_restart() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let data = dataset();
    let halves = data.halves();

    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let registry = dir.path().join("registry").display().to_string();
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        ("EDDY_ADMIN__REGISTRY_DIR", registry),
    ];
    produce(&brokers, &halves.first);
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    wait_until_quiet(&brokers);

    // The CLI is a thin client of the API: `eddy plugin push`, then `eddy plugin activate`.
    let url = format!("http://127.0.0.1:{}", eddy.port());
    let cli = |args: &[&str], token: Option<&str>| {
        let mut command = Command::new(eddy_binary());
        command.arg("plugin").args(args).args(["--url", &url]);
        command.env_remove("EDDY_ADMIN__TOKEN");
        if let Some(token) = token {
            command.env("EDDY_ADMIN__TOKEN", token);
        }
        command.output().expect("eddy plugin runs")
    };
    let spread = example("spread").display().to_string();
    let refused = cli(&["push", &spread], None);
    assert!(!refused.status.success(), "no token, no upload");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("token"),
        "{stderr}"
    );
    let pushed = cli(&["push", &spread], Some(TOKEN));
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let entry: Value = serde_json::from_slice(&pushed.stdout).expect("entry");
    let digest = entry["digest"].as_str().expect("digest").to_string();
    let activated = cli(&["activate", "aggregates.custom", &digest], Some(TOKEN));
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );
    wait_applied(eddy.port(), &digest, Duration::from_secs(30));

    produce(&brokers, &halves.second);
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    );
    let status = eddy.stop();
    assert!(status.success(), "{status}");

    let results = outputs.get("results").map_or(&[][..], Vec::as_slice);
    check_max_then_spread(&data, &halves, results);
}

fn event(amount: i64, ts: i64) -> (i32, Vec<u8>) {
    (
        0,
        format!(r#"{{"key":"k","ts":{ts},"amount":{amount}}}"#).into_bytes(),
    )
}

/// Waits until metric `name` of `eddy` reaches `value`.
fn wait_metric(eddy: &Eddy, name: &str, value: f64) {
    let started = Instant::now();
    while eddy.metric(name).unwrap_or(0.0) < value {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} did not reach {value}: {:?}",
            eddy.metric(name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The result of the one window of key `k` (count, custom), once the window is closed.
fn window_of_k(brokers: &str) -> (BTreeMap<String, Vec<eddy::kafka::TailRecord>>, Value) {
    let outputs = read_outputs(brokers, 1, Duration::from_secs(2), Duration::from_secs(60));
    let results: Vec<Value> = outputs
        .get("results")
        .map(|r| {
            r.iter()
                .map(|r| serde_json::from_slice(&r.payload).expect("JSON"))
                .filter(|v: &Value| v["key"] == "k")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(results.len(), 1, "one result for k: {results:?}");
    let result = results[0].clone();
    (outputs, result)
}

/// An activated aggregator version that traps is retried on fresh instances from the last
/// checkpoint; when the batch traps again, `on_trap: rollback` puts the stage back on the
/// version before it, in place: the host keeps running, and the event that trapped is
/// counted by the rolled-back version (no restart, nothing lost).
#[test]
fn an_activated_aggregator_that_traps_twice_is_rolled_back_in_place() {
    rolled_back_in_place(("EDDY_PLUGINS__ON_TRAP", "rollback"));
}

/// The same with `on_trap: dead_letter` (the default): an activated version that traps
/// `plugins.rollback_traps` (here 2) times is rolled back whatever the policy.
#[test]
fn an_activated_aggregator_trapping_too_often_is_rolled_back_whatever_the_policy() {
    rolled_back_in_place(("EDDY_PLUGINS__ROLLBACK_TRAPS", "2"));
}

fn rolled_back_in_place(setting: (&str, &str)) {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(&config, CONFIG.replace("plugin: max", "plugin: sum")).expect("config");
    let registry = dir.path().join("registry");
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        ("EDDY_ADMIN__REGISTRY_DIR", registry.display().to_string()),
        (setting.0, setting.1.to_string()),
    ];
    let base = 1_700_000_000_000;
    produce(&brokers, &[event(5, base)]);
    let mut eddy = Eddy::run(&config, &brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    wait_metric(&eddy, "eddy_events_total", 1.0);

    let auth = format!("Bearer {TOKEN}");
    let digest = eddy.upload(TOKEN, &eddy_tests::fixture("panicky-sum"));
    let (status, body) = http_request(
        eddy.port(),
        "POST",
        "/v1/pipelines/main/stages/aggregates.custom/activate",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        format!(r#"{{"digest":"{digest}"}}"#).as_bytes(),
    );
    assert_eq!(status, 202, "{body}");
    let started = Instant::now();
    loop {
        let (_, body) = http_request(eddy.port(), "GET", "/v1/pipelines", &[], &[]);
        let stages: Value = serde_json::from_str(&body).expect("pipelines");
        if stages[0]["stages"][1]["digest"] == digest.as_str() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not applied: {stages}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    produce(&brokers, &[event(-1, base + 1)]);
    wait_metric(&eddy, "eddy_plugin_rollbacks_total", 1.0);
    assert_eq!(
        eddy.metric(r#"eddy_aggregator_retries_total{plugin="sum"}"#),
        Some(1.0)
    );
    let (_, body) = http_request(eddy.port(), "GET", "/v1/pipelines", &[], &[]);
    let stages: Value = serde_json::from_str(&body).expect("pipelines");
    assert_eq!(stages[0]["stages"][1]["plugin"], "sum", "{stages}");
    assert!(stages[0]["stages"][1]["digest"].is_null(), "{stages}");
    let kept = std::fs::read_to_string(registry.join("activations")).unwrap_or_default();
    assert!(!kept.contains("aggregates.custom"), "rolled back: {kept}");

    produce(&brokers, &[event(0, base + 60_000)]);
    let (outputs, result) = window_of_k(&brokers);
    assert_eq!(result["count"].as_f64(), Some(2.0), "{result}");
    assert_eq!(
        result["custom"].as_f64(),
        Some(4.0),
        "the event that trapped is counted: {result}"
    );
    assert!(outputs.get("dead").is_none_or(Vec::is_empty));
    let status = eddy.stop();
    assert!(status.success(), "the host kept running: {status}");
}

/// A configured aggregator that traps on one event: the batch is retried on fresh instances,
/// traps again, and (`on_trap: dead_letter`, the default) goes to the dead-letter topic with
/// the reason; the partition's other events are counted, the host keeps running.
#[test]
fn a_batch_that_traps_twice_goes_to_the_dead_letter_topic() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("eddy.yaml");
    let fixture = eddy_tests::fixture("panicky-sum");
    std::fs::write(
        &config,
        CONFIG.replace("plugin: max", &format!("plugin: {}", fixture.display())),
    )
    .expect("config");
    let base = 1_700_000_000_000;
    produce(&brokers, &[event(5, base)]);
    let mut eddy = Eddy::run(&config, &brokers, &[]);
    eddy.wait_ready(Duration::from_secs(60));
    wait_metric(&eddy, "eddy_events_total", 1.0);
    produce(&brokers, &[event(-1, base + 1)]);
    wait_metric(&eddy, "eddy_dead_letters_total", 1.0);
    assert_eq!(
        eddy.metric(r#"eddy_aggregator_retries_total{plugin="sum"}"#),
        Some(1.0)
    );
    produce(&brokers, &[event(7, base + 2), event(0, base + 60_000)]);
    let (outputs, result) = window_of_k(&brokers);
    assert_eq!(result["count"].as_f64(), Some(2.0), "{result}");
    assert_eq!(result["custom"].as_f64(), Some(12.0), "{result}");
    let dead = outputs.get("dead").expect("dead letters");
    assert_eq!(dead.len(), 1, "only the event that trapped");
    assert_eq!(
        serde_json::from_slice::<Value>(&dead[0].payload).expect("JSON")["amount"].as_i64(),
        Some(-1)
    );
    assert!(
        dead[0]
            .headers
            .iter()
            .any(|(k, v)| k == "eddy.error" && v.contains("trap")),
        "{:?}",
        dead[0].headers
    );
    let status = eddy.stop();
    assert!(status.success(), "the host kept running: {status}");
}
