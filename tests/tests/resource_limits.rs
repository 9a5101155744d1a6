//! Input meant to exhaust the host: a 100 MB record, a 1 MB key, and far more distinct keys in
//! one window than `state.max_open_groups`. Each such record is dead-lettered with its reason
//! and counted; the rest is computed as usual; the host stays up and its memory bounded.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use eddy_tests::process::Eddy;

/// The peak resident memory of process `pid` (`VmHWM`), MB.
fn peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("output file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_100_mb_record_and_a_1_mb_key_are_dead_lettered_and_the_host_stays_small() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("events.fifo");
    let (results, dead) = (
        dir.path().join("results.jsonl"),
        dir.path().join("dead.jsonl"),
    );
    let made = Command::new("mkfifo").arg(&input).status().expect("mkfifo");
    assert!(made.success());
    let config = dir.path().join("limits.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{ type: file, path: {} }}\n\
             decode: {{ key: /key, time: /ts }}\n\
             window: {{ type: tumbling, size: 10s }}\n\
             aggregates:\n  - {{ name: n, plugin: count }}\n\
             sink: {{ type: file, path: {} }}\n\
             dead_letter: {{ type: file, path: {} }}\n\
             admin: {{ registry_dir: {} }}\n",
            input.display(),
            results.display(),
            dead.display(),
            dir.path().join("registry").display()
        ),
    )
    .expect("config written");
    let mut eddy = Eddy::run(&config, "unused:9092", &[]);
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&input)
        .expect("the pipe opens");
    eddy.wait_ready(Duration::from_secs(60));
    let before = peak_mb(eddy.pid());
    writeln!(writer, r#"{{"key":"k0","ts":1000}}"#).expect("written");
    writeln!(writer, r#"{{"key":"k1","ts":2000}}"#).expect("written");
    let pad = "x".repeat(100 << 20);
    writeln!(writer, r#"{{"key":"big","ts":3000,"pad":"{pad}"}}"#).expect("written");
    drop(pad);
    let long_key = "k".repeat(1 << 20);
    writeln!(writer, r#"{{"key":"{long_key}","ts":4000}}"#).expect("written");
    writeln!(writer, r#"{{"key":"k0","ts":5000}}"#).expect("written");
    writer.flush().expect("flushed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while eddy.metric("eddy_dead_letters_total") != Some(2.0) {
        assert!(Instant::now() < deadline, "two dead letters counted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let peak = peak_mb(eddy.pid());
    eprintln!("eddy's peak resident memory: {before:.0} MB before, {peak:.0} MB after");
    // The record is read once (100 MB) and cut to decode.max_record_bytes (8 MB) for its dead
    // letter: a few copies of it would show here.
    assert!(
        peak - before < 260.0,
        "{before:.0} MB before, {peak:.0} MB after"
    );
    drop(writer);
    assert!(eddy.wait_exit(Duration::from_secs(60)).success());

    let dead = lines(&dead);
    let reasons: Vec<&str> = dead.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        [
            format!(
                "the record is {} bytes, over decode.max_record_bytes (8388608)",
                (100 << 20) + 32
            ),
            format!(
                "key field /key is {} bytes, over decode.max_key_bytes (65536)",
                1 << 20
            ),
        ],
        "reasons in input order"
    );
    let cut = dead[0]["event"].as_str().map_or(0, str::len);
    assert_eq!(
        cut,
        8 << 20,
        "the oversized record is dead-lettered cut to the limit"
    );
    let counts: Vec<(String, f64)> = lines(&results)
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or("").to_string(),
                r["n"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    assert_eq!(counts, [("k0".to_string(), 2.0), ("k1".to_string(), 1.0)]);
}

#[test]
fn events_beyond_max_open_groups_are_dead_lettered_and_the_rest_counted_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (results, dead) = (
        dir.path().join("results.jsonl"),
        dir.path().join("dead.jsonl"),
    );
    let config = dir.path().join("groups.yaml");
    let events = 100_000;
    std::fs::write(
        &config,
        format!(
            "source: {{ type: generator, events: {events}, keys: 100000, events_per_step: {events}, start_ms: 0, max_disorder_ms: 0 }}\n\
             decode: {{ key: /key, time: /ts }}\n\
             window: {{ type: tumbling, size: 10s }}\n\
             aggregates:\n  - {{ name: n, plugin: count }}\n\
             state: {{ max_open_groups: 20000 }}\n\
             sink: {{ type: file, path: {} }}\n\
             dead_letter: {{ type: file, path: {} }}\n",
            results.display(),
            dead.display(),
        ),
    )
    .expect("config written");
    let output = Command::new(eddy_tests::process::eddy_binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("EDDY_PLUGINS__DIR", eddy_tests::plugin_dir())
        .output()
        .expect("eddy run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = lines(&results);
    assert_eq!(
        results.len(),
        20_000,
        "one result per group the limit allowed"
    );
    let counted: f64 = results.iter().filter_map(|r| r["n"].as_f64()).sum();
    let dead = lines(&dead);
    assert!(
        dead.iter().all(|d| d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("state.max_open_groups (20000)"))),
        "{:?}",
        dead.first()
    );
    assert!(!dead.is_empty());
    assert_eq!(
        counted as usize + dead.len(),
        events,
        "every event counted or dead-lettered, none twice"
    );
}
