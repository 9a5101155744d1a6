//! What a new user runs into first (issue 24): `eddy validate` naming the bad key, results
//! from an open stdin, the demo's stdout, built-in plugins found outside the repository, file
//! outputs that start empty.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use eddy_tests::plugin_dir;
use eddy_tests::process::eddy_binary;
use eddy_tests::repo_root;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn validate(config: &Path) -> Output {
    Command::new(eddy_binary())
        .args(["validate", "--config"])
        .arg(config)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .env("EDDY_LOG", "warn")
        .current_dir(repo_root())
        .output()
        .expect("eddy validate runs")
}

fn assert_refused(config: &Path, key: &str) {
    let output = validate(config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "eddy validate accepted {}: {stderr}",
        config.display()
    );
    assert!(
        stderr.contains(key),
        "stderr does not name `{key}`: {stderr}"
    );
}

#[test]
fn validate_names_the_key_of_a_plugin_that_cannot_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = write(
        dir.path(),
        "missing.yaml",
        "source: { type: stdin }\naggregates:\n  - { name: spread, plugin: /nonexistent/spread.wasm, field: /amount }\n",
    );
    assert_refused(&missing, "aggregates.spread.plugin");
    let typo = write(
        dir.path(),
        "typo.yaml",
        "source: { type: stdin }\naggregates:\n  - { name: mid, plugin: medain, field: /amount }\n",
    );
    assert_refused(&typo, "aggregates.mid.plugin");
    let quantile = write(
        dir.path(),
        "quantile.yaml",
        "source: { type: stdin }\naggregates:\n  - { name: p, plugin: percentile, field: /amount, config: { quantiles: [1.5] } }\n",
    );
    assert_refused(&quantile, "aggregates.p.config");
    let fine = write(
        dir.path(),
        "fine.yaml",
        "source: { type: stdin }\naggregates:\n  - { name: p, plugin: percentile, field: /amount, config: { quantiles: [0.5] } }\n",
    );
    let output = validate(&fine);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_window_closed_on_an_open_stdin_is_written_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write(
        dir.path(),
        "stdin.yaml",
        "source: { type: stdin }\nwindow: { type: tumbling, size: 10s }\nwatermark: { out_of_orderness: 0s }\n",
    );
    let mut child = Command::new(eddy_binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .env("EDDY_LOG", "warn")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("eddy run starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    stdin
        .write_all(b"{\"key\":\"a\",\"ts\":1000}\n{\"key\":\"a\",\"ts\":2000}\n{\"key\":\"a\",\"ts\":25000}\n")
        .expect("events written");
    stdin.flush().expect("flushed");
    let line = received.recv_timeout(Duration::from_secs(5));
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let line = line.expect("no result within 5 s while stdin stays open");
    let result: serde_json::Value = serde_json::from_str(&line).expect("a JSON result");
    assert_eq!(result["key"], "a");
    assert_eq!(result["window_start"], 0);
    assert_eq!(result["count"], 2.0, "{result}");
}

#[test]
fn the_demo_writes_only_results_to_stdout() {
    let output = Command::new(eddy_binary())
        .args(["demo", "--events", "2000", "--keys", "2"])
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .env("EDDY_LOG", "info")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("eddy demo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
    let mut results = 0;
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert!(
            value.get("key").is_some() && value.get("window_start").is_some(),
            "stdout line is not a result: {line}"
        );
        results += 1;
    }
    assert!(results > 0, "the demo printed no results");
}

/// `scripts/demo.sh` sets up and builds before it runs the demo: everything it runs before
/// `eddy demo` sends its output to stderr, so the script's stdout is the demo's results only
/// (`scripts/demo.sh | jq .`). Running the script itself would build inside the test; the
/// binary's own stdout is checked above.
#[test]
fn the_demo_script_sends_setup_and_build_output_to_stderr() {
    let script = std::fs::read_to_string(repo_root().join("scripts/demo.sh")).expect("demo.sh");
    let commands: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.starts_with("set ") && !l.starts_with("cd ") && !l.starts_with("source "))
        .collect();
    let (last, setup) = commands.split_last().expect("commands");
    assert!(
        last.contains(" demo "),
        "the script ends by running the demo: {last}"
    );
    for command in setup {
        assert!(
            command.ends_with(">&2"),
            "`{command}` writes to the demo's stdout (send it to stderr)"
        );
    }
}

/// The `eddy` binary hard-linked into `dir` (so that "beside the executable" is `dir`).
fn binary_in(dir: &Path) -> std::path::PathBuf {
    let exe = dir.join("eddy");
    if std::fs::hard_link(eddy_binary(), &exe).is_err() {
        std::fs::copy(eddy_binary(), &exe).expect("eddy copied");
    }
    exe
}

fn run_in(exe: &Path, cwd: &Path, config: &Path) -> Output {
    Command::new(exe)
        .args(["run", "--config"])
        .arg(config)
        .env_remove("EDDY_PLUGINS__DIR")
        .env("EDDY_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("eddy run runs")
}

#[test]
fn built_in_plugins_are_found_beside_the_binary_from_any_directory() {
    let install = tempfile::tempdir().expect("temp dir");
    let exe = binary_in(install.path());
    let plugins = install.path().join("plugins");
    std::fs::create_dir(&plugins).expect("plugins dir");
    for name in ["count", "sum"] {
        let file = format!("{name}.wasm");
        std::fs::copy(plugin_dir().join(&file), plugins.join(&file)).expect("plugin copied");
    }
    let work = tempfile::tempdir().expect("temp dir");
    write(
        work.path(),
        "events.jsonl",
        "{\"key\":\"a\",\"ts\":1000,\"amount\":2}\n{\"key\":\"a\",\"ts\":2000,\"amount\":3}\n",
    );
    let config = write(
        work.path(),
        "count.yaml",
        "source: { type: file, path: events.jsonl }\naggregates:\n  - { name: n, plugin: count }\n  - { name: total, plugin: sum, field: /amount }\n",
    );
    let output = run_in(&exe, work.path(), &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON result");
    assert_eq!(result["n"], 2.0, "{result}");
    assert_eq!(result["total"], 5.0, "{result}");
}

#[test]
fn file_outputs_are_emptied_at_start_unless_appending() {
    let work = tempfile::tempdir().expect("temp dir");
    write(
        work.path(),
        "events.jsonl",
        "{\"key\":\"a\",\"ts\":1000}\nnot json\n",
    );
    let config = |mode: &str| {
        write(
            work.path(),
            "files.yaml",
            &format!(
                "source: {{ type: file, path: events.jsonl }}\n\
                 sink: {{ type: file, path: out.jsonl{mode} }}\n\
                 dead_letter: {{ type: file, path: dead.jsonl{mode} }}\n\
                 plugins: {{ dir: {} }}\n",
                plugin_dir().display()
            ),
        )
    };
    let lines = |name: &str| {
        std::fs::read_to_string(work.path().join(name))
            .expect("output file")
            .lines()
            .count()
    };
    std::fs::write(work.path().join("out.jsonl"), "old result\n").expect("old output");
    std::fs::write(work.path().join("dead.jsonl"), "old dead letter\n").expect("old output");
    for (mode, results) in [
        ("", 1),
        ("", 1),
        (", mode: append", 2),
        (", mode: truncate", 1),
    ] {
        let output = run_in(&eddy_binary(), work.path(), &config(mode));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            lines("out.jsonl"),
            results,
            "results after a run with `{mode}`"
        );
        assert_eq!(
            lines("dead.jsonl"),
            results,
            "dead letters after a run with `{mode}`"
        );
    }
    let first = std::fs::read_to_string(work.path().join("out.jsonl")).expect("output");
    assert!(first.starts_with('{'), "{first}");
}

#[test]
fn the_embedded_cluster_says_where_it_listens_and_takes_records_from_outside() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let work = tempfile::tempdir().expect("temp dir");
    let config = write(
        work.path(),
        "embedded.yaml",
        "source: { type: kafka, topic: events }\nkafka: { brokers: embedded, start: earliest, embedded_partitions: 1 }\nwatermark: { out_of_orderness: 0s }\n",
    );
    let mut child = Command::new(eddy_binary())
        .args(["run", "--config"])
        .arg(&config)
        .env("EDDY_PLUGINS__DIR", plugin_dir())
        .env("EDDY_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eddy run starts");
    let stderr = child.stderr.take().expect("stderr");
    let stdout = child.stdout.take().expect("stdout");
    let (logs, logged) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = logs.send(line);
        }
    });
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let brokers = loop {
        let Ok(line) = logged.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("no log line names the embedded cluster's address");
        };
        if line.contains("embedded Kafka cluster started") {
            let address = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("brokers="))
                .map(str::to_string);
            break address.unwrap_or_else(|| panic!("no brokers= in {line}"));
        }
    };
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    for (ts, key) in [(1000, "a"), (2000, "a"), (25_000, "b")] {
        let payload = format!("{{\"key\":\"{key}\",\"ts\":{ts}}}");
        producer
            .send(BaseRecord::to("events").key(key).payload(&payload))
            .expect("queued");
    }
    producer.flush(Duration::from_secs(10)).expect("produced");
    let line = received.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("no result from records produced from outside");
    let result: serde_json::Value = serde_json::from_str(&line).expect("a JSON result");
    assert_eq!(result["key"], "a", "{result}");
    assert_eq!(result["count"], 2.0, "{result}");
}

#[test]
fn input_edges_are_never_silent() {
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        work.path().join("events.jsonl"),
        b"\xEF\xBB\xBF{\"key\":\"a\",\"ts\":1000,\"amount\":2}\n\n{\"key\":\"a\",\"ts\":2000,\"amount\":\"12\"}\n  \n\xff\xfe\n",
    )
    .expect("events");
    let config = write(
        work.path(),
        "types.yaml",
        &format!(
            "source: {{ type: file, path: events.jsonl }}\n\
             aggregates:\n  - {{ name: total, plugin: sum, field: /amount }}\n\
             dead_letter: {{ type: file, path: dead.jsonl }}\n\
             plugins: {{ dir: {} }}\n",
            plugin_dir().display()
        ),
    );
    let output = run_in(&eddy_binary(), work.path(), &config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON result");
    assert_eq!(result["total"], 2.0, "the first line decodes: {result}");
    let dead = std::fs::read_to_string(work.path().join("dead.jsonl")).expect("dead letters");
    let dead: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let reason = dead[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("/amount") && reason.contains("not a number"),
        "{reason}"
    );
    assert_eq!(dead[0]["line"], 3, "the file's line number: {}", dead[0]);
    // Not UTF-8: the original bytes, in base64.
    assert_eq!(dead[1]["event_base64"], "//4=", "{}", dead[1]);
    assert_eq!(dead[1]["line"], 5, "{}", dead[1]);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("blank_lines=2"),
        "blank lines are counted: {log}"
    );
}
