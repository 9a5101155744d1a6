//! The Python and the JavaScript `spread` (`examples/python-spread`, a 19 MB component, and
//! `examples/js-spread`, 12 MB) uploaded over the admin API to a running `eddy run` on Apache
//! Kafka and activated for a stage that ran the built-in `max`: later windows are computed by
//! it, with no restart, and no window is lost or written twice. The shape of `upload_live.rs`;
//! `max` has another name and state format than `spread`, so `max` finishes the windows open at
//! the swap. The default `admin.max_upload_bytes` takes both components.

use std::process::Command;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{PARTITIONS, TOPICS, dataset};
use eddy_tests::example;
use eddy_tests::process::{Eddy, eddy_binary};
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
kafka: { brokers: set-by-the-environment, group_id: eddy-polyglot-upload-test }
"#;

#[test]
fn an_uploaded_python_spread_computes_later_windows_without_a_restart() {
    uploaded_spread_computes_later_windows("python-spread");
}

#[test]
fn an_uploaded_js_spread_computes_later_windows_without_a_restart() {
    uploaded_spread_computes_later_windows("js-spread");
}

/// Pushes and activates the example `name` (a spread) half-way through the stream.
fn uploaded_spread_computes_later_windows(name: &str) {
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

    let url = format!("http://127.0.0.1:{}", eddy.port());
    let cli = |args: &[&str]| {
        Command::new(eddy_binary())
            .arg("plugin")
            .args(args)
            .args(["--url", &url])
            .env("EDDY_ADMIN__TOKEN", TOKEN)
            .output()
            .expect("eddy plugin runs")
    };
    let spread = example(name).display().to_string();
    let started = Instant::now();
    let pushed = cli(&["push", &spread]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    eprintln!("pushed in {:?}", started.elapsed());
    let entry: Value = serde_json::from_slice(&pushed.stdout).expect("entry");
    assert_eq!(entry["name"], "spread", "{entry}");
    let digest = entry["digest"].as_str().expect("digest").to_string();
    let activated = cli(&["activate", "aggregates.custom", &digest]);
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );
    let applied = wait_applied(eddy.port(), &digest, Duration::from_secs(120));
    eprintln!("applied in {applied:?}");

    produce(&brokers, &halves.second);
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(2),
        Duration::from_secs(120),
    );
    let status = eddy.stop();
    assert!(status.success(), "{status}");

    let results = outputs.get("results").map_or(&[][..], Vec::as_slice);
    check_max_then_spread(&data, &halves, results);
}
