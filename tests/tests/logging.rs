//! `log.format: json` writes one JSON object per log line on standard error, and `EDDY_LOG`
//! filters what is written.

use std::process::Command;

use eddy_tests::plugin_dir;
use eddy_tests::process::eddy_binary;
use serde_json::Value;

fn run(env: &[(&str, &str)]) -> (String, String) {
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        "{\"key\":\"a\",\"ts\":1000}\n{\"key\":\"a\",\"ts\":2000}\n",
    )
    .expect("input");
    let config = dir.path().join("eddy.yaml");
    std::fs::write(
        &config,
        format!(
            "source: {{ type: file, path: {} }}\nlog: {{ format: json }}\n",
            input.display()
        ),
    )
    .expect("config");
    let mut command = Command::new(eddy_binary());
    command
        .args(["run", "--config"])
        .arg(&config)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .env_remove("EDDY_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("eddy runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn json_log_lines_are_json_and_the_filter_applies() {
    let (stdout, stderr) = run(&[]);
    assert!(
        stdout.contains("\"key\":\"a\""),
        "results on stdout: {stdout}"
    );
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "pipeline finished")
        .expect("a pipeline finished line");
    assert_eq!(finished["level"], "INFO");
    assert_eq!(finished["fields"]["records_in"], 2);

    let (_, quiet) = run(&[("EDDY_LOG", "warn")]);
    assert!(
        !quiet.contains("pipeline finished"),
        "EDDY_LOG=warn filters info out: {quiet}"
    );
    let (_, human) = run(&[("EDDY_LOG__FORMAT", "human")]);
    assert!(
        human.contains("pipeline finished") && !human.trim_start().starts_with('{'),
        "{human}"
    );
}
