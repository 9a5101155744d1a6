//! Shadow runs in a running `eddy run` on Apache Kafka, over the admin API and the CLI.
//!
//! Half-way through the known dataset three candidates start beside the live stages: `sum-v2`
//! beside `sum` (the same results: no difference), `spread` beside `max` (a different one: the
//! differences it should have), the panicky `sum` beside `min` (it traps on the one negative
//! amount of the second half and is stopped). The output is the reference exactly: no shadow
//! wrote anything. Then a candidate is promoted: the windows after its barrier are computed by
//! it, every window once.

use std::process::Command;
use std::time::{Duration, Instant};

use eddy_tests::broker::Kafka;
use eddy_tests::dataset::{CONFIG, PARTITIONS, Report, TOPICS, WINDOW_MS, dataset};
use eddy_tests::process::{Eddy, eddy_binary, http_request};
use eddy_tests::swap::{check_max_then_spread, stage, wait_applied};
use eddy_tests::topics::{produce, read_outputs, wait_until_quiet};
use eddy_tests::{example, fixture};
use serde_json::Value;

const TOKEN: &str = "test-admin-token";

/// `eddy run` of `config` on `brokers` with the admin API.
fn eddy(dir: &std::path::Path, config: &str, brokers: &str) -> Eddy {
    let path = dir.join("eddy.yaml");
    std::fs::write(&path, config).expect("config");
    let registry = dir.join("registry").display().to_string();
    let env = [
        ("EDDY_ADMIN__TOKEN", TOKEN.to_string()),
        ("EDDY_ADMIN__REGISTRY_DIR", registry),
    ];
    let mut eddy = Eddy::run(&path, brokers, &env);
    eddy.wait_ready(Duration::from_secs(60));
    eddy
}

/// Runs `eddy plugin <args>` against `eddy` with the token; its standard output.
fn cli(eddy: &Eddy, args: &[&str]) -> String {
    let url = format!("http://127.0.0.1:{}", eddy.port());
    let out = Command::new(eddy_binary())
        .arg("plugin")
        .args(args)
        .args(["--url", &url])
        .env("EDDY_ADMIN__TOKEN", TOKEN)
        .output()
        .expect("eddy plugin runs");
    assert!(
        out.status.success(),
        "eddy plugin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until stage `id`'s shadow run satisfies `done`; the run as it is then.
fn wait_shadow(eddy: &Eddy, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let shadow = stage(eddy.port(), id)["shadow"].clone();
        if done(&shadow) {
            return shadow;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{id}: {shadow}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn shadow_runs_compare_with_the_live_versions_and_write_nothing() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let mut data = dataset();
    let mut halves = data.halves();
    // One negative amount early in the second half: the panicky sum traps on it.
    let time = halves.resume_time + 1_000;
    let negative = format!(r#"{{"key":"p0-negative","ts":{time},"amount":-5}}"#);
    halves.second.insert(0, (0, negative.into_bytes()));
    let start = time - time.rem_euclid(WINDOW_MS);
    data.windows
        .insert(("p0-negative".into(), start), (1, -5, -5, -5));

    let dir = tempfile::tempdir().expect("dir");
    produce(&brokers, &halves.first);
    let eddy = eddy(dir.path(), CONFIG, &brokers);
    wait_until_quiet(&brokers);

    let sum_v2 = eddy.upload(TOKEN, &fixture("sum-v2"));
    let spread = eddy.upload(TOKEN, &example("spread"));
    let panicky = eddy.upload(TOKEN, &fixture("panicky-sum"));
    cli(&eddy, &["shadow", "aggregates.sum", &sum_v2]);
    cli(&eddy, &["shadow", "aggregates.max", &spread]);
    cli(&eddy, &["shadow", "aggregates.min", &panicky]);
    for id in ["aggregates.sum", "aggregates.max", "aggregates.min"] {
        wait_shadow(&eddy, id, |s| s["status"] == "running");
    }

    produce(&brokers, &halves.second);
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(2),
        Duration::from_secs(90),
    );
    let compared = |s: &Value| s["equal"].as_u64().unwrap_or(0) > 500;
    let same = wait_shadow(&eddy, "aggregates.sum", compared);
    let different = wait_shadow(&eddy, "aggregates.max", |s| {
        s["different"].as_u64().unwrap_or(0) > 500
    });
    let stopped = wait_shadow(&eddy, "aggregates.min", |s| s["status"] == "stopped");
    let metric = |stage: &str, candidate: &str, outcome: &str| {
        let name = format!(
            r#"eddy_shadow_results_total{{stage="{stage}",candidate="{candidate}",outcome="{outcome}"}}"#
        );
        eddy.metric(&name).unwrap_or(-1.0)
    };
    let equal_metric = metric("aggregates.sum", &sum_v2, "equal");
    let different_metric = metric("aggregates.max", &spread, "different");
    let running = eddy.metric(&format!(
        r#"eddy_shadow_running{{stage="aggregates.min",candidate="{panicky}"}}"#
    ));
    let largest_metric = eddy.metric(&format!(
        r#"eddy_shadow_largest_difference{{stage="aggregates.max",candidate="{spread}",output="max"}}"#
    ));
    let status = eddy.stop();
    assert!(status.success(), "{status}");

    eprintln!(
        "sum-v2 beside sum: {same}\nspread beside max: {different}\npanicky beside min: {stopped}"
    );
    for field in ["different", "only_live", "only_shadow"] {
        assert_eq!(same[field], 0, "sum-v2 gives sum's results: {same}");
    }
    assert_eq!(same["largest_difference"]["sum"], 0.0, "{same}");
    assert!(same["skipped"].as_u64().unwrap_or(0) > 0, "{same}");
    assert_eq!(
        different["equal"], 0,
        "spread is never max here: {different}"
    );
    for field in ["only_live", "only_shadow"] {
        assert_eq!(different[field], 0, "{different}");
    }
    let largest = different["largest_difference"]["max"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(largest > 0.0 && largest <= 1.0, "{different}");
    let reason = stopped["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("trapped"), "{stopped}");
    assert!(
        equal_metric > 500.0,
        "the metric counts them: {equal_metric}"
    );
    assert!(different_metric > 500.0, "{different_metric}");
    assert_eq!(
        running,
        Some(0.0),
        "the stopped candidate shows as not running"
    );
    assert!(
        largest_metric.is_some_and(|d| d > 0.0),
        "{largest_metric:?}"
    );

    let report = Report::of(&data, &outputs);
    eprintln!("{}", report.summary());
    assert!(report.results.exact(), "{}", report.summary());
    assert!(
        report.late.exact() && report.dead.exact(),
        "{}",
        report.summary()
    );
}

const PROMOTE_CONFIG: &str = r#"
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
kafka: { brokers: set-by-the-environment, group_id: eddy-shadow-promote-test }
"#;

#[test]
fn a_promoted_candidate_computes_the_windows_after_its_barrier() {
    let broker = Kafka::with_topics(&TOPICS, PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let data = dataset();
    let halves = data.halves();
    let dir = tempfile::tempdir().expect("dir");
    produce(&brokers, &halves.first);
    let eddy = eddy(dir.path(), PROMOTE_CONFIG, &brokers);
    wait_until_quiet(&brokers);

    let spread = eddy.upload(TOKEN, &example("spread"));
    cli(&eddy, &["shadow", "aggregates.custom", &spread]);
    wait_shadow(&eddy, "aggregates.custom", |s| s["status"] == "running");
    cli(&eddy, &["promote", "aggregates.custom"]);
    wait_applied(eddy.port(), &spread, Duration::from_secs(30));
    let custom = stage(eddy.port(), "aggregates.custom");
    assert!(
        custom.get("shadow").is_none(),
        "promoted: the run ended: {custom}"
    );
    let auth = format!("Bearer {TOKEN}");
    let (status, answer) = http_request(
        eddy.port(),
        "DELETE",
        "/v1/pipelines/main/stages/aggregates.custom/shadow",
        &[("Authorization", &auth)],
        &[],
    );
    assert_eq!(status, 409, "nothing left to stop: {answer}");

    produce(&brokers, &halves.second);
    let outputs = read_outputs(
        &brokers,
        data.windows.len(),
        Duration::from_secs(2),
        Duration::from_secs(90),
    );
    let status = eddy.stop();
    assert!(status.success(), "{status}");
    let results = outputs.get("results").map_or(&[][..], Vec::as_slice);
    check_max_then_spread(&data, &halves, results);
}
