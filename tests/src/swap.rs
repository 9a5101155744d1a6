//! A stage that ran the built-in `max` is given a `spread` (max - min) uploaded over the admin
//! API half-way through the known dataset: waiting until the swap is applied, and checking
//! what came out (windows that fired before the swap by max, windows opened after it by
//! spread, every window once).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy::kafka::TailRecord;
use serde_json::Value;

use crate::dataset::{Dataset, Halves};
use crate::process::http_request;

/// The stage `id` (e.g. `transforms.0`) of the first pipeline, as `/v1/pipelines` shows it.
pub fn stage(port: u16, id: &str) -> Value {
    let (_, body) = http_request(port, "GET", "/v1/pipelines", &[], &[]);
    let pipelines: Value = serde_json::from_str(&body).expect("pipelines");
    pipelines[0]["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|s| s["stage"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Asks for `body` (JSON) as stage `id`'s activation with `token`, then waits until it is
/// applied or refused (nothing pending); the stage as it is then.
pub fn activate(port: u16, token: &str, id: &str, body: &str) -> Value {
    let auth = format!("Bearer {token}");
    let (status, answer) = http_request(
        port,
        "POST",
        &format!("/v1/pipelines/main/stages/{id}/activate"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(status, 202, "{answer}");
    let started = Instant::now();
    loop {
        let stage = stage(port, id);
        if stage["pending"] == false {
            return stage;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not applied: {stage}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the pipeline's second stage runs `digest` with nothing pending, at most
/// `limit`; how long that took.
pub fn wait_applied(port: u16, digest: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (_, body) = http_request(port, "GET", "/v1/pipelines", &[], &[]);
        let pipelines: Value = serde_json::from_str(&body).expect("pipelines");
        let stage = &pipelines[0]["stages"][1];
        if stage["digest"] == digest && stage["pending"] == false {
            assert!(stage["error"].is_null(), "{stage}");
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not applied: {stage}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks `results` (field `custom`) of a swap from max to spread after `halves.first`: every
/// window of `data` once, by max when it fired before the swap, by spread when it opened
/// after the swap resumed, either in between; more than 100 of each kind.
pub fn check_max_then_spread(data: &Dataset, halves: &Halves, results: &[TailRecord]) {
    let same = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let mut seen = BTreeMap::new();
    let (mut by_max, mut by_spread) = (0, 0);
    for record in results {
        let v: Value = serde_json::from_slice(&record.payload).expect("json");
        let key = v["key"].as_str().expect("key").to_string();
        let start = v["window_start"].as_i64().expect("start");
        let custom = v["custom"].as_f64().expect("custom");
        let &(_, _, min, max) = data
            .windows
            .get(&(key.clone(), start))
            .expect("a reference window");
        let (min, max) = (min as f64, max as f64);
        *seen.entry((key.clone(), start)).or_insert(0) += 1;
        if start + 5_000 <= halves.swap_time - 500 {
            assert_eq!(custom, max, "{key}@{start}: fired before the swap, by max");
            by_max += 1;
        } else if start >= halves.resume_time + 5_000 {
            assert!(
                same(custom, max - min),
                "{key}@{start}: opened after the swap, by spread: {custom} vs {}",
                max - min
            );
            by_spread += 1;
        } else {
            assert!(
                custom == max || same(custom, max - min),
                "{key}@{start}: {custom}"
            );
        }
    }
    assert_eq!(seen.len(), data.windows.len(), "every window, once");
    assert!(seen.values().all(|&n| n == 1), "no window twice");
    assert!(
        by_max > 100 && by_spread > 100,
        "{by_max} by max, {by_spread} by spread"
    );
}
