//! Health, metrics and the admin API serve every source, not only Kafka: `eddy run` reading a
//! file (a named pipe here, so the run stays open while it is asked) answers `/health/ready`,
//! `/metrics` and `/v1/pipelines`, writes its results when the file ends, and closes the
//! endpoint on the way out.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use eddy_tests::process::{Eddy, http_get, http_request};

#[test]
fn a_file_source_serves_health_metrics_and_the_admin_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("events.fifo");
    let results = dir.path().join("results.jsonl");
    let made = Command::new("mkfifo").arg(&input).status().expect("mkfifo");
    assert!(made.success());
    let config = dir.path().join("file.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{ type: file, path: {} }}\n\
             decode: {{ key: /key, time: /ts }}\n\
             window: {{ type: tumbling, size: 10s }}\n\
             aggregates:\n  - {{ name: n, plugin: count }}\n\
             sink: {{ type: file, path: {} }}\n\
             admin: {{ registry_dir: {} }}\n",
            input.display(),
            results.display(),
            dir.path().join("registry").display()
        ),
    )
    .expect("config written");
    let mut eddy = Eddy::run(&config, "unused:9092", &[]);
    // Opening the pipe for writing lets the source's open go through.
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&input)
        .expect("the pipe opens");
    eddy.wait_ready(Duration::from_secs(60));
    let port = eddy.port();
    let live = http_get(port, "/health/live").expect("live answers");
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    let metrics = http_get(port, "/metrics").expect("metrics answer");
    assert!(metrics.contains("eddy_records_in_total"), "{metrics}");
    let (status, body) = http_request(port, "GET", "/v1/pipelines", &[], b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("aggregates.n"), "{body}");
    for i in 0..100 {
        writeln!(writer, r#"{{"key":"k{}","ts":{}}}"#, i % 2, i * 10).expect("written");
    }
    drop(writer);
    let status = eddy.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    let written = std::fs::read_to_string(&results).expect("results");
    let counts: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON result"))
        .collect();
    assert_eq!(counts.len(), 2, "{written}");
    assert!(counts.iter().all(|r| r["n"] == 50), "{written}");
    assert!(
        http_get(port, "/health/live").is_none(),
        "the endpoint is closed once the run ended"
    );
}
