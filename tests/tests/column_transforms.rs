//! Column transforms (the `column-transform` world): the example column filter and map give
//! what their payload twins give, row by row and through a whole pipeline, including records
//! without the field, with nulls, with values of another type and records that are not JSON.

use eddy::plugin::{PluginError, Runtime, TransformPlugin};
use eddy_engine::config::{Config, FileMode, SideOutputConfig, SinkConfig};
use eddy_engine::event::RawBatch;
use eddy_tests::{example, plugin_dir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn runtime() -> Runtime {
    Runtime::new(&eddy_engine::config::PluginsConfig {
        dir: plugin_dir(),
        ..Default::default()
    })
    .expect("runtime")
}

fn stage(runtime: &Runtime, example_name: &str, config: &str) -> TransformPlugin {
    let path = example(example_name);
    let loaded = runtime
        .load(path.to_str().expect("utf-8 path"))
        .expect("loads");
    TransformPlugin::new(runtime, &loaded, config).expect("configures")
}

/// Records of every shape a field can have: numbers, integers, nulls, strings, booleans,
/// objects, missing, escaped names, a byte-order mark, and records that are not JSON objects.
fn edge_cases() -> Vec<Vec<u8>> {
    let fixed: [&[u8]; 18] = [
        br#"{"key":"a","v":2}"#,
        br#"{"key":"a","v":-0.5}"#,
        br#"{"key":"a","v":0}"#,
        br#"{"key":"a","v":null}"#,
        br#"{"key":"a","v":"12"}"#,
        br#"{"key":"a","v":true}"#,
        br#"{"key":"a","v":{"x":1}}"#,
        br#"{"key":"a"}"#,
        br#"{"key":"a","\u0076":5}"#,
        br#"{"key":"a","v":1e400}"#,
        br#"{"key":"a","v":3,"v":-3}"#,
        b"\xEF\xBB\xBF{\"key\":\"a\",\"v\":4}",
        br#"[1,2]"#,
        b"not json",
        br#"{"key":"a","v":7"#,
        b"",
        br#"{"key":"a","v":1.0E2}"#,
        br#" { "key" : "a" , "v" : 9 } "#,
    ];
    let mut rows: Vec<Vec<u8>> = fixed.iter().map(|r| r.to_vec()).collect();
    let mut rng = StdRng::seed_from_u64(28);
    for i in 0..2_000 {
        let v = match rng.random_range(0..10) {
            0 => "null".to_string(),
            1 => format!("\"{}\"", rng.random_range(-5..5)),
            2 => String::new(),
            _ => format!("{}", rng.random_range(-1000..1000) as f64 / 8.0),
        };
        let row = if v.is_empty() {
            format!(r#"{{"key":"k{}","other":{i}}}"#, i % 7)
        } else {
            format!(r#"{{"key":"k{}","v":{v},"n":{i}}}"#, i % 7)
        };
        rows.push(row.into_bytes());
    }
    rows
}

fn batch(rows: &[Vec<u8>]) -> RawBatch {
    let mut batch = RawBatch::default();
    for (i, row) in rows.iter().enumerate() {
        batch.push_at(row, i as i64, i as i64);
    }
    batch
}

fn payloads(batch: &RawBatch) -> Vec<&[u8]> {
    (0..batch.len()).map(|row| batch.payload(row)).collect()
}

#[test]
fn the_column_filter_keeps_exactly_what_the_payload_filter_keeps() {
    let runtime = runtime();
    for min in ["0", "-1", "2.5", "100"] {
        let config = format!(r#"{{"field":"/v","min":{min}}}"#);
        let mut payload = stage(&runtime, "threshold-filter", &config);
        let mut columns = stage(&runtime, "column-threshold-filter", &config);
        // The record with a byte-order mark is the one difference, on purpose: the payload
        // filter's serde_json refuses it, the column filter reads it as the decoder does.
        let (bom, rows): (Vec<_>, Vec<_>) = edge_cases()
            .into_iter()
            .partition(|r| r.starts_with(b"\xEF\xBB\xBF"));
        let input = batch(&rows);
        let want = payload.process(&input).expect("payload filter runs");
        let got = columns.process(&input).expect("column filter runs");
        assert!(!want.is_empty() && want.len() < input.len(), "min {min}");
        let shown = |b: &RawBatch| -> Vec<String> {
            payloads(b)
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        };
        assert_eq!(shown(&got), shown(&want), "min {min}");
        assert_eq!(got.timestamps, want.timestamps, "min {min}");
        assert_eq!(got.source_offsets, want.source_offsets, "min {min}");
        let bom = batch(&bom);
        assert_eq!(payload.process(&bom).expect("runs").len(), 0);
        let kept = columns.process(&bom).expect("runs").len();
        assert_eq!(
            kept,
            usize::from(4.0 >= min.parse::<f64>().unwrap_or(0.0)),
            "min {min}"
        );
    }
}

#[test]
fn the_column_map_sets_what_the_payload_map_sets() {
    let runtime = runtime();
    let config = r#"{"set":{"tag":"x\"y","v":1.5,"nested":{"a":[1,null]},"a/b":true}}"#;
    let mut payload = stage(&runtime, "enrich-map", config);
    let mut columns = stage(&runtime, "column-enrich-map", config);
    let objects: Vec<Vec<u8>> = edge_cases()
        .into_iter()
        // The payload map refuses a record with a byte-order mark (serde_json does); the column
        // map, reading as the decoder does, skips it. Only records both take are compared.
        .filter(|row| serde_json::from_slice::<Value>(row).is_ok_and(|v| v.is_object()))
        .collect();
    let input = batch(&objects);
    let want = payload.process(&input).expect("payload map runs");
    let got = columns.process(&input).expect("column map runs");
    assert_eq!(got.len(), want.len());
    assert_eq!(got.timestamps, want.timestamps);
    assert_eq!(got.source_offsets, want.source_offsets);
    for row in 0..got.len() {
        let parse = |bytes: &[u8]| -> Value {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            serde_json::from_slice(bytes).expect("JSON")
        };
        assert_eq!(
            parse(got.payload(row)),
            parse(want.payload(row)),
            "row {row}: {}",
            String::from_utf8_lossy(got.payload(row))
        );
    }
    // A record that is not a JSON object rejects the batch, as with the payload map.
    let bad = batch(&[br#"{"a":1}"#.to_vec(), b"[1]".to_vec()]);
    assert!(matches!(
        payload.process(&bad),
        Err(PluginError::Failed { .. })
    ));
    assert!(matches!(
        columns.process(&bad),
        Err(PluginError::Failed { .. })
    ));
}

/// Runs the file pipeline with `filter` and `map` in front of aggregates that read the field
/// the filter reads and the field the map sets; returns results and dead letters.
fn run_pipeline(dir: &std::path::Path, filter: &str, map: &str) -> (String, usize) {
    let input = dir.join("in.jsonl");
    let mut lines = Vec::new();
    // Without the byte-order mark record: the payload map would reject its whole batch.
    let rows = edge_cases().into_iter().filter(|r| !r.starts_with(b"\xEF"));
    for (i, row) in rows.enumerate() {
        // Every record gets a time; the edge cases keep their shape otherwise.
        let text = String::from_utf8_lossy(&row).to_string();
        let timed = text.replacen(r#""key":"#, &format!(r#""ts":{},"key":"#, i * 10), 1);
        lines.push(timed);
    }
    std::fs::write(&input, lines.join("\n")).expect("write");
    let yaml = format!(
        r#"
source: {{ type: file, path: {input:?} }}
decode: {{ key: /key, time: /ts }}
transforms:
  - plugin: {filter:?}
    config: {{ field: /v, min: -10 }}
  - plugin: {map:?}
    config: {{ set: {{ w: 2, v: 1 }} }}
window: {{ type: tumbling, size: 1s }}
watermark: {{ out_of_orderness: 0s }}
aggregates:
  - {{ name: n, plugin: count }}
  - {{ name: w, plugin: sum, field: /w }}
  - {{ name: v, plugin: max, field: /v }}
"#,
        filter = example(filter),
        map = example(map),
    );
    let mut config = Config::from_yaml(&yaml).expect("config");
    config.plugins.dir = plugin_dir();
    config.sink = SinkConfig::File {
        path: dir.join("out.jsonl"),
        mode: FileMode::Truncate,
    };
    config.dead_letter = SideOutputConfig::File {
        path: dir.join("dead.jsonl"),
        mode: FileMode::Truncate,
    };
    eddy::app::run(&config, &eddy::app::StopFlag::default()).expect("runs");
    let out = std::fs::read_to_string(dir.join("out.jsonl")).expect("results");
    let dead = std::fs::read_to_string(dir.join("dead.jsonl")).unwrap_or_default();
    (out, dead.lines().count())
}

#[test]
fn a_pipeline_with_column_stages_writes_what_the_payload_pipeline_writes() {
    let payload_dir = tempfile::tempdir().expect("tempdir");
    let columns_dir = tempfile::tempdir().expect("tempdir");
    let (want, want_dead) = run_pipeline(payload_dir.path(), "threshold-filter", "enrich-map");
    let (got, got_dead) = run_pipeline(
        columns_dir.path(),
        "column-threshold-filter",
        "column-enrich-map",
    );
    let results: Vec<Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(results.len() > 10, "{got}");
    assert!(
        results
            .iter()
            .all(|r| r["v"].as_f64() == Some(1.0)
                && r["w"].as_f64() == r["n"].as_f64().map(|n| n * 2.0)),
        "every kept event has w = 2 and v = 1 set by the map: {got}"
    );
    assert_eq!(got, want);
    assert_eq!(got_dead, want_dead);
}
