//! The README's pipeline (examples/demo.yaml) on a generated file with out-of-order events,
//! late events and undecodable lines, checked window by window against a brute-force model.

use std::collections::BTreeMap;
use std::io::Write;

use eddy_engine::config::{Config, FileMode, SideOutputConfig, SinkConfig, SourceConfig};
use eddy_engine::generator::{Generator, GeneratorConfig};
use eddy_tests::{plugin_dir, rank_error, relative_error, repo_root};
use serde_json::Value;

const WINDOW: i64 = 10_000;
const BOUND: i64 = 500;

#[derive(Default)]
struct Expected {
    cents: Vec<i64>,
    latencies: Vec<f64>,
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("output lines are JSON"))
        .collect()
}

#[test]
fn readme_pipeline_matches_brute_force_window_by_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.jsonl");

    // 150 s of events, 0.5 s out of order, every 40 000th event a minute late, plus junk.
    let mut generator = Generator::new(GeneratorConfig {
        events: 150_000,
        keys: 7,
        seed: 11,
        max_disorder_ms: BOUND,
        late_every: 40_000,
        late_by_ms: 60_000,
        ..GeneratorConfig::default()
    });
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line = Vec::new();
    while generator.next_event(&mut line) {
        lines.push(line.clone());
    }
    let junk: [&[u8]; 4] = [
        b"not json",
        br#"{"ts":5}"#,
        br#"{"key":"a","ts":"soon"}"#,
        br#"[1,2]"#,
    ];
    for (i, bad) in junk.iter().enumerate() {
        lines.insert(1000 + i * 30_000, bad.to_vec());
    }
    let mut file = std::fs::File::create(&input).expect("create input");
    for l in &lines {
        file.write_all(l)
            .and_then(|()| file.write_all(b"\n"))
            .expect("write input");
    }
    drop(file);

    // The model: per-event watermark; on time within the bound, late when far behind.
    let mut expected: BTreeMap<(String, i64), Expected> = BTreeMap::new();
    let mut expected_late = Vec::new();
    let mut max = i64::MIN;
    for l in &lines {
        let Ok(v) = serde_json::from_slice::<Value>(l) else {
            continue;
        };
        let (Some(key), Some(ts)) = (v["key"].as_str(), v["ts"].as_i64()) else {
            continue;
        };
        if max != i64::MIN && ts < max - BOUND {
            assert!(
                ts < max - 30_000,
                "generated event in the ambiguous zone: {ts} vs {max}"
            );
            expected_late.push(ts);
            continue;
        }
        max = max.max(ts);
        let start = ts - ts.rem_euclid(WINDOW);
        let e = expected.entry((key.to_string(), start)).or_default();
        e.cents
            .push((v["amount"].as_f64().expect("amount") * 100.0).round() as i64);
        e.latencies.push(v["latency_ms"].as_f64().expect("latency"));
    }
    assert_eq!(expected_late.len(), 3);

    let mut config =
        Config::load(&repo_root().join("examples/demo.yaml")).expect("README config loads");
    config.source = SourceConfig::File { path: input };
    config.sink = SinkConfig::File {
        path: dir.path().join("results.jsonl"),
        mode: FileMode::Truncate,
    };
    config.late = SideOutputConfig::File {
        path: dir.path().join("late.jsonl"),
        mode: FileMode::Truncate,
    };
    config.dead_letter = SideOutputConfig::File {
        path: dir.path().join("dead.jsonl"),
        mode: FileMode::Truncate,
    };
    config.plugins.dir = plugin_dir();
    let stats = eddy::app::run(&config, &eddy::app::StopFlag::default()).expect("pipeline runs");

    let results = read_lines(&dir.path().join("results.jsonl"));
    let late = read_lines(&dir.path().join("late.jsonl"));
    let dead = read_lines(&dir.path().join("dead.jsonl"));
    assert_eq!(stats.results as usize, results.len());
    assert_eq!(
        results.len(),
        expected.len(),
        "one result per (key, window)"
    );
    assert_eq!(
        late.iter()
            .map(|r| r["event_time"].as_i64().expect("time"))
            .collect::<Vec<_>>(),
        expected_late
    );
    assert_eq!(dead.len(), junk.len());
    assert!(
        dead.iter()
            .all(|r| r["reason"].as_str().is_some_and(|s| !s.is_empty()))
    );

    for result in &results {
        let key = result["key"].as_str().expect("key").to_string();
        let start = result["window_start"].as_i64().expect("start");
        assert_eq!(result["window_end"].as_i64(), Some(start + WINDOW));
        assert_eq!(result["emit"], "on_time");
        let e = expected
            .get(&(key.clone(), start))
            .unwrap_or_else(|| panic!("unexpected window {key} {start}"));
        let n = e.cents.len();
        assert_eq!(result["events"].as_u64(), Some(n as u64), "{key} {start}");
        let sum = e.cents.iter().sum::<i64>() as f64 / 100.0;
        assert!(relative_error(result["revenue"].as_f64().expect("revenue"), sum) < 1e-12);
        let amounts: Vec<f64> = e.cents.iter().map(|&c| c as f64 / 100.0).collect();
        let amount = &result["amount"];
        let min = amounts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = amounts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(amount["min"].as_f64(), Some(min));
        assert_eq!(amount["max"].as_f64(), Some(max));
        let mean = sum / n as f64;
        assert!(relative_error(amount["avg"].as_f64().expect("avg"), mean) < 1e-9);
        if n > 1 {
            let var = amounts.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            assert!(relative_error(amount["stddev"].as_f64().expect("stddev"), var.sqrt()) < 1e-9);
        }
        let mut sorted = e.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            let estimate = result["latency_ms"][name].as_f64().expect("quantile");
            assert!(
                rank_error(&sorted, q, estimate) <= 0.01,
                "{key} {start} {name}"
            );
        }
    }
}
